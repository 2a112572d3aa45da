"""Ray Tune's side of `bench_sweep.py startup`, run as its own process the way a user runs a
script: a local Ray, N trials of the 20 ms objective, 2 at a time, OptunaSearch (TPE).

    python bench/_tune_sweep.py 40
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import _objectives  # noqa: E402
from ray import tune  # noqa: E402
from ray.tune.search.optuna import OptunaSearch  # noqa: E402


class _Trial:
    """Optuna's trial API over a Tune config, so Tune runs the very same objective."""

    def __init__(self, config: dict) -> None:
        self.config = config

    def suggest_float(self, name: str, low: float, high: float, **_: object) -> float:
        return self.config[name]


def trainable(config: dict) -> None:
    tune.report({"loss": _objectives.sleep_20ms(_Trial(config))})


def main(n: int) -> None:
    warnings.filterwarnings("ignore")
    import ray

    ray.init(include_dashboard=False)  # started as `hpo sweep` starts a local Ray
    tuner = tune.Tuner(
        trainable,
        param_space={"x": tune.uniform(0.0, 1.0)},
        tune_config=tune.TuneConfig(
            search_alg=OptunaSearch(metric="loss", mode="min"),
            num_samples=n,
            max_concurrent_trials=2,
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(storage_path=tempfile.mkdtemp(), verbose=0),
    )
    with contextlib.redirect_stdout(io.StringIO()):  # Tune prints where its results went
        results = tuner.fit()
    if len(results) != n or results.errors:
        sys.exit(f"Tune ran {len(results)} trials, {len(results.errors)} with errors")


if __name__ == "__main__":
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    main(int(sys.argv[1]))
