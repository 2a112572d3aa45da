"""A local Ray for the worker-pool tests: 2 CPUs and 2 logical GPUs, started once."""

from __future__ import annotations

import os
from collections.abc import Iterator
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
