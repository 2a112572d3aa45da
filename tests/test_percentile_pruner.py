"""The coordinator's indexed median/percentile pruners decide exactly as Optuna's, however the
study's completed trials arrived: loaded from a snapshot, installed unit by unit, or completed
inside the unit of work that asks."""

from __future__ import annotations

import math
import warnings

import optuna
from hypothesis import given, settings
from hypothesis import strategies as st
from optuna.distributions import FloatDistribution
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from hpo.service import _percentile
from hpo.storage._trial_log import Draft, StudyModel, trial_op

SPACE = {"x": FloatDistribution(0.0, 1.0)}
values = st.one_of(st.floats(-3, 3), st.just(math.nan))
curves = st.dictionaries(st.integers(0, 6), values, max_size=5)
finished_states = st.sampled_from([TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL])
options = st.fixed_dictionaries(
    {
        "n_startup_trials": st.integers(0, 4),
        "n_warmup_steps": st.integers(0, 3),
        "interval_steps": st.integers(1, 3),
        "n_min_trials": st.integers(1, 4),
    }
)


def _trial(number: int, state: TrialState, curve: dict[int, float]) -> FrozenTrial:
    trial = optuna.trial.create_trial(
        state=state,
        value=1.0 if state == TrialState.COMPLETE else None,
        params={"x": 0.5},
        distributions=SPACE,
        intermediate_values=curve,
    )
    trial.number = number
    return trial


def _optuna_decides(
    pruner: optuna.pruners.BasePruner,
    direction: StudyDirection,
    finished: list[FrozenTrial],
    running: FrozenTrial,
) -> bool:
    sampler = optuna.samplers.RandomSampler(seed=0)
    study = optuna.create_study(direction=direction, pruner=pruner, sampler=sampler)
    study.add_trials(finished)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return bool(pruner.prune(study, running))


def _learn(model: StudyModel, trials: list[FrozenTrial], seq: int) -> None:
    """Install ``trials`` into ``model`` as one unit of work (log row ``seq``)."""
    draft = Draft(model)
    for trial in trials:
        draft.record(trial_op(trial))
    draft.install(seq)


@settings(max_examples=300, deadline=None)
@given(
    finished=st.lists(st.tuples(finished_states, curves), max_size=12),
    running_curve=curves.filter(bool),
    percentile=st.one_of(st.none(), st.floats(0, 100)),
    chosen=options,
    maximize=st.booleans(),
    split=st.integers(0, 12),
    asked_before=st.booleans(),
    from_snapshot=st.booleans(),
)
def test_decisions_equal_optunas(
    finished, running_curve, percentile, chosen, maximize, split, asked_before, from_snapshot
) -> None:
    direction = StudyDirection.MAXIMIZE if maximize else StudyDirection.MINIMIZE
    if percentile is None:
        ours: _percentile.PercentilePruner = _percentile.MedianPruner(**chosen)
        reference: optuna.pruners.BasePruner = optuna.pruners.MedianPruner(**chosen)
    else:
        ours = _percentile.PercentilePruner(percentile, **chosen)
        reference = optuna.pruners.PercentilePruner(percentile, **chosen)
    trials = [_trial(i, state, curve) for i, (state, curve) in enumerate(finished)]
    running = _trial(len(trials), TrialState.RUNNING, running_curve)
    model = StudyModel(1, "s", [direction])
    split = min(split, len(trials))
    _learn(model, trials[:split], 0)
    if from_snapshot:  # the first part loaded from the study's snapshot
        model = _restored(model)
    if asked_before:  # the index reads the first part now, the rest at the next decision
        ours.decide(model, running, direction)
    _learn(model, [*trials[split:], running], 1)
    expected = _optuna_decides(reference, direction, trials, running)
    assert ours.decide(model, model.trials[running.number], direction) == expected


def _restored(model: StudyModel) -> StudyModel:
    restored = StudyModel(model.study_id, model.name, model.directions)
    restored.restore(model.snapshot())
    return restored


def test_a_study_loaded_from_its_snapshot_is_indexed_without_building_its_trials() -> None:
    model = StudyModel(1, "s", [StudyDirection.MINIMIZE])
    _learn(model, [_trial(i, TrialState.COMPLETE, {0: float(i), 3: 1.0}) for i in range(50)], 0)
    restored = _restored(model)
    assert _values_at(_percentile.MedianPruner(), restored, 0) == (50, [float(i) for i in range(50)])
    columns = restored.trials._base  # the snapshot's trials, built when first read
    assert columns is not None and columns._built == [None] * 50


def test_trials_completed_in_the_deciding_unit_count_and_later_units_see_them_once() -> None:
    model = StudyModel(1, "s", [StudyDirection.MINIMIZE])
    _learn(model, [_trial(i, TrialState.COMPLETE, {0: float(i)}) for i in range(3)], 0)
    _learn(model, [_trial(3, TrialState.RUNNING, {0: 3.0})], 1)
    running = _trial(4, TrialState.RUNNING, {0: 2.5})
    _learn(model, [running], 2)
    pruner = _percentile.MedianPruner(n_startup_trials=4)
    assert not pruner.decide(model, running, StudyDirection.MINIMIZE)  # 3 complete: startup
    draft = Draft(model)  # a unit that completes trial 3, not installed yet
    draft.record({"o": "state", "n": 3, "s": TrialState.COMPLETE.value, "v": [1.0], "t": 0.0})
    # the median of 0, 1, 2 and 3 is 1.5 < 2.5: pruned, counting the trial the unit completes
    assert pruner.decide(draft, running, StudyDirection.MINIMIZE)
    assert pruner.decide(draft, running, StudyDirection.MINIMIZE)  # read twice, counted once
    assert _values_at(pruner, model, 0) == (3, [0.0, 1.0, 2.0])  # the model has not
    draft.install(3)
    assert model.completed == [0, 1, 2, 3]
    assert _values_at(pruner, model, 0) == (4, [0.0, 1.0, 2.0, 3.0])


def test_values_read_earlier_stay_as_they_were_when_more_arrive() -> None:
    model = StudyModel(1, "s", [StudyDirection.MINIMIZE])
    pruner = _percentile.MedianPruner()
    _learn(model, [_trial(0, TrialState.COMPLETE, {0: 0.0})], 0)
    _, early = pruner.completed.at(model, 0)
    _learn(model, [_trial(i, TrialState.COMPLETE, {0: float(i)}) for i in range(1, 200)], 1)
    assert list(early) == [0.0]
    assert _values_at(pruner, model, 0) == (200, [float(i) for i in range(200)])


def _values_at(
    pruner: _percentile.PercentilePruner, trials: StudyModel, step: int
) -> tuple[int, list[float]]:
    n_complete, values = pruner.completed.at(trials, step)
    return n_complete, [float(v) for v in values]
