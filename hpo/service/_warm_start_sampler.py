"""Warm start as a sampler: earlier studies' completed trials inform a new study's sampler.

:class:`WarmStartSampler` wraps the study's own sampler. Source trials never become trials
of the study: the wrapped sampler sees them, and nothing else does (pruners, best trial,
budget and trial numbers are the study's own). Three phases, chosen by measurement
(``bench/_meta_warm_start.py``):

1. **Replay.** The study's first ``replay`` trials take the sources' best configurations
   (for several directions, points spread over their Pareto fronts), parameter by parameter
   as they are asked for, where a value lies in the study's distribution.
2. **Probe.** The next ``probe`` trials are the wrapped sampler's alone, as in a cold start:
   evidence the sources did not choose.
3. **Priors, guarded.** Then each source is judged on the study's own completed trials:
   its rating of each (the mean quantile of the nearest source trials) must rank their
   results with a Spearman correlation of at least ``MIN_AGREEMENT``, judged again as trials
   complete. A source that passes is shown to the wrapped sampler before the study's own
   trials (numbered -n..-1, so TPE weighs them as its oldest observations), every objective
   value replaced by its quantile within its own study: a source measured on another scale
   (another data set) stands on the same footing as the study's own trials, and TPE's
   good/bad split takes the best of each. A source that fails is set aside, so a misleading
   source costs at most the replayed trials.

Everything is derived from the trials themselves, so any coordinator that rebuilds the
sampler makes the same decisions.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
    check_distribution_compatibility,
)
from optuna.samplers import BaseSampler
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from hpo._optuna_adapter import study_id, study_storage
from hpo.service._prior_storage import PriorStorage

#: Sources whose ratings rank the own trials worse than this (Spearman) are set aside.
MIN_AGREEMENT = 0.3
#: Nearest source trials whose mean quantile rates an own trial.
NEIGHBOURS = 5
#: The study's first trials that replay the sources' best configurations.
DEFAULT_REPLAY = 3
#: The trials after those that the wrapped sampler chooses alone (the sources' judges).
DEFAULT_PROBE = 3
#: Most trials of one source the sampler sees (an even spread over its ranks).
MAX_SOURCE_TRIALS = 200


@dataclass(frozen=True)
class SourceTrials:
    """One warm-start source: its completed trials (values oriented as the new study's)."""

    study: str
    trials: Sequence[FrozenTrial]


@dataclass
class _Source:
    study: str
    trials: list[FrozenTrial]
    quantiles: np.ndarray  # (n trials, n objectives), 0 = worst ... 1 = best
    view: list[FrozenTrial] = field(default_factory=list)  # as the sampler sees them


class WarmStartSampler(BaseSampler):
    """``base`` informed by ``sources``; see the module docstring for how."""

    def __init__(
        self,
        base: BaseSampler,
        sources: Sequence[SourceTrials],
        directions: Sequence[StudyDirection],
        *,
        space: Mapping[str, BaseDistribution] | None = None,
        replay: int = DEFAULT_REPLAY,
        probe: int = DEFAULT_PROBE,
        priors: bool = True,
        guard: bool = True,
    ) -> None:
        self.base = base
        self._directions = list(directions)
        self._space = dict(space or {})
        self._sources = [_prepare(s, self._directions) for s in sources if s.trials]
        self._sources = [s for s in self._sources if s.trials]
        self._replay = _replay_configs(self._sources, replay)
        self._judge_from = len(self._replay) + probe
        self._judge_after = max(self._judge_from, 2)
        self._priors = priors
        self._guard = guard
        self._agreement: dict[str, float] = {}
        self._judged_at = -1

    # -- what it decided -------------------------------------------------------------------

    @property
    def source_names(self) -> list[str]:
        return [s.study for s in self._sources]

    def agreement(self) -> Mapping[str, float]:
        """Each judged source's Spearman agreement with the study's own trials so far."""
        return dict(self._agreement)

    def status(self, own: Sequence[FrozenTrial]) -> dict[str, str]:
        """How each source is used after the study's trials ``own``, in words."""
        complete = _complete(own)
        if len(own) < len(self._replay):
            now = f"replaying the sources' best configurations ({len(own)} of {len(self._replay)} asked)"
            return {s.study: now for s in self._sources}
        active = {s.study for s in self._active(own)}
        if not self._guard or len(complete) < self._judge_after:
            need = self._judge_after - len(complete)
            now = f"probing: used once {need} more trial(s) of this study complete"
            return {s.study: now if self._guard else "in use" for s in self._sources}
        out = {}
        for source in self._sources:
            rho = self._agreement[source.study]
            verdict = (
                "in use" if source.study in active else "set aside: this study's trials disagree"
            )
            out[source.study] = (
                f"{verdict} (Spearman {rho:+.2f} between its ratings and {len(complete)} "
                f"completed trials; needs {MIN_AGREEMENT:+.2f})"
            )
        return out

    # -- the sampler protocol --------------------------------------------------------------

    def reseed_rng(self) -> None:
        self.base.reseed_rng()

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return self.base.infer_relative_search_space(self._view(study, trial), trial)

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        replayed = self._replayed(trial, search_space)
        rest = {k: d for k, d in search_space.items() if k not in replayed}
        if not rest:
            return replayed
        return {**self.base.sample_relative(self._view(study, trial), trial, rest), **replayed}

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        replayed = self._replayed(trial, {param_name: param_distribution})
        if param_name in replayed:
            return replayed[param_name]
        return self.base.sample_independent(
            self._view(study, trial, {param_name: param_distribution}),
            trial,
            param_name,
            param_distribution,
        )

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self.base.before_trial(study, trial)

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self.base.after_trial(study, trial, state, values)

    # -- replay ----------------------------------------------------------------------------

    def _replayed(
        self, trial: FrozenTrial, space: Mapping[str, BaseDistribution]
    ) -> dict[str, Any]:
        if not 0 <= trial.number < len(self._replay):
            return {}
        config = self._replay[trial.number]
        chosen = {}
        for name, distribution in space.items():
            if name in config and _fits(config[name], distribution):
                chosen[name] = config[name][0]
        return chosen

    # -- priors ----------------------------------------------------------------------------

    def _view(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        asked: Mapping[str, BaseDistribution] | None = None,
    ) -> optuna.Study:
        """``study`` as the wrapped sampler should see it: with the sources in use."""
        if not self._priors or not self._sources or trial.number < self._judge_from:
            return study
        storage = study_storage(study)
        own = storage.get_all_trials(study_id(study), deepcopy=False)
        active = self._active(own)
        if not active:
            return study
        target = _target_distributions(own, {**self._space, **(asked or {})})
        priors = [p for s in active for t in s.view if (p := _as_prior(t, target)).params]
        for i, prior in enumerate(priors):
            prior.number = i - len(priors)
            prior._trial_id = -1 - i
        view = PriorStorage(storage, study_id(study), priors, _quantiled(own, self._directions))
        return optuna.Study(study.study_name, storage=view, sampler=self.base, pruner=study.pruner)

    def _active(self, own: Sequence[FrozenTrial]) -> list[_Source]:
        if not self._guard:
            return self._sources
        complete = _complete(own)
        if len(complete) < self._judge_after:
            return []  # not enough evidence yet: as a cold start
        if len(complete) != self._judged_at:
            self._judged_at = len(complete)
            self._agreement = {
                s.study: _agreement(s, complete, self._directions) for s in self._sources
            }
        return [s for s in self._sources if self._agreement[s.study] >= MIN_AGREEMENT]


def _complete(trials: Sequence[FrozenTrial]) -> list[FrozenTrial]:
    return [t for t in trials if t.state == TrialState.COMPLETE and t.values is not None]


# -- preparing sources -----------------------------------------------------------------------


def _prepare(source: SourceTrials, directions: Sequence[StudyDirection]) -> _Source:
    trials = [
        t
        for t in source.trials
        if t.state == TrialState.COMPLETE
        and t.values is not None
        and len(t.values) == len(directions)
        and all(np.isfinite(t.values))
    ]
    if len(trials) > MAX_SOURCE_TRIALS:  # an even spread over the source's ranks
        ranked = sorted(trials, key=lambda t: _badness(t, directions))
        picks = np.linspace(0, len(ranked) - 1, MAX_SOURCE_TRIALS).round().astype(int)
        trials = sorted((ranked[i] for i in sorted(set(picks))), key=lambda t: t.number)
    quantiles = _quantiles(np.array([t.values for t in trials], dtype=float), directions)
    prepared = _Source(source.study, trials, quantiles)
    prepared.view = [
        _with_values(t, _oriented(q, directions)) for t, q in zip(trials, quantiles, strict=True)
    ]
    return prepared


def _badness(trial: FrozenTrial, directions: Sequence[StudyDirection]) -> float:
    value = float(trial.values[0])
    return value if directions[0] == StudyDirection.MINIMIZE else -value


def _quantiles(values: np.ndarray, directions: Sequence[StudyDirection]) -> np.ndarray:
    """Per objective, each value's rank among its study's values as 0 (worst) ... 1 (best)."""
    if len(values) == 0:
        return np.zeros((0, len(directions)))
    out = np.empty_like(values)
    for j, direction in enumerate(directions):
        column = values[:, j] if direction == StudyDirection.MAXIMIZE else -values[:, j]
        out[:, j] = _ranks(column) / max(len(column) - 1, 1)
    return out


def _oriented(quantile: np.ndarray, directions: Sequence[StudyDirection]) -> list[float]:
    """A quantile (1 = best) as a value in the study's directions (smaller is better when
    minimizing)."""
    return [
        float(q) if d == StudyDirection.MAXIMIZE else float(1.0 - q)
        for q, d in zip(quantile, directions, strict=True)
    ]


def _quantiled(
    own: Sequence[FrozenTrial], directions: Sequence[StudyDirection]
) -> Callable[[FrozenTrial], FrozenTrial]:
    """The study's own completed trials with their values as quantiles (as the sources')."""
    complete = [t for t in own if t.state == TrialState.COMPLETE and t.values is not None]
    if not complete:
        return lambda t: t
    table = _quantiles(np.array([t.values for t in complete], dtype=float), directions)
    by_number = {t.number: _oriented(q, directions) for t, q in zip(complete, table, strict=True)}

    def transform(trial: FrozenTrial) -> FrozenTrial:
        values = by_number.get(trial.number)
        return trial if values is None else _with_values(trial, values)

    return transform


def _with_values(trial: FrozenTrial, values: list[float]) -> FrozenTrial:
    copied = copy.copy(trial)
    copied.values = values
    return copied


def _replay_configs(
    sources: Sequence[_Source], replay: int
) -> list[dict[str, tuple[Any, BaseDistribution]]]:
    """Up to ``replay`` configurations: each source's best in turn (for several directions,
    its Pareto front spread along the first objective)."""
    ranked = [_best_first(s) for s in sources]
    configs: list[dict[str, tuple[Any, BaseDistribution]]] = []
    seen: list[dict[str, Any]] = []
    for depth in range(max((len(r) for r in ranked), default=0)):
        for trials in ranked:
            if len(configs) >= replay:
                return configs
            if depth < len(trials) and trials[depth].params not in seen:
                seen.append(trials[depth].params)
                configs.append(
                    {
                        k: (v, trials[depth].distributions[k])
                        for k, v in trials[depth].params.items()
                    }
                )
    return configs


def _best_first(source: _Source) -> list[FrozenTrial]:
    q = source.quantiles
    if q.shape[1] == 1:
        order = np.argsort(-q[:, 0], kind="stable")
        return [source.trials[i] for i in order]
    front = [
        i for i in range(len(q)) if not np.any(np.all(q >= q[i], axis=1) & np.any(q > q[i], axis=1))
    ]
    front.sort(key=lambda i: q[i, 0])
    # Spread: the extremes first, then the middle, so a short replay covers the front.
    picks = [front[k] for k in _spread(len(front))]
    return [source.trials[i] for i in picks]


def _spread(n: int) -> list[int]:
    if n <= 2:
        return list(range(n))
    order = [0, n - 1]
    gaps = [(0, n - 1)]
    while len(order) < n:
        lo, hi = gaps.pop(0)
        if hi - lo < 2:
            continue
        mid = (lo + hi) // 2
        order.append(mid)
        gaps += [(lo, mid), (mid, hi)]
    return order


def _fits(value_and_source: tuple[Any, BaseDistribution], target: BaseDistribution) -> bool:
    value, source = value_and_source
    try:
        check_distribution_compatibility(source, target)
        return bool(target._contains(target.to_internal_repr(value)))
    except (ValueError, TypeError):
        return False


# -- the sampler's view of sources -----------------------------------------------------------


def _target_distributions(
    own: Sequence[FrozenTrial], asked: Mapping[str, BaseDistribution] | None
) -> dict[str, BaseDistribution]:
    target: dict[str, BaseDistribution] = {}
    for trial in own:
        target.update(trial.distributions)
    target.update(asked or {})
    return target


def _as_prior(trial: FrozenTrial, target: Mapping[str, BaseDistribution]) -> FrozenTrial:
    """A source trial as the sampler sees it: with the parameters the study has (declared,
    named by its trials, or asked for now), in the study's distributions, so that
    search-space intersections keep them. Values outside those, incompatible ones and
    parameters the study has not named are left out (a prior left with none is left out
    by the caller: it would empty every intersection), and so is the source sampler's own
    state (its system attributes)."""
    params: dict[str, Any] = {}
    distributions: dict[str, BaseDistribution] = {}
    for name, value in trial.params.items():
        own = target.get(name)
        if own is not None and _fits((value, trial.distributions[name]), own):
            params[name], distributions[name] = value, own
    prior = copy.copy(trial)
    prior.params = params
    prior.distributions = distributions
    prior.system_attrs = {}
    return prior


# -- the guard -------------------------------------------------------------------------------


def _agreement(
    source: _Source, own: Sequence[FrozenTrial], directions: Sequence[StudyDirection]
) -> float:
    """Spearman correlation between the source's rating of each own trial and its result,
    averaged over objectives (1: the source ranks them as they turned out)."""
    names = sorted({n for t in own for n in t.distributions})
    target = _target_distributions(own, None)
    src = _encode(source.trials, names, target)
    mine = _encode(own, names, target)
    results = _quantiles(np.array([t.values for t in own], dtype=float), directions)
    ratings = np.empty_like(results)
    for i, row in enumerate(mine):
        diff = (src - row) ** 2
        known = ~np.isnan(diff)
        counts = known.sum(axis=1)
        distance = np.where(counts > 0, np.nansum(diff, axis=1) / np.maximum(counts, 1), np.inf)
        nearest = np.argsort(distance, kind="stable")[:NEIGHBOURS]
        ratings[i] = source.quantiles[nearest].mean(axis=0)
    rhos = [_spearman(ratings[:, j], results[:, j]) for j in range(results.shape[1])]
    return float(np.mean(rhos))


def _encode(
    trials: Sequence[FrozenTrial], names: Sequence[str], target: Mapping[str, BaseDistribution]
) -> np.ndarray:
    """Parameters scaled to [0, 1] in the study's distributions (log where log); a
    categorical as its choice's index over the number of choices; NaN where missing."""
    out = np.full((len(trials), len(names)), np.nan)
    for i, trial in enumerate(trials):
        for j, name in enumerate(names):
            if name in trial.params and name in target:
                out[i, j] = _unit(trial.params[name], target[name])
    return out


def _unit(value: Any, distribution: BaseDistribution) -> float:
    if isinstance(distribution, CategoricalDistribution):
        try:
            return distribution.choices.index(value) / max(len(distribution.choices), 1)
        except ValueError:
            return np.nan
    assert isinstance(distribution, (FloatDistribution, IntDistribution))
    low, high, x = float(distribution.low), float(distribution.high), float(value)
    if distribution.log:
        if x <= 0:
            return np.nan
        low, high, x = np.log(low), np.log(high), np.log(x)
    return 0.5 if high == low else (x - low) / (high - low)


def _ranks(values: np.ndarray) -> np.ndarray:
    """0-based ranks, ties averaged."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values))
    for value in np.unique(values):
        tied = values == value
        if tied.sum() > 1:
            ranks[tied] = ranks[tied].mean()
    return ranks


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = _ranks(a), _ranks(b)
    if np.std(ra) == 0 or np.std(rb) == 0:
        return 0.0
    return float(np.corrcoef(ra, rb)[0, 1])


__all__ = ["DEFAULT_REPLAY", "SourceTrials", "WarmStartSampler"]
