"""Multi-objective pruning, measured: hypervolume reached per epoch trained, Pareto
successive halving against no pruning, through a coordinator in this process.

    python bench/_meta_pareto.py                       # seeds 0-4
    python bench/_meta_pareto.py --seeds 0 1 --trials 20

The task: an MLP on scikit-learn's digits, trained epoch by epoch (``partial_fit``),
reporting ``[validation accuracy, model size in KB]`` after each epoch (maximize, minimize);
parameters: layers (1-2), units per layer (8-256, log), L2 penalty and learning rate (log).
Both runs use the same TPE seed. No pruning runs ``--trials`` trials of EPOCHS epochs; the
pruned run (``pareto_successive_halving``, min_resource 1, reduction factor 3: rungs at
epochs 1, 3, 9) goes on with new trials until it has trained as many epochs. Hypervolume:
of the completed trials' (error, size / largest size) against the reference point
(REFERENCE_ERROR, 1). The goal (issue 13): the no-pruning run's final hypervolume reached
with >= 2x fewer epochs (the no-pruning run's epochs over the epochs the pruned run needed
to reach it); the table also gives the same for 99 % of it, and when the no-pruning run
itself got there.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.distributions import FloatDistribution, IntDistribution

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import hpo  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.ERROR)

EPOCHS = 20
TRIALS = 30
REFERENCE_ERROR = 0.25
#: The share of the no-pruning run's final hypervolume that counts as "the same".
SAME = 0.99
GOAL = 2.0
SPACE = {
    "layers": IntDistribution(1, 2),
    "units": IntDistribution(8, 256, log=True),
    "alpha": FloatDistribution(1e-6, 1e-1, log=True),
    "learning_rate_init": FloatDistribution(1e-4, 3e-2, log=True),
}
PRUNERS = {
    "no pruning": "none",
    "pareto_successive_halving": {
        "name": "pareto_successive_halving",
        "min_resource": 1,
        "reduction_factor": 3,
    },
}


@functools.cache
def _digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    Xtr, Xva, ytr, yva = train_test_split(X / 16.0, y, test_size=0.3, random_state=0, stratify=y)
    return Xtr, Xva, ytr, yva


def _size_kb(params: dict[str, Any]) -> float:
    widths = [64] + [params["units"]] * params["layers"] + [10]
    weights = sum((a + 1) * b for a, b in zip(widths, widths[1:], strict=False))
    return 4 * weights / 1024


LARGEST_KB = _size_kb({"units": 256, "layers": 2})


def _train(trial: hpo.Trial) -> tuple[int, tuple[float, float] | None]:
    """Train epoch by epoch, reporting [accuracy, size]: (epochs trained, the final
    (accuracy, size), or None when pruned)."""
    from sklearn.neural_network import MLPClassifier

    Xtr, Xva, ytr, yva = _digits()
    p = trial.params
    model = MLPClassifier(
        hidden_layer_sizes=(p["units"],) * p["layers"],
        alpha=p["alpha"],
        learning_rate_init=p["learning_rate_init"],
        random_state=0,
    )
    size = _size_kb(p)
    accuracy = 0.0
    for epoch in range(1, EPOCHS + 1):
        model.partial_fit(Xtr, ytr, classes=np.arange(10))
        accuracy = float(model.score(Xva, yva))
        trial.report([accuracy, size], epoch)
        if trial.should_prune():
            trial.study.tell(trial, state=hpo.TrialState.PRUNED)
            return epoch, None
    trial.study.tell(trial, [accuracy, size])
    return EPOCHS, (accuracy, size)


def hypervolume(points: list[tuple[float, float]]) -> float:
    """Area dominated by ``(accuracy, size_kb)`` points (accuracy up, size down) within the
    reference point (1 - REFERENCE_ERROR accuracy, LARGEST_KB)."""
    mins = sorted(
        (1 - a, s / LARGEST_KB) for a, s in points if 1 - a < REFERENCE_ERROR and s <= LARGEST_KB
    )
    area, best_size = 0.0, 1.0
    for error, size in mins:  # by error ascending; each adds the strip below the best size
        if size < best_size:
            area += (REFERENCE_ERROR - error) * (best_size - size)
            best_size = size
    return area


@dataclass
class Curve:
    """Hypervolume after each trial, against epochs trained so far."""

    epochs: list[int]
    hypervolumes: list[float]

    def epochs_to(self, target: float) -> int | None:
        for epochs, hv in zip(self.epochs, self.hypervolumes, strict=True):
            if hv >= target:
                return epochs
        return None

    def at(self, epochs: int) -> float:
        reached = [hv for e, hv in zip(self.epochs, self.hypervolumes, strict=True) if e <= epochs]
        return reached[-1] if reached else 0.0


@contextlib.contextmanager
def _coordinator() -> Iterator[str]:
    from hpo.server import Coordinator

    with tempfile.TemporaryDirectory() as tmp:
        with Coordinator(f"sqlite:///{tmp}/bench.db", port=0) as running:
            yield running.address


def _run(address: str, name: str, pruner: Any, seed: int, trials: int, epochs: int) -> Curve:
    """Trials until ``trials`` ran or ``epochs`` were trained, whichever comes first."""
    study = hpo.create_study(
        name,
        directions=["maximize", "minimize"],
        search_space=SPACE,
        sampler={"name": "tpe", "seed": seed},
        pruner=pruner,
        address=address,
    )
    curve = Curve([], [])
    points: list[tuple[float, float]] = []
    spent = 0
    for _ in range(trials):
        if spent >= epochs:
            break
        trial = study.ask()
        trained, final = _train(trial)
        spent += trained
        if final is not None:
            points.append(final)
        curve.epochs.append(spent)
        curve.hypervolumes.append(hypervolume(points))
    return curve


def measure(seeds: list[int], trials: int) -> list[dict[str, Any]]:
    rows = []
    with _coordinator() as address:
        for seed in seeds:
            plain = _run(address, f"none-{seed}", PRUNERS["no pruning"], seed, trials, 10**9)
            budget = plain.epochs[-1]
            pruned = _run(
                address,
                f"pareto-{seed}",
                PRUNERS["pareto_successive_halving"],
                seed,
                3 * trials,
                budget,
            )
            final = plain.hypervolumes[-1]
            rows.append(
                {
                    "seed": seed,
                    "budget": budget,
                    "hv": final,
                    "pareto_hv": pruned.hypervolumes[-1],
                    "pareto_trials": len(pruned.epochs),
                    "to_100": pruned.epochs_to(final),
                    "to_99": pruned.epochs_to(SAME * final),
                    "none_to_99": plain.epochs_to(SAME * final),
                    "half": (plain.at(budget // 2), pruned.at(budget // 2)),
                }
            )
    return rows


def _ratio(budget: int, epochs: int | None) -> float:
    return budget / epochs if epochs else 0.0


def run(seeds: list[int], trials: int = TRIALS) -> str:
    """The multi-objective pruning table (medians over ``seeds``), as printed text."""
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = measure(seeds, trials)
    lines = [
        f"multi-objective pruning: MLP on digits, [accuracy, size KB]; no pruning: {trials} "
        f"trials x {EPOCHS} epochs; pareto_successive_halving: as many epochs; seeds {seeds}",
        "",
        "| seed | no pruning: epochs, final HV | pareto SH: trials, final HV | pareto epochs "
        f"to the no-pruning HV (fewer) | to {SAME:.0%} of it (fewer) | no pruning to {SAME:.0%} "
        "| HV at half the epochs: none / pareto |",
        "|---:|---|---|---|---|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['seed']} | {r['budget']}, {r['hv']:.4f} | {r['pareto_trials']}, "
            f"{r['pareto_hv']:.4f} | {r['to_100'] or 'never'} "
            f"({_ratio(r['budget'], r['to_100']):.1f}x) | {r['to_99'] or 'never'} "
            f"({_ratio(r['budget'], r['to_99']):.1f}x) | {r['none_to_99']} | "
            f"{r['half'][0]:.4f} / {r['half'][1]:.4f} |"
        )
    strict = statistics.median(_ratio(r["budget"], r["to_100"]) for r in rows)
    near = statistics.median(_ratio(r["budget"], r["to_99"]) for r in rows)
    lines.append(
        f"\nmedian: the no-pruning hypervolume with {strict:.1f}x fewer epochs (goal >= "
        f"{GOAL:g}x: {'met' if strict >= GOAL else 'NOT met'}); {SAME:.0%} of it with "
        f"{near:.1f}x fewer; {time.perf_counter() - started:.0f} s"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--trials", type=int, default=TRIALS)
    args = parser.parse_args()
    print(run(args.seeds, args.trials))


if __name__ == "__main__":
    main()
