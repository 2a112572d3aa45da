"""The Python SDK: study handles and trials that talk to a coordinator over gRPC.

Names are imported when first used: ``hpo.client._embedded`` (where the embedded coordinator
is found, which a sweep asks before it starts Ray) then loads neither gRPC nor Optuna.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hpo._lazy import lazy_attribute

if TYPE_CHECKING:
    from hpo.client._connection import ClientSecurity, Connection, connect
    from hpo.client._embedded import embedded_address, resolve_address
    from hpo.client._frozen import frozen_trial_from_pb
    from hpo.client._study import Study, create_study, load_study
    from hpo.client._trial import Trial
    from hpo.client._warm_start import WarmStartSource

_MODULES = {
    "ClientSecurity": "hpo.client._connection",
    "Connection": "hpo.client._connection",
    "connect": "hpo.client._connection",
    "embedded_address": "hpo.client._embedded",
    "resolve_address": "hpo.client._embedded",
    "frozen_trial_from_pb": "hpo.client._frozen",
    "Study": "hpo.client._study",
    "create_study": "hpo.client._study",
    "load_study": "hpo.client._study",
    "Trial": "hpo.client._trial",
    "WarmStartSource": "hpo.client._warm_start",
}

__all__ = [
    "ClientSecurity",
    "Connection",
    "Study",
    "Trial",
    "WarmStartSource",
    "connect",
    "create_study",
    "embedded_address",
    "frozen_trial_from_pb",
    "load_study",
    "resolve_address",
]


def __getattr__(name: str) -> Any:
    return lazy_attribute(globals(), _MODULES, name)


def __dir__() -> list[str]:  # the lazy names too, for completion and help()
    return sorted({*globals(), *__all__})
