"""Warm start, measured: trials a study needs to reach a first study's best value, with and
without warm start, through a coordinator in this process (the real code path).

    python bench/_meta_warm_start.py                   # seeds 0-4, the hpo table
    python bench/_meta_warm_start.py --seeds 0 1 2 --mechanisms   # also the design table

The task: kernel ridge classification of scikit-learn's digits (600 images, one-hot
targets), validation Brier score minimized; parameters alpha and gamma (log scales) and the
kernel (rbf or laplacian). Each evaluation solves one 420 x 420 system, so a run takes
minutes on two cores. Scenarios, each a source study of 40 TPE trials and a target:

- same task: the source's data and split again; goal: the source's best value.
- fresh splits: the same data split anew (another seed); goal: the best of a 40-trial cold
  TPE study on those splits (the source's best may not be reachable there).
- related data: source on digits 0-4, target on digits 5-9; goal as for fresh splits.
- unrelated source: source on the breast-cancer data (raw features, a far optimum), target
  on digits; goal as for fresh splits. Warm start must not cost more than noise here.

"Reached" means a value within 0.5 % of the goal; trials are counted up to and including
the first such trial, at most CAP (a study that never reaches it counts CAP + 1). Cold and
warm runs use the same sampler seed; medians over seeds.

``--mechanisms`` runs the variants that chose the design (plain Optuna in this process,
the same tasks): replay only, priors without the guard, replay and priors without the
guard, Optuna's warm-starting CMA-ES (``source_trials``) alone, and what hpo does (replay 3,
probe 3, guarded priors).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import functools
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import hpo  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.ERROR)
from hpo.service._warm_start_sampler import SourceTrials, WarmStartSampler  # noqa: E402

SPACE = {
    "alpha": FloatDistribution(1e-6, 10.0, log=True),
    "gamma": FloatDistribution(1e-4, 10.0, log=True),
    "kernel": CategoricalDistribution(["rbf", "laplacian"]),
}
SOURCE_TRIALS = 40
CAP = 100
TOLERANCE = 0.005
GOALS = {"same task": 5.0, "fresh splits": 3.0}
SAMPLERS = ("tpe", "cmaes")

#: A data set and how it is split: (name, split seed).
Task = tuple[str, int]


@dataclass(frozen=True)
class Scenario:
    name: str
    source: Task
    target: Task


SCENARIOS = [
    Scenario("same task", ("digits", 0), ("digits", 0)),
    Scenario("fresh splits", ("digits", 0), ("digits", 1)),
    Scenario("related data", ("digits 0-4", 0), ("digits 5-9", 0)),
    Scenario("unrelated source", ("breast cancer", 0), ("digits", 0)),
]


# -- the task --------------------------------------------------------------------------------


@functools.cache
def _data(task: Task) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], np.ndarray, np.ndarray]:
    from sklearn.datasets import load_breast_cancer, load_digits
    from sklearn.metrics.pairwise import euclidean_distances, manhattan_distances
    from sklearn.model_selection import train_test_split

    name, split = task
    if name == "breast cancer":
        X, y = load_breast_cancer(return_X_y=True)
    else:
        X, y = load_digits(return_X_y=True)
        X = X / 16.0
        if name == "digits 0-4":
            X, y = X[y < 5], y[y < 5]
        elif name == "digits 5-9":
            X, y = X[y >= 5], y[y >= 5]
    X, y = X[:600], y[:600]
    Xtr, Xva, ytr, yva = train_test_split(X, y, test_size=0.3, random_state=split, stratify=y)
    classes = np.unique(y)
    distances = {
        "rbf": (
            euclidean_distances(Xtr, squared=True),
            euclidean_distances(Xva, Xtr, squared=True),
        ),
        "laplacian": (manhattan_distances(Xtr), manhattan_distances(Xva, Xtr)),
    }
    one_hot = (ytr[:, None] == classes).astype(float), (yva[:, None] == classes).astype(float)
    return distances, *one_hot


def brier(task: Task, params: dict[str, Any]) -> float:
    """Validation Brier score of kernel ridge regression on one-hot labels."""
    from scipy.linalg import solve

    distances, Ytr, Yva = _data(task)
    train, valid = distances[params["kernel"]]
    gamma = params["gamma"]
    weights = solve(
        np.exp(-gamma * train) + params["alpha"] * np.eye(len(train)), Ytr, assume_a="pos"
    )
    predicted = np.exp(-gamma * valid) @ weights
    return float(((predicted - Yva) ** 2).sum(axis=1).mean())


def _reached(value: float, goal: float) -> bool:
    return value <= goal * (1 + TOLERANCE)


# -- through hpo -----------------------------------------------------------------------------


@contextlib.contextmanager
def _coordinator() -> Iterator[str]:
    from hpo.server import Coordinator

    with tempfile.TemporaryDirectory() as tmp:
        with Coordinator(f"sqlite:///{tmp}/bench.db", port=0) as running:
            yield running.address


class _Hpo:
    """Studies on one coordinator, named uniquely."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._n = 0

    def study(self, sampler: str, seed: int, warm_start: list[str] | None = None) -> hpo.Study:
        self._n += 1
        return hpo.create_study(
            f"s{self._n}",
            search_space=SPACE,
            sampler={"name": sampler, "seed": seed},
            pruner="none",
            warm_start=warm_start,
            address=self.address,
        )

    @staticmethod
    def run(study: hpo.Study, task: Task, n: int, goal: float | None = None) -> int:
        """Trials until one reaches ``goal`` (n + 1 if none does), or n without a goal."""
        for i in range(n):
            trial = study.ask()
            value = brier(task, trial.params)
            study.tell(trial, value)
            if goal is not None and _reached(value, goal):
                return i + 1
        return n if goal is None else n + 1


def measure(seeds: list[int]) -> dict[tuple[str, str], dict[str, list[int]]]:
    """Trials to the goal per (scenario, sampler): {"cold": [...], "warm": [...]}."""
    results: dict[tuple[str, str], dict[str, list[int]]] = {}
    with _coordinator() as address:
        h = _Hpo(address)
        for seed in seeds:
            sources: dict[Task, hpo.Study] = {}
            for scenario in SCENARIOS:
                if scenario.source not in sources:
                    sources[scenario.source] = h.study("tpe", seed)
                    h.run(sources[scenario.source], scenario.source, SOURCE_TRIALS)
                source = sources[scenario.source]
                if scenario.source == scenario.target:
                    goal = source.best_value
                else:
                    reference = h.study("tpe", 1000 + seed)
                    h.run(reference, scenario.target, SOURCE_TRIALS)
                    goal = reference.best_value
                for sampler in SAMPLERS:
                    row = results.setdefault((scenario.name, sampler), {"cold": [], "warm": []})
                    cold = h.study(sampler, 100 + seed)
                    row["cold"].append(h.run(cold, scenario.target, CAP, goal))
                    warm = h.study(sampler, 100 + seed, warm_start=[source.study_name])
                    row["warm"].append(h.run(warm, scenario.target, CAP, goal))
    return results


def run(seeds: list[int]) -> str:
    """The warm-start table (medians over ``seeds``), as printed text."""
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = measure(seeds)
    lines = [
        f"warm start: trials to reach the goal within {TOLERANCE:.1%} (median over seeds "
        f"{seeds}; at most {CAP}, {CAP + 1} = never)",
        "",
        "| scenario | sampler | cold | warm | cold / warm | goal | per seed (cold -> warm) |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for (scenario, sampler), row in results.items():
        cold, warm = statistics.median(row["cold"]), statistics.median(row["warm"])
        goal = GOALS.get(scenario)
        verdict = (
            f">= {goal:g}x: {'met' if cold / warm >= goal else 'NOT met'}"
            if goal
            else "not worse than cold"
            if scenario == "unrelated source"
            else "-"
        )
        pairs = ", ".join(f"{c}->{w}" for c, w in zip(row["cold"], row["warm"], strict=True))
        lines.append(
            f"| {scenario} | {sampler} | {cold:g} | {warm:g} | {cold / warm:.1f}x | {verdict} "
            f"| {pairs} |"
        )
    lines.append(f"\n({time.perf_counter() - started:.0f} s)")
    return "\n".join(lines)


# -- the design choice, in plain Optuna ------------------------------------------------------


def _optuna_run(task: Task, sampler: optuna.samplers.BaseSampler, n: int, goal: float | None):
    study = optuna.create_study(sampler=sampler)
    for i in range(n):
        trial = study.ask(dict(SPACE))
        value = brier(task, trial.params)
        study.tell(trial, value)
        if goal is not None and _reached(value, goal):
            return study, i + 1
    return study, n if goal is None else n + 1


def _base(kind: str, seed: int, **options: Any) -> optuna.samplers.BaseSampler:
    if kind == "tpe":
        return optuna.samplers.TPESampler(seed=seed, **options)
    return optuna.samplers.CmaEsSampler(seed=seed, **options)


def _cma_sources(trials: list[optuna.trial.FrozenTrial]) -> list[optuna.trial.FrozenTrial]:
    """Source trials as Optuna's warm-starting CMA-ES takes them: its numerical parameters."""
    kept = []
    for t in trials:
        t = copy.copy(t)
        t.params = {k: v for k, v in t.params.items() if k != "kernel"}
        t.distributions = {k: v for k, v in t.distributions.items() if k != "kernel"}
        kept.append(t)
    return kept


VARIANTS: dict[str, Callable[[str, int, list], optuna.samplers.BaseSampler | None]] = {
    "replay only": lambda kind, seed, src: WarmStartSampler(
        _base(kind, seed), src, [optuna.study.StudyDirection.MINIMIZE], probe=0, priors=False
    ),
    "priors, no guard": lambda kind, seed, src: WarmStartSampler(
        _base(kind, seed),
        src,
        [optuna.study.StudyDirection.MINIMIZE],
        replay=0,
        probe=0,
        guard=False,
    ),
    "replay + priors, no guard": lambda kind, seed, src: WarmStartSampler(
        _base(kind, seed), src, [optuna.study.StudyDirection.MINIMIZE], probe=0, guard=False
    ),
    "CMA-ES source_trials": lambda kind, seed, src: (
        None
        if kind != "cmaes"
        else _base(kind, seed, source_trials=_cma_sources(list(src[0].trials)))
    ),
    "hpo (replay 3, probe 3, guard)": lambda kind, seed, src: WarmStartSampler(
        _base(kind, seed), src, [optuna.study.StudyDirection.MINIMIZE]
    ),
}


def compare_mechanisms(seeds: list[int]) -> str:
    """Trials to the goal for each design variant (plain Optuna), medians over seeds."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    counts: dict[tuple[str, str, str], list[int]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for seed in seeds:
            for scenario in SCENARIOS:
                source, _ = _optuna_run(scenario.source, _base("tpe", seed), SOURCE_TRIALS, None)
                if scenario.source == scenario.target:
                    goal = source.best_value
                else:
                    reference, _ = _optuna_run(
                        scenario.target, _base("tpe", 1000 + seed), SOURCE_TRIALS, None
                    )
                    goal = reference.best_value
                trials = [SourceTrials("source", source.trials)]
                for kind in SAMPLERS:
                    _, cold = _optuna_run(scenario.target, _base(kind, 100 + seed), CAP, goal)
                    counts.setdefault((scenario.name, kind, "cold"), []).append(cold)
                    for label, make in VARIANTS.items():
                        sampler = make(kind, 100 + seed, trials)
                        if sampler is None:
                            continue
                        _, n = _optuna_run(scenario.target, sampler, CAP, goal)
                        counts.setdefault((scenario.name, kind, label), []).append(n)
    labels = ["cold", *VARIANTS]
    lines = [
        f"warm-start mechanisms (plain Optuna): median trials to the goal, seeds {seeds}",
        "",
        "| scenario | sampler | " + " | ".join(labels) + " |",
        "|---|---|" + "---:|" * len(labels),
    ]
    for scenario in SCENARIOS:
        for kind in SAMPLERS:
            cells = [
                f"{statistics.median(counts[key]):g}"
                if (key := (scenario.name, kind, label)) in counts
                else "-"
                for label in labels
            ]
            lines.append(f"| {scenario.name} | {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--mechanisms", action="store_true", help="also the design table")
    args = parser.parse_args()
    print(run(args.seeds), flush=True)
    if args.mechanisms:
        print()
        print(compare_mechanisms(args.seeds))


if __name__ == "__main__":
    main()
