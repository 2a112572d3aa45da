"""Ray worker pool: batch sweeps on CPUs and GPUs against an hpo coordinator.

``run_sweep`` runs a whole sweep (``hpo sweep`` is its CLI); ``WorkerPool`` and
``TrialWorker`` are the pieces. Workers are ordinary clients of the coordinator: they never
touch the database.

Names are imported when first used: a worker process, which imports this package to reach
``TrialWorker``, then loads neither the driver's sweep loop nor its progress display.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

try:
    import ray  # noqa: F401
except ImportError as e:  # the worker pool is an extra: the SDK, CLI and server work without
    raise ImportError("the worker pool needs Ray: pip install 'hpo[sweep]'", name=e.name) from e

if TYPE_CHECKING:
    from hpo.workers._actor import TrialWorker, WorkerReport
    from hpo.workers._objective import ObjectiveRef
    from hpo.workers._output import leave_ray
    from hpo.workers._pool import Resources, WorkerPool
    from hpo.workers._sweep import SweepResult, run_sweep

_MODULES = {
    "ObjectiveRef": "_objective",
    "Resources": "_pool",
    "SweepResult": "_sweep",
    "TrialWorker": "_actor",
    "WorkerPool": "_pool",
    "WorkerReport": "_actor",
    "leave_ray": "_output",
    "run_sweep": "_sweep",
}
__all__ = [
    "ObjectiveRef",
    "Resources",
    "SweepResult",
    "TrialWorker",
    "WorkerPool",
    "WorkerReport",
    "leave_ray",
    "run_sweep",
]


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)


def __dir__() -> list[str]:  # the lazy names too, for completion and help()
    return sorted({*globals(), *__all__})
