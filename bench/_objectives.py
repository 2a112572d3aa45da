"""Objectives the sweep benchmarks give to hpo's workers and to Ray Tune alike."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

SLEEP_SECONDS = 0.02


def sleep_20ms(trial) -> float:
    """A 20 ms objective: what the coordinator and the pool add is everything else."""
    x = trial.suggest_float("x", 0.0, 1.0)
    time.sleep(SLEEP_SECONDS)
    return (x - 0.5) ** 2


def digits(trial) -> float:
    import digits_sgd

    return digits_sgd.objective(trial)
