"""Meta-ML benchmarks, one section per feature, side by side in one run.

    python bench/bench_meta.py                          # every section
    python bench/bench_meta.py --only pruners --seeds 5 --trials 40

pruners: the ``learning_curve`` pruner against none, median, successive halving and
hyperband on real learning curves: an SGD linear classifier on digits (partial_fit, one
epoch per report), an MLP on digits, and SGD regression on the diabetes data (unexplained
variance, minimized). Each pruner runs the same TPE seeds, in-process (an Optuna study with
the very pruner object the coordinator builds from the same name and options), for the same
number of trials. Per task: epochs trained and best value (medians over seeds), and both
against successive halving. Values are in points (accuracy or unexplained variance, in %).
The goal (issue 13): learning_curve trains >= 1.5x fewer epochs than successive halving with
a best value within 0.3 points of it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from hpo.service._algorithms import AlgorithmSpec, build_pruner

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

# -- pruners ------------------------------------------------------------------------------

#: Row label -> (pruner name, options), built by the coordinator's own ``build_pruner``.
PRUNERS: dict[str, tuple[str, dict[str, Any]]] = {
    "none": ("none", {}),
    "median": ("median", {"n_startup_trials": 5, "n_warmup_steps": 5}),
    "successive_halving": ("successive_halving", {}),
    "hyperband": ("hyperband", {"min_resource": 1}),  # max_resource: the task's epochs
    "learning_curve": ("learning_curve", {}),
    "learning_curve (2 startup)": ("learning_curve", {"n_startup_trials": 2}),
}
BASELINE = "successive_halving"
GOAL_RATIO, GOAL_POINTS = 1.5, 0.3


@dataclass(frozen=True)
class CurveTask:
    """A model trained epoch by epoch: ``train(trial)`` suggests its parameters and yields
    the validation value after each epoch."""

    name: str
    direction: str
    unit: str
    epochs: int
    train: Callable[[optuna.Trial, int], Iterator[float]]


def _shuffled_epochs(model: Any, X: np.ndarray, y: np.ndarray, epochs: int, **fit: Any):
    """One ``partial_fit`` pass per epoch over the training set, in a fixed shuffled order."""
    rng = np.random.default_rng(0)
    for _ in range(epochs):
        order = rng.permutation(len(X))
        model.partial_fit(X[order], y[order], **fit)
        yield


def digits_sgd(trial: optuna.Trial, epochs: int) -> Iterator[float]:
    """examples/digits_sgd.py's search space and data, in a fixed epoch order."""
    import digits_sgd as example

    model = example.suggest_classifier(trial)
    for _ in _shuffled_epochs(
        model, example.X_train, example.y_train, epochs, classes=example.CLASSES
    ):
        yield 100 * float(model.score(example.X_val, example.y_val))


def digits_mlp(trial: optuna.Trial, epochs: int) -> Iterator[float]:
    import digits_sgd as example
    from sklearn.neural_network import MLPClassifier

    model = MLPClassifier(
        hidden_layer_sizes=(trial.suggest_int("hidden", 8, 128, log=True),),
        alpha=trial.suggest_float("alpha", 1e-6, 1e-1, log=True),
        learning_rate_init=trial.suggest_float("learning_rate_init", 1e-4, 0.3, log=True),
        momentum=trial.suggest_float("momentum", 0.0, 0.95),
        solver="sgd",
        batch_size=64,
        random_state=0,
    )
    for _ in range(epochs):
        model.partial_fit(example.X_train, example.y_train, classes=example.CLASSES)
        yield 100 * float(model.score(example.X_val, example.y_val))


def diabetes_sgd(trial: optuna.Trial, epochs: int) -> Iterator[float]:
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import SGDRegressor
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_diabetes(return_X_y=True)
    X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.25, random_state=0)
    scaler = StandardScaler().fit(X_train)
    X_train, X_val = scaler.transform(X_train), scaler.transform(X_val)
    y_mean, y_std = y_train.mean(), y_train.std()
    model = SGDRegressor(
        loss=trial.suggest_categorical("loss", ["squared_error", "huber", "epsilon_insensitive"]),
        penalty=trial.suggest_categorical("penalty", ["l2", "l1", "elasticnet"]),
        alpha=trial.suggest_float("alpha", 1e-6, 1.0, log=True),
        learning_rate="invscaling",
        eta0=trial.suggest_float("eta0", 1e-5, 0.1, log=True),
        random_state=0,
    )
    for _ in _shuffled_epochs(model, X_train, (y_train - y_mean) / y_std, epochs):
        r2 = float(model.score(X_val, (y_val - y_mean) / y_std))
        yield 100 * (1 - r2) if np.isfinite(r2) else float("nan")


TASKS = (
    CurveTask("digits-sgd", "maximize", "accuracy %", 30, digits_sgd),
    CurveTask("digits-mlp", "maximize", "accuracy %", 30, digits_mlp),
    CurveTask("diabetes-sgd", "minimize", "unexplained var. %", 30, diabetes_sgd),
)


@dataclass(frozen=True)
class Run:
    epochs: int
    best: float
    seconds: float
    #: (epochs trained so far, value) at each completed trial, in order.
    completions: tuple[tuple[int, float], ...]

    def epochs_to(self, target: float, sign: int) -> int | None:
        """Epochs trained until a completed trial reached ``target`` (None: never)."""
        return next((e for e, v in self.completions if sign * (v - target) >= 0), None)


def run_study(task: CurveTask, label: str, seed: int, n_trials: int) -> Run:
    name, options = PRUNERS[label]
    if name == "hyperband":
        options = {**options, "max_resource": task.epochs}
    pruner = build_pruner(AlgorithmSpec(name, options))

    def objective(trial: optuna.Trial) -> float:
        value = float("nan")
        for step, value in enumerate(task.train(trial, task.epochs)):
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return value

    study = optuna.create_study(
        study_name=f"{task.name}-{label}-{seed}",  # hyperband hashes it to pick brackets
        direction=task.direction,
        sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=10),
        pruner=pruner,
    )
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn's ConvergenceWarning on every partial_fit
        study.optimize(objective, n_trials=n_trials, catch=(ValueError,))
    seconds = time.perf_counter() - started
    epochs, completions = 0, []
    for t in study.trials:
        epochs += len(t.intermediate_values)
        if t.state == optuna.trial.TrialState.COMPLETE and t.value is not None:
            completions.append((epochs, t.value))
    return Run(epochs, study.best_value, seconds, tuple(completions))


def pruners_section(args: argparse.Namespace) -> None:
    """Epochs trained and best value per pruner, medians over seeds, against successive
    halving."""
    tasks = [t for t in TASKS if not args.tasks or t.name in args.tasks]
    print(
        f"## pruners: {args.trials} trials x up to 30 epochs, TPE seeds 0..{args.seeds - 1}, "
        f"medians over seeds\n"
    )
    verdicts = []
    for task in tasks:
        runs: dict[str, list[Run]] = {label: [] for label in PRUNERS}
        for seed in range(args.seeds):
            for label in PRUNERS:
                runs[label].append(run_study(task, label, seed, args.trials))
        print(f"### {task.name} ({task.direction} {task.unit})\n")
        print(
            "| pruner | epochs | best | best vs SH (points) | fewer epochs than SH "
            f"| epochs to within {GOAL_POINTS} of SH's best | seconds |"
        )
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        sign = 1 if task.direction == "maximize" else -1
        baseline = runs[BASELINE]
        sh_epochs, sh_best = _median(r.epochs for r in baseline), _median(r.best for r in baseline)
        for label, pruner_runs in runs.items():
            epochs, best = (
                _median(r.epochs for r in pruner_runs),
                _median(r.best for r in pruner_runs),
            )
            ratio, gain = sh_epochs / epochs, sign * (best - sh_best)
            reached = [
                r.epochs_to(sh.best - sign * GOAL_POINTS, sign)
                for r, sh in zip(pruner_runs, baseline, strict=True)
            ]
            hits = [e for e in reached if e is not None]
            to_best = f"{_median(hits):.0f} ({len(hits)}/{len(reached)} seeds)" if hits else "never"
            seconds = _median(r.seconds for r in pruner_runs)
            print(
                f"| {label} | {epochs:.0f} | {best:.2f} | {gain:+.2f} | {ratio:.2f}x | {to_best} "
                f"| {seconds:.1f} |"
            )
            if PRUNERS[label][0] == "learning_curve":
                met = ratio >= GOAL_RATIO and gain >= -GOAL_POINTS
                verdicts.append(
                    f"{task.name}, {label}: {ratio:.2f}x fewer epochs than successive halving, "
                    f"best {gain:+.2f} points: goal {'met' if met else 'NOT met'}"
                )
        print()
    print(f"Goal (>= {GOAL_RATIO}x fewer epochs than SH, best within {GOAL_POINTS} points):")
    for line in verdicts:
        print(f"- {line}")
    print()


def _median(values: Iterable[float]) -> float:
    return statistics.median(values)


SECTIONS: dict[str, Callable[[argparse.Namespace], None]] = {"pruners": pruners_section}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=sorted(SECTIONS), action="append", default=[])
    parser.add_argument("--seeds", type=int, default=5, help="sampler seeds per comparison")
    parser.add_argument("--trials", type=int, default=40, help="trials per study")
    parser.add_argument("--tasks", nargs="*", help="pruners: only these tasks (by name)")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for name in args.only or list(SECTIONS):
        SECTIONS[name](args)


if __name__ == "__main__":
    main()
