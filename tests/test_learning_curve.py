"""The ``learning_curve`` pruner: synthetic curves decided in-process, then the same pruner
by name through a real coordinator and the CLI."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState, create_trial

import hpo
from hpo.pruners import LearningCurvePruner, forecast
from hpo.server import Coordinator

STEPS = 30
Curve = Callable[[int], float]


def saturating(final: float, start: float, power: float = 0.7) -> Curve:
    """Rises (or falls) from ``start`` towards ``final``, like a validation metric."""
    return lambda t: final - (final - start) * (t + 1) ** -power


def with_noise(curve: Curve, amplitude: float = 0.003) -> Curve:
    """Deterministic jitter: a real curve is never exactly a model's."""
    return lambda t: curve(t) + amplitude * math.sin(2.7 * t + 1.0)


def study_with_finished(
    pruner: optuna.pruners.BasePruner, finals: list[float], direction: str = "maximize"
) -> optuna.Study:
    study = optuna.create_study(direction=direction, pruner=pruner)
    start = 0.1 if direction == "maximize" else 2.5
    for final in finals:
        curve = with_noise(saturating(final, start))
        values = {t: curve(t) for t in range(STEPS)}
        study.add_trial(
            create_trial(
                state=TrialState.COMPLETE, value=values[STEPS - 1], intermediate_values=values
            )
        )
    return study


def running(curve: Curve, steps: int) -> optuna.trial.FrozenTrial:
    return create_trial(
        state=TrialState.RUNNING, intermediate_values={t: curve(t) for t in range(steps)}
    )


FINALS = [0.80, 0.86, 0.90, 0.84, 0.78]  # the best completed trial ends at 0.90


def test_a_curve_that_will_end_worse_is_pruned() -> None:
    study = study_with_finished(LearningCurvePruner(), FINALS)
    worse = with_noise(saturating(0.72, 0.1))  # ends 0.18 below the best
    assert study.pruner.prune(study, running(worse, 8))


def test_a_slow_starter_that_will_end_better_is_kept_where_the_median_prunes_it() -> None:
    slow = with_noise(lambda t: 0.95 - 0.85 * math.exp(-t / 10))  # behind now, best at the end
    trial = running(slow, 8)
    curves = study_with_finished(LearningCurvePruner(), FINALS)
    assert not curves.pruner.prune(curves, trial)
    median = study_with_finished(optuna.pruners.MedianPruner(), FINALS)
    assert median.pruner.prune(median, trial)  # what the curve fit saves it from


def test_minimize_prunes_the_loss_curve_that_ends_higher_and_keeps_the_lower() -> None:
    study = study_with_finished(LearningCurvePruner(), [0.40, 0.35, 0.30, 0.45, 0.50], "minimize")
    assert study.pruner.prune(study, running(with_noise(saturating(0.60, 2.5)), 8))
    assert not study.pruner.prune(study, running(with_noise(saturating(0.25, 2.5)), 8))


def test_the_forecast_finds_the_final_value_with_a_spread_that_covers_it() -> None:
    curve = with_noise(saturating(0.9, 0.1), amplitude=0.01)
    steps = list(range(10))
    predicted = forecast(steps, [curve(t) for t in steps], STEPS - 1)
    assert predicted is not None
    assert abs(predicted.mean - curve(STEPS - 1)) < 2 * predicted.std
    assert predicted.std < 0.05
    assert math.isclose(sum(predicted.weights.values()), 1.0)
    # deterministic: the same curve gives the same forecast
    assert forecast(steps, [curve(t) for t in steps], STEPS - 1) == predicted


def test_higher_confidence_prunes_later() -> None:
    borderline = with_noise(saturating(0.86, 0.1), amplitude=0.01)
    decisions = {}
    for confidence in (0.6, 0.999):
        study = study_with_finished(LearningCurvePruner(confidence=confidence), FINALS)
        decisions[confidence] = next(
            (s for s in range(4, STEPS) if study.pruner.prune(study, running(borderline, s + 1))),
            None,
        )
    assert decisions[0.6] is not None
    assert decisions[0.999] is None or decisions[0.999] > decisions[0.6]


@pytest.mark.parametrize(
    "pruner",
    [
        LearningCurvePruner(n_startup_trials=6),  # only five completed
        LearningCurvePruner(n_warmup_steps=10),
        LearningCurvePruner(n_warmup_steps=1, interval_steps=4),  # step 7 is not a check
        LearningCurvePruner(max_step=7),  # already at its end
    ],
)
def test_startup_warmup_interval_and_end_hold_the_pruner_back(pruner) -> None:
    study = study_with_finished(pruner, FINALS)
    assert not pruner.prune(study, running(with_noise(saturating(0.5, 0.1)), 8))


def test_a_short_curve_is_judged_by_the_gains_the_completed_trials_made_after_its_step() -> None:
    short = running(lambda t: 0.63 + 0.01 * t, 3)  # at 0.65 after three steps
    # completed trials that started near their end (+0.05 after step 2): 0.70 < 0.90
    trials = study_with_finished(LearningCurvePruner(), FINALS).trials
    for trial in trials:
        trial.intermediate_values.update({0: trial.value - 0.1, 1: trial.value - 0.07})
        trial.intermediate_values[2] = trial.value - 0.05
    fast = rebuilt(trials, LearningCurvePruner())
    assert fast.pruner.prune(fast, short)
    # completed trials that gained 0.30 after step 2: the same short curve may still win
    slow = study_with_finished(LearningCurvePruner(), FINALS)
    assert not slow.pruner.prune(slow, short)
    # with the warm-up at 3 steps, only a fitted curve decides
    warm = rebuilt(trials, LearningCurvePruner(n_warmup_steps=3))
    assert not warm.pruner.prune(warm, short)


def rebuilt(
    trials: list[optuna.trial.FrozenTrial], pruner: optuna.pruners.BasePruner
) -> optuna.Study:
    study = optuna.create_study(direction="maximize", pruner=pruner)
    study.add_trials(trials)
    return study


def test_a_curve_whose_latest_value_is_nan_is_pruned() -> None:
    study = study_with_finished(LearningCurvePruner(), FINALS)
    diverged = create_trial(
        state=TrialState.RUNNING, intermediate_values={0: 0.2, 1: 0.3, 2: math.nan}
    )
    assert study.pruner.prune(study, diverged)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"confidence": 1.5}, "confidence"),
        ({"confidence": "high"}, "confidence"),
        ({"confidence": True}, "confidence"),
        ({"n_startup_trials": 0}, "n_startup_trials"),
        ({"n_startup_trials": 2.5}, "n_startup_trials"),
        ({"n_warmup_steps": -1}, "n_warmup_steps"),
        ({"interval_steps": "2"}, "interval_steps"),
        ({"max_step": 0}, "max_step"),
        ({"patience": 3}, "patience"),
    ],
)
def test_wrong_options_are_one_clear_error_and_create_nothing(
    sqlite_coordinator: Coordinator, options: dict, named: str
) -> None:
    with pytest.raises(hpo.InvalidArgumentError) as error:
        hpo.create_study(
            "bad", pruner={"name": "learning_curve", **options}, address=sqlite_coordinator.address
        )
    assert error.value.message.startswith("pruner.options_json: learning_curve")
    assert named in error.value.message
    with pytest.raises(hpo.NotFoundError):
        hpo.load_study("bad", address=sqlite_coordinator.address)


def objective(trial: hpo.Trial) -> float:
    """Curves whose final accuracy grows with x; 20 steps."""
    x = trial.suggest_float("x", 0, 1)
    curve = with_noise(saturating(0.5 + 0.45 * x, 0.1))
    for step in range(20):
        trial.report(curve(step), step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return curve(19)


def test_through_a_coordinator_the_worse_curves_stop_early(
    sqlite_coordinator: Coordinator,
) -> None:
    study = hpo.create_study(
        "curves",
        direction="maximize",
        sampler={"name": "random", "seed": 3},
        pruner={"name": "learning_curve", "n_startup_trials": 3},
        address=sqlite_coordinator.address,
    )
    study.optimize(objective, n_trials=16)

    assert study.info().pruner.name == "learning_curve"
    trials = study.trials
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(pruned) + len(complete) == 16
    assert pruned, "no trial was stopped early"
    assert all(len(t.intermediate_values) < 20 for t in pruned)
    # only trials that would have ended below the best finished one were stopped
    best = max(t.value for t in complete)
    assert all(0.5 + 0.45 * t.params["x"] < best for t in pruned)
    assert study.best_trial.params["x"] == max(t.params["x"] for t in trials)


def test_the_cli_takes_the_name_and_rejects_bad_options_before_anything_runs(
    tmp_path: Path, hpo_cli
) -> None:
    storage = f"sqlite:///{tmp_path / 'hpo.db'}"
    examples = Path(__file__).resolve().parent.parent / "examples"
    result = hpo_cli(
        "sweep", f"{examples / 'digits_sgd.py'}:objective", "--study", "lc", "--db", storage,
        "--pruner", "learning_curve", "--pruner-options", '{"confidence": 2}',
        check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "pruner.options_json: learning_curve" in result.stderr
    assert "confidence" in result.stderr and "Traceback" not in result.stderr
    with pytest.raises(hpo.NotFoundError):
        hpo.load_study("lc", storage=storage)
