"""The warm-start sampler on plain Optuna studies: what the wrapped sampler sees, and what
the study never sees."""

from __future__ import annotations

from typing import Any

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial

from hpo._optuna_adapter import study_id, study_storage
from hpo.service._warm_start_sampler import (
    MAX_SOURCE_TRIALS,
    SourceTrials,
    WarmStartSampler,
    _spread,
)

SPACE = {"x": FloatDistribution(0, 10)}


class Spy(BaseSampler):
    """Records the trials it is shown; samples 5.0."""

    def __init__(self) -> None:
        self.seen: list[list[FrozenTrial]] = []

    def infer_relative_search_space(self, study, trial):
        self.seen.append(study.get_trials(deepcopy=False))
        return {}

    def sample_relative(self, study, trial, search_space):
        return {}

    def sample_independent(self, study, trial, name, distribution) -> Any:
        self.seen.append(study.get_trials(deepcopy=False))
        return 5.0


def finished(values: list[float], space=SPACE, direction: str = "minimize") -> list[FrozenTrial]:
    study = optuna.create_study(direction=direction)
    for v in values:
        study.enqueue_trial({"x": v})
        trial = study.ask(dict(space))
        study.tell(trial, v)
    return study.trials


def test_the_adapter_reaches_the_storage_and_id() -> None:
    study = optuna.create_study()
    assert study_storage(study).get_study_id_from_name(study.study_name) == study_id(study)


def test_replay_then_probe_then_priors_in_front_as_quantiles() -> None:
    spy = Spy()
    xs_source = [float(x) for x in range(10)]
    trials = finished(xs_source)
    for trial, x in zip(trials, xs_source, strict=True):
        trial.values = [abs(x - 1.2)]
    source = SourceTrials("src", trials)
    minimize = [optuna.study.StudyDirection.MINIMIZE]
    sampler = WarmStartSampler(spy, [source], minimize, replay=2, probe=1)
    study = optuna.create_study(sampler=sampler)
    xs = []
    for i in range(6):
        trial = study.ask(dict(SPACE))
        xs.append(trial.params["x"])
        study.tell(trial, abs(trial.params["x"] - 1.5) + i * 0.01)  # agrees with the source
    assert xs[:2] == [1.0, 2.0]  # the source's two best
    assert xs[2:] == [5.0] * 4  # then the wrapped sampler's
    assert all(t.number >= 0 for t in spy.seen[0])  # the probe (trial 2) saw the study alone
    last = spy.seen[-1]
    priors = [t for t in last if t.number < 0]
    assert [t.number for t in priors] == list(range(-10, 0))
    # each study's values as quantiles (0 best when minimizing), the sources' first
    assert [t.value for t in priors] == pytest.approx(
        [2 / 9, 0, 1 / 9, *(k / 9 for k in range(3, 10))]
    )
    own = [t for t in last if t.number >= 0 and t.state.is_finished()]
    assert sorted(t.value for t in own) == pytest.approx([0, 1 / 4, 1 / 2, 3 / 4, 1])
    assert sampler.status(study.trials)["src"].startswith("in use")
    # the study itself holds only its own trials, with their real values
    assert [t.number for t in study.trials] == list(range(6))
    assert study.trials[0].value == pytest.approx(0.5)


def test_source_ranges_take_the_study_distribution_so_tpe_keeps_them_joint() -> None:
    wide = {"x": FloatDistribution(-10, 10), "y": FloatDistribution(-10, 10)}
    narrow = {"x": FloatDistribution(0, 10), "y": FloatDistribution(0, 10)}
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
    for i in range(12):
        study.enqueue_trial({"x": (i % 10) - 0.5, "y": i % 7})
        trial = study.ask(dict(wide))
        study.tell(trial, trial.params["x"] ** 2)
    tpe = optuna.samplers.TPESampler(seed=1, multivariate=True)
    sampler = WarmStartSampler(
        tpe,
        [SourceTrials("s", study.trials)],
        study.directions,
        space=narrow,
        replay=0,
        probe=0,
        guard=False,
    )
    target = optuna.create_study(sampler=sampler)
    trial = target.ask(dict(narrow))
    # the joint (relative) space of the priors in view is the study's own, not dropped
    seen = sampler.infer_relative_search_space(target, target.trials[0])
    assert seen == narrow
    assert 0 <= trial.params["x"] <= 10


def test_long_sources_keep_an_even_spread_of_ranks() -> None:
    values = [float(v) for v in range(MAX_SOURCE_TRIALS * 2)]
    spy = Spy()
    sampler = WarmStartSampler(
        spy,
        [SourceTrials("s", finished(values, {"x": FloatDistribution(0, 1e4)}))],
        [optuna.study.StudyDirection.MINIMIZE],
        replay=1,
    )
    [source] = sampler._sources
    kept = sorted(t.value for t in source.trials)
    assert len(kept) == MAX_SOURCE_TRIALS
    assert kept[0] == 0.0 and kept[-1] == values[-1]


def test_spread_covers_the_ends_first() -> None:
    assert _spread(5) == [0, 4, 2, 1, 3]
    assert sorted(_spread(9)) == list(range(9))


def test_priors_carry_no_sampler_state_and_none_without_known_parameters() -> None:
    source = optuna.create_study(sampler=optuna.samplers.CmaEsSampler(seed=0))
    for _ in range(8):  # a CMA-ES study: its trials carry the optimizer's state
        trial = source.ask(dict(SPACE))
        source.tell(trial, trial.params["x"])
    assert any(k.startswith("cma:") for t in source.trials for k in t.system_attrs)
    spy = Spy()
    sampler = WarmStartSampler(
        spy, [SourceTrials("s", source.trials)], source.directions, replay=0, probe=0, guard=False
    )
    study = optuna.create_study(sampler=sampler)
    study.ask().suggest_float("x", 0, 10)
    inferred, sampled = spy.seen  # the joint space first, then "x" alone
    # define-by-run, nothing named yet: no prior is shown (one without parameters would
    # empty every search-space intersection for good)
    assert [t for t in inferred if t.number < 0] == []
    # "x" asked for: the priors carry it, and none of the source sampler's state
    priors = [t for t in sampled if t.number < 0]
    assert len(priors) == 8 and all(t.system_attrs == {} and "x" in t.params for t in priors)
