"""``learning_curve``: stop a trial whose forecast final value is surely worse than the best."""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

import numpy as np
import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from hpo.pruners._curves import forecast

#: Points a curve needs before it is fitted; shorter curves borrow the completed trials' gains.
MIN_POINTS = 4


class LearningCurvePruner(optuna.pruners.BasePruner):
    """Prune a trial when its learning curve, extrapolated, ends worse than the best trial.

    The trial's *optimistic final value* is estimated at the *target step* (``max_step`` when
    given, else the last step reached by any completed trial), and the trial is pruned when
    even that is worse than the best final value of the completed trials (their last
    intermediate value, or their value if they reported none):

    - a curve of at least four finite values is fitted with a small weighted family of
      parametric curves (pow3, exp3, log-linear; weights by AICc); the optimistic value is
      the one-sided ``confidence`` bound of the forecast (normal; its spread from the
      residuals, the fit's parameter uncertainty and the models' disagreement);
    - a shorter curve borrows from the completed trials: its latest value plus the
      improvement from that step to the end that a ``confidence`` share of them did not
      exceed (with few completed trials, the largest), never less than zero.

    As with Optuna's ``MedianPruner``: nothing is pruned before ``n_startup_trials`` trials
    completed, before step ``n_warmup_steps`` (``n_warmup_steps=3`` leaves every decision
    to the trial's own fitted curve), or between checks every ``interval_steps``; a trial
    whose latest value is NaN is pruned. A trial at or past the target step is never pruned.
    Decisions depend only on the study's trials, so any coordinator replaying the same study
    decides the same way.

    Args:
        confidence: probability, in (0, 1), that the trial would indeed end worse than the
            best before it is pruned. Higher prunes later and more safely.
        n_startup_trials: completed trials needed before anything is pruned (>= 1).
        n_warmup_steps: steps before which a trial is never pruned (>= 0).
        interval_steps: check every this many steps after the warm-up (>= 1).
        max_step: the step at which a trial ends; default: the last step that any completed
            trial reported.
    """

    def __init__(
        self,
        confidence: float = 0.95,
        n_startup_trials: int = 5,
        n_warmup_steps: int = 0,
        interval_steps: int = 1,
        max_step: int | None = None,
    ) -> None:
        self.confidence = _probability("confidence", confidence)
        self.n_startup_trials = _integer("n_startup_trials", n_startup_trials, minimum=1)
        self.n_warmup_steps = _integer("n_warmup_steps", n_warmup_steps, minimum=0)
        self.interval_steps = _integer("interval_steps", interval_steps, minimum=1)
        self.max_step = None if max_step is None else _integer("max_step", max_step, minimum=1)
        self._z = NormalDist().inv_cdf(self.confidence)

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        step = trial.last_step
        if step is None or not self._is_check_step(trial, step):
            return False
        completed = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if len(completed) < self.n_startup_trials:
            return False
        if math.isnan(trial.intermediate_values[step]):
            return True
        maximize = study.direction == StudyDirection.MAXIMIZE
        best = _best_final_value(completed, maximize)
        target = self.max_step if self.max_step is not None else _last_step(completed)
        if best is None or target is None or step >= target:
            return False
        sign = 1.0 if maximize else -1.0
        optimistic = self._optimistic_final(trial, completed, target, sign)
        # A tie is no evidence: only a margin beyond rounding error prunes.
        margin = 1e-9 * max(1.0, abs(best))
        return optimistic is not None and sign * (best - optimistic) > margin

    def _optimistic_final(
        self, trial: FrozenTrial, completed: list[FrozenTrial], target: int, sign: float
    ) -> float | None:
        steps = sorted(s for s, v in trial.intermediate_values.items() if math.isfinite(v))
        values = [trial.intermediate_values[s] for s in steps]
        if len(steps) >= MIN_POINTS:
            predicted = forecast(steps, values, target)
            if predicted is None:
                return None
            return predicted.mean + sign * self._z * predicted.std
        if not steps:
            return None
        gains = _gains_after(steps[-1], completed, sign)
        if len(gains) < self.n_startup_trials:
            return None
        gain = float(np.quantile(gains, self.confidence, method="higher"))
        return values[-1] + sign * max(gain, 0.0)

    def _is_check_step(self, trial: FrozenTrial, step: int) -> bool:
        """Past the warm-up, and the first report in its interval (steps may be skipped)."""
        if step < self.n_warmup_steps:
            return False
        if self.interval_steps == 1:
            return True
        interval = (step - self.n_warmup_steps) // self.interval_steps
        earlier = [s for s in trial.intermediate_values if self.n_warmup_steps <= s < step]
        return not earlier or (max(earlier) - self.n_warmup_steps) // self.interval_steps < interval


def _best_final_value(completed: list[FrozenTrial], maximize: bool) -> float | None:
    finals = []
    for t in completed:
        if t.last_step is not None:
            finals.append(t.intermediate_values[t.last_step])
        elif t.value is not None:
            finals.append(t.value)
    finals = [v for v in finals if math.isfinite(v)]
    if not finals:
        return None
    return max(finals) if maximize else min(finals)


def _gains_after(step: int, completed: list[FrozenTrial], sign: float) -> list[float]:
    """How much each completed trial improved from ``step`` to its end (in the study's
    direction), from its value at ``step`` or the last step it reported before."""
    gains = []
    for t in completed:
        earlier = [s for s in t.intermediate_values if s <= step]
        if not earlier or t.last_step is None or t.last_step <= step:
            continue
        start, end = t.intermediate_values[max(earlier)], t.intermediate_values[t.last_step]
        if math.isfinite(start) and math.isfinite(end):
            gains.append(sign * (end - start))
    return gains


def _last_step(completed: list[FrozenTrial]) -> int | None:
    steps = [t.last_step for t in completed if t.last_step is not None]
    return max(steps) if steps else None


def _probability(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise ValueError(f"{name} must be a number between 0 and 1 (exclusive), not {value!r}")
    return float(value)


def _integer(name: str, value: Any, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, not {value!r}")
    return value
