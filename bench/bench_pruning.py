"""What a Report with median pruning costs as a study grows, against in-process Optuna.

    python bench/bench_pruning.py [--sizes 1000 10000 100000] [--reports 30]

For each size N: a study of N completed trials (each reported at steps 0 and 1) with the
median pruner; the median time of one report at step 0 of a new trial answered with the
pruner's decision, through a coordinator (`hpo server` on a SQLite file, the SDK's
``trial.report`` and ``trial.should_prune``) and in-process Optuna (InMemoryStorage,
MedianPruner, ``trial.report`` + ``trial.should_prune``) on the same trials.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import optuna

sys.path.insert(0, str(Path(__file__).parent))
from _prefill import prefill  # noqa: E402
from _servers import hpo_server  # noqa: E402

import hpo  # noqa: E402
from hpo.storage import open_storage  # noqa: E402


def _report_seconds(trial: object) -> float:
    start = time.perf_counter()
    trial.report(0.7, 0)  # type: ignore[attr-defined]
    trial.should_prune()  # type: ignore[attr-defined]
    return time.perf_counter() - start


def through_coordinator(n: int, reports: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/pruning.db"
        storage = open_storage(url)
        try:
            prefill(storage, "pruning", n)  # median pruner: the studies' default
        finally:
            storage.close()
        with hpo_server(url) as address:
            study = hpo.load_study("pruning", address=address)
            seconds = []
            for i in range(reports + 1):
                trial = study.ask()
                took = _report_seconds(trial)
                study.tell(trial, 1.0)
                if i:  # the first loaded the study
                    seconds.append(took)
    return statistics.median(seconds)


def in_process(n: int, reports: int) -> float:
    study = optuna.create_study(pruner=optuna.pruners.MedianPruner())
    study.add_trials(
        optuna.trial.create_trial(
            state=optuna.trial.TrialState.COMPLETE,
            value=1.0,
            params={},
            distributions={},
            intermediate_values={0: 1.0, 1: 0.5},
        )
        for _ in range(n)
    )
    seconds = []
    for _ in range(reports):
        trial = study.ask()
        seconds.append(_report_seconds(trial))
        study.tell(trial, 1.0)
    return statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--reports", type=int, default=30)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    print(f"# one report + pruning decision, median pruner, ms (median of {args.reports})")
    print(f"{'trials':>8} {'hpo':>8} {'optuna':>8} {'hpo/optuna':>11}")
    for n in args.sizes:
        ours, theirs = through_coordinator(n, args.reports), in_process(n, args.reports)
        print(f"{n:>8} {ours * 1e3:>8.2f} {theirs * 1e3:>8.2f} {ours / theirs:>10.2f}x", flush=True)


if __name__ == "__main__":
    main()
