"""Every place hpo relies on more of Optuna than its documented public API, in one module.

hpo supports a range of Optuna versions (see pyproject.toml); CI runs the storage
conformance and equivalence tests at both ends of it. Anything here is checked by
``tests/test_optuna_adapter.py`` so that an Optuna release that changes it fails loudly.
"""

from __future__ import annotations

from typing import Any

import optuna
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial

try:  # public from some release on; the storage interface returns it either way
    from optuna.study import FrozenStudy  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - depends on the installed Optuna
    from optuna.study._frozen import FrozenStudy

__all__ = ["FrozenStudy", "rebind_trial", "study_id", "study_storage", "trial_id"]


def trial_id(trial: FrozenTrial | Any) -> int:
    """The storage's id of a trial (``FrozenTrial`` and ``optuna.Trial`` keep it privately;
    Optuna's storage interface is keyed by it)."""
    return int(trial._trial_id)


def rebind_trial(trial: optuna.Trial, study: optuna.Study, storage: BaseStorage) -> optuna.Trial:
    """Point a running trial's Optuna object at another ``study`` object of the same study
    (a new unit of work), keeping what it cached (the relative sample of its first
    suggestion). ``Trial.study`` and ``Trial.storage`` are public attributes of Optuna's
    Trial; nothing else of it is touched."""
    trial.study = study
    trial.storage = storage
    return trial


def study_storage(study: optuna.Study) -> BaseStorage:
    """The storage an ``optuna.Study`` reads and writes through (samplers that must see
    other trials than the study's own wrap it; Optuna's samplers read it the same way)."""
    return study._storage  # type: ignore[no-any-return]


def study_id(study: optuna.Study) -> int:
    """The storage's id of a study (``optuna.Study`` keeps it privately; Optuna's storage
    interface is keyed by it)."""
    return int(study._study_id)
