"""An Optuna storage that shows one study with extra trials in front: how a sampler sees a
warm-started study (see :mod:`hpo.service._warm_start_sampler`).

Everything is delegated to the study's real storage except the list of the study's trials,
which starts with the prior trials (numbered -n..-1) and continues with the study's own,
passed through ``transform``. Writes go to the real storage (a sampler records its state on
the trial it samples for), so nothing about the priors is ever stored.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Container, Sequence

from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

from hpo._optuna_adapter import ForwardingStorage


class PriorStorage(ForwardingStorage):
    """``inner`` with ``priors`` in front of study ``study_id``'s trials."""

    def __init__(
        self,
        inner: BaseStorage,
        study_id: int,
        priors: Sequence[FrozenTrial],
        transform: Callable[[FrozenTrial], FrozenTrial],
    ) -> None:
        super().__init__(inner)
        self._study_id = study_id
        self._priors = list(priors)
        self._transform = transform

    def get_all_trials(
        self,
        study_id: int,
        deepcopy: bool = True,
        states: Container[TrialState] | None = None,
    ) -> list[FrozenTrial]:
        trials = self._inner.get_all_trials(study_id, deepcopy=False, states=states)
        if study_id == self._study_id:
            own = [self._transform(t) for t in trials]
            trials = [t for t in self._priors if states is None or t.state in states] + own
        return copy.deepcopy(trials) if deepcopy else trials
