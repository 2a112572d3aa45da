"""Ray worker pool: batch sweeps on CPUs and GPUs against an hpo coordinator.

``run_sweep`` runs a whole sweep (``hpo sweep`` is its CLI); ``WorkerPool`` and
``TrialWorker`` are the pieces. Workers are ordinary clients of the coordinator: they never
touch the database.
"""

from __future__ import annotations

try:
    import ray  # noqa: F401
except ImportError as e:  # the worker pool is an extra: the SDK, CLI and server work without
    raise ImportError("the worker pool needs Ray: pip install 'hpo[sweep]'", name=e.name) from e

from hpo.workers._actor import TrialWorker, WorkerReport
from hpo.workers._objective import ObjectiveRef
from hpo.workers._output import leave_ray
from hpo.workers._pool import Resources, WorkerPool
from hpo.workers._sweep import SweepResult, run_sweep

__all__ = [
    "ObjectiveRef",
    "Resources",
    "SweepResult",
    "TrialWorker",
    "WorkerPool",
    "WorkerReport",
    "run_sweep",
    "leave_ray",
]
