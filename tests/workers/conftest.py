"""A local Ray for the worker-pool tests: 2 CPUs and 2 logical GPUs, started once."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

OBJECTIVES = Path(__file__).parent / "objectives.py"


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[str]:
    # Token authentication stays the product's default; only this local test cluster opts out.
    os.environ["RAY_AUTH_MODE"] = "disabled"
    import ray

    ray.init(num_cpus=2, num_gpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def objective(name: str) -> str:
    return f"{OBJECTIVES}:{name}"


def poll_in_background(step: Callable[[], bool], interval: float = 0.05) -> None:
    """Call ``step`` every ``interval`` seconds in a daemon thread until it returns True
    (e.g. kill something once a sweep is under way)."""

    def run() -> None:
        while not step():
            time.sleep(interval)

    threading.Thread(target=run, daemon=True).start()
