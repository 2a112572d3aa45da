"""The Python SDK: study handles and trials that talk to a coordinator over gRPC."""

from __future__ import annotations

from hpo.client._connection import ClientSecurity, Connection, connect
from hpo.client._embedded import embedded_address, resolve_address
from hpo.client._frozen import frozen_trial_from_pb
from hpo.client._study import Study, create_study, load_study
from hpo.client._trial import Trial
from hpo.client._warm_start import WarmStartSource

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
