"""Ray worker pool: batch sweeps on CPUs and GPUs against an hpo coordinator.

``run_sweep`` runs a whole sweep (``hpo sweep`` is its CLI); ``WorkerPool`` and
``TrialWorker`` are the pieces. Workers are ordinary clients of the coordinator: they never
touch the database.

Names are imported when first used: a worker process, which imports this package to reach
``TrialWorker``, then loads neither the driver's sweep loop nor its progress display.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

try:
    import ray  # noqa: F401
except ImportError as e:  # the worker pool is an extra: the SDK, CLI and server work without
    raise ImportError("the worker pool needs Ray: pip install 'hpo[sweep]'", name=e.name) from e

from hpo._lazy import lazy_attribute

if TYPE_CHECKING:
    from hpo.workers._actor import TrialWorker, WorkerReport
    from hpo.workers._objective import ObjectiveRef
    from hpo.workers._output import leave_ray
    from hpo.workers._pool import Resources, WorkerPool
    from hpo.workers._sweep import SweepResult, run_sweep

_MODULES = {
    "ObjectiveRef": "hpo.workers._objective",
    "Resources": "hpo.workers._pool",
    "SweepResult": "hpo.workers._sweep",
    "TrialWorker": "hpo.workers._actor",
    "WorkerPool": "hpo.workers._pool",
    "WorkerReport": "hpo.workers._actor",
    "leave_ray": "hpo.workers._output",
    "run_sweep": "hpo.workers._sweep",
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
    return lazy_attribute(globals(), _MODULES, name)


def __dir__() -> list[str]:  # the lazy names too, for completion and help()
    return sorted({*globals(), *__all__})
