"""Successive halving by Pareto rank: a pruner for studies with several directions.

Optuna's pruners compare one intermediate value; this one compares the vectors a trial
reports (one value per direction, see :mod:`hpo.service._reports`). As Optuna's
``SuccessiveHalvingPruner``: rung ``k`` is reached at step
``min_resource * reduction_factor ** (min_early_stopping_rate + k)``; a trial that reaches
it is compared with every trial that reached it before, by non-dominated sorting (the
Pareto front first, then the front behind it, ...), and goes on only if it is among the top
``1 / reduction_factor`` of them (ties within a front go on; with fewer than
``reduction_factor`` trials at the rung, only the first front goes on). The vector at each
rung and the decision are recorded on the trial (system attribute ``hpo:pareto_rung:k``), so
a retried Report gets the same answer and any coordinator reaches the same decisions.

With one direction it behaves as successive halving on that value.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import optuna
from optuna.pruners import BasePruner
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial

from hpo._optuna_adapter import study_storage, trial_id
from hpo.service._reports import reported_vectors

RUNG_PREFIX = "hpo:pareto_rung:"


class ParetoSuccessiveHalvingPruner(BasePruner):
    """Successive halving by non-dominated rank at each rung (see the module docstring)."""

    def __init__(
        self, min_resource: int = 1, reduction_factor: int = 3, min_early_stopping_rate: int = 0
    ) -> None:
        if min_resource < 1:
            raise ValueError(f"min_resource must be >= 1, not {min_resource}")
        if reduction_factor < 2:
            raise ValueError(f"reduction_factor must be >= 2, not {reduction_factor}")
        if min_early_stopping_rate < 0:
            raise ValueError(f"min_early_stopping_rate must be >= 0, not {min_early_stopping_rate}")
        self._min_resource = min_resource
        self._eta = reduction_factor
        self._rate = min_early_stopping_rate

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        directions = study.directions
        vectors = reported_vectors(trial, len(directions))
        if not vectors:
            return False
        step = max(vectors)
        vector = vectors[step]
        if any(np.isnan(vector)):
            return True
        others: list[FrozenTrial] | None = None
        rung = 0
        while True:
            if step < self._min_resource * self._eta ** (self._rate + rung):
                return False
            key = f"{RUNG_PREFIX}{rung}"
            recorded = trial.system_attrs.get(key)
            if recorded is None:
                if others is None:
                    others = [
                        t for t in study.get_trials(deepcopy=False) if t.number != trial.number
                    ]
                competing = [t.system_attrs[key]["v"] for t in others if key in t.system_attrs]
                promoted = promotable(vector, competing, self._eta, directions)
                recorded = {"v": list(vector), "promoted": promoted}
                study_storage(study).set_trial_system_attr(trial_id(trial), key, recorded)
            if not recorded["promoted"]:
                return True
            rung += 1


def promotable(
    vector: Sequence[float],
    competing: Sequence[Sequence[float]],
    reduction_factor: int,
    directions: Sequence[StudyDirection],
) -> bool:
    """Whether ``vector`` is among the top ``1 / reduction_factor`` of itself and
    ``competing`` by non-dominated rank (a whole front goes on when it straddles the cut)."""
    signs = np.array([-1.0 if d == StudyDirection.MAXIMIZE else 1.0 for d in directions])
    points = np.array([vector, *competing], dtype=float) * signs  # all minimized
    fronts = front_indices(points)
    keep = max(len(points) // reduction_factor, 1)
    cut = np.sort(fronts)[keep - 1]
    return bool(fronts[0] <= cut)


def front_indices(points: np.ndarray) -> np.ndarray:
    """Each point's non-dominated front (0: the Pareto front), all objectives minimized."""
    le = np.all(points[:, None, :] <= points[None, :, :], axis=2)
    lt = np.any(points[:, None, :] < points[None, :, :], axis=2)
    dominates = le & lt  # dominates[i, j]: i dominates j
    remaining = dominates.sum(axis=0)  # by how many not yet placed points each is dominated
    fronts = np.full(len(points), -1)
    level = 0
    while (fronts < 0).any():
        current = np.flatnonzero((remaining == 0) & (fronts < 0))
        fronts[current] = level
        remaining = remaining - dominates[current].sum(axis=0)
        level += 1
    return fronts


__all__ = ["ParetoSuccessiveHalvingPruner", "front_indices", "promotable"]
