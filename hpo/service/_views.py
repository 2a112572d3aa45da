"""What the study service returns: frozen views the servicer encodes for the wire."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from optuna.study import StudyDirection
from optuna.trial import FrozenTrial

from hpo._optuna_adapter import trial_id
from hpo._wire import FAIL_REASON_ATTR
from hpo.service._config import StudyConfig
from hpo.service._warm_start import WarmStartRecord
from hpo.storage._trial_log import split_trial_id

# Trial system attributes hpo writes (Optuna's own names where Optuna has one).
RETRY_HISTORY_ATTR = "retry_history"  # as optuna.storages.RetryFailedTrialCallback
ORIGINAL_TRIAL_ATTR = "failed_trial"  # as optuna.storages.RetryFailedTrialCallback


@dataclass(frozen=True)
class StudyView:
    name: str
    directions: Sequence[StudyDirection]
    config: StudyConfig
    trial_counts: Mapping[str, int]
    study_id: int = 0
    warm_start: WarmStartRecord | None = None


@dataclass(frozen=True)
class TrialView:
    """A trial as the service hands it out: to the wire, and to the tracking and registry
    services (which key their rows by ``study_id`` and ``trial_id``)."""

    study: str
    trial: FrozenTrial
    client_id: str = ""

    @property
    def study_id(self) -> int:
        return split_trial_id(self.trial_id)[0]

    @property
    def trial_id(self) -> int:
        """The storage's id of the trial (for the tracking and registry rows)."""
        return trial_id(self.trial)

    @property
    def fail_reason(self) -> str:
        return str(self.trial.system_attrs.get(FAIL_REASON_ATTR, ""))

    @property
    def retry_of(self) -> int | None:
        history = self.trial.system_attrs.get(RETRY_HISTORY_ATTR)
        return int(history[-1]) if history else None


@dataclass(frozen=True)
class AskOutcome:
    trial: TrialView | None
    budget_spent: bool
    heartbeat_seconds: float
    #: Values chosen now for parameters the trial will most likely suggest (see
    #: hpo/service/_proposals.py); not part of the trial until a call sends them back.
    proposals: Sequence[Any] = ()


@dataclass(frozen=True)
class TrialPage:
    trials: Sequence[TrialView]
    next_offset: int | None
