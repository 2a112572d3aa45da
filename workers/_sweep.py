"""A whole sweep on Ray: coordinator, study, worker pool, progress, summary.

This module is what a sweep runs before Ray has started: the arguments, the objective and
Ray's start, with only light imports. The sweep's own modules (the SDK, gRPC, Optuna, the
worker pool, the progress display: ``_sweep_loop``) are imported in a thread while Ray
starts, which mostly waits on its daemons.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import ray
from hpo.workers._local_ray import import_what_ray_imports_later, start_options
from hpo.workers._objective import ObjectiveRef, objective_loader
from hpo.workers._output import count_worker_output
from hpo.workers._pool import Resources, WorkerPool
from rich.console import Console
from rich.markup import escape

from hpo.client._embedded import budget_spent_in_embedded, preparing_embedded
from hpo.errors import FailedPreconditionError

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

_LOOP_MODULE = "hpo.workers._sweep_loop"


@dataclass(frozen=True)
class SweepResult:
    """How a sweep ended."""

    study: str
    counts: dict[str, int]
    #: The best completed trials, best first (the Pareto front for several directions).
    best_trials: list[FrozenTrial]
    seconds: float
    #: Why the sweep stopped before its budget, or None when it reached it.
    stopped: str | None = None
    worker_trials: dict[str, int] = field(default_factory=dict)
    #: The model version registered from the best trial, when ``register`` was given.
    registered: Any = None


def run_sweep(
    objective: str | Callable[..., Any],
    *,
    study: str,
    n_trials: int | None = None,
    direction: str | None = None,
    directions: Sequence[str] | None = None,
    workers: int = 2,
    cpus_per_trial: float = 1.0,
    gpus_per_trial: float = 0.0,
    sampler: str | dict[str, Any] | None = None,
    pruner: str | dict[str, Any] | None = None,
    coordinator: str | None = None,
    storage: str | None = None,
    ray_address: str | None = None,
    resume: bool = False,
    max_failures: int | None = None,
    retry_budget: int | None = None,
    lease_seconds: float | None = None,
    progress: bool = True,
    console: Console | None = None,
    on_start: Callable[[WorkerPool], None] | None = None,
    register: str | None = None,
    warm_start: str | Sequence[str] | None = None,
    warm_start_data: Any = None,
) -> SweepResult:
    """Run ``objective`` on a pool of Ray workers until the study's trial budget is spent.

    Everything that can be checked is checked before anything is written: the arguments,
    the objective (imported here, in the driver, before Ray starts), then, while the
    workers start, the study's settings (by the coordinator, which writes nothing when it
    refuses them).

    Args:
        objective: a function of a trial, or ``"file.py:function"`` / ``"module:function"``.
        study: the study's name. A new study gets the settings given (defaults: minimize,
            tpe, median, 100 trials, retry budget 2, 60 s leases). An
            existing one keeps its own: the settings given must equal them (an error names
            each that differs), those left out take the stored values, and the sweep goes
            on to its budget; so running the same sweep again finishes it, or does nothing.
        n_trials: the trial budget (failed trials excluded), enforced by the coordinator.
        workers: Ray actors to start; each holds ``cpus_per_trial`` CPUs and
            ``gpus_per_trial`` GPUs (fractions share a GPU), so fewer may run at once.
        coordinator: ``host:port`` of a running coordinator (or replicas ``a:1,b:2``);
            default ``$HPO_ADDRESS``, else an embedded one in this process on ``storage``
            (default ``$HPO_DB``, else the SQLite file hpo.db here), which workers on this
            machine reach over loopback.
        ray_address: an existing Ray cluster (``ray://head:10001``, ``auto``); default a local
            Ray started on demand (or the one this process already joined).
        resume: the study must exist already (``hpo.NotFoundError`` otherwise).
        max_failures: stop the sweep once more trials than this have failed (default: the
            trial budget; failed trials do not count against it, so an objective that always
            fails would otherwise run forever).
        on_start: called with the pool once its workers are started (tests use it).
        register: when the sweep reached its budget, register the best trial's artifact as a
            new version of this model.
        warm_start / warm_start_data: earlier studies whose trials inform a new study's
            sampler, as for :func:`hpo.create_study` (ignored when resuming).
    """
    console = console or Console()
    if n_trials is not None and n_trials < 1:
        raise ValueError("trials: must be >= 1")
    if workers < 1:
        raise ValueError("workers: must be >= 1")
    resources = Resources(cpus_per_trial, gpus_per_trial)
    loader = objective_loader(objective)
    if isinstance(loader, ObjectiveRef):
        loader.load()  # here, so that a typo is one line now, not a traceback from each worker
    # Ray first: starting a local Ray forks its processes, which is unsafe once this process
    # runs other threads (a coordinator, a gRPC channel): a child forked while another thread
    # holds a lock hangs, and Ray gives up after 30 s. The workers then start while the
    # coordinator and the study open. A study that has its whole budget already needs no Ray
    # (asked of the database itself, which starts no thread).
    spent = coordinator is None and budget_spent_in_embedded(storage, study)
    if not spent:
        # Ray's start mostly waits: the sweep's own modules are imported meanwhile.
        ahead = (_LOOP_MODULE, import_what_ray_imports_later)
        with preparing_embedded(coordinator, storage, also=ahead):
            _ensure_ray(ray_address, console)
    from hpo.workers._study import SweepSettings
    from hpo.workers._sweep_loop import sweep_on_ray

    settings = SweepSettings(
        n_trials,
        directions or ([direction] if direction else None),
        sampler,
        pruner,
        retry_budget,
        lease_seconds,
        warm_start,
        warm_start_data,
    )
    return sweep_on_ray(
        loader,
        study=study,
        settings=settings,
        workers=workers,
        resources=resources,
        spent=spent,
        coordinator=coordinator,
        storage=storage,
        resume=resume,
        max_failures=max_failures,
        progress=progress,
        console=console,
        on_start=on_start,
        register=register,
    )


def _ensure_ray(address: str | None, console: Console) -> None:
    if ray.is_initialized():
        return
    if address is None:
        _AUTH_NOTICE_LOGGER.addFilter(_quiet_local_token_notice)
    try:
        # A local Ray of its own runs without Ray's dashboard (a web server a sweep does not
        # need, and whose failed starts Ray reports as ERROR lines); for the dashboard, start
        # Ray with `ray start --head` and pass --ray-address auto.
        ray.init(
            address=address,
            logging_level=logging.WARNING,
            log_to_driver=True,
            include_dashboard=None if address else False,
            **start_options(address),
        )
    except (RuntimeError, ConnectionError, ray.exceptions.RayError) as e:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise FailedPreconditionError(f"{where} could not be started or reached: {first}") from e
    count_worker_output()  # so that leave_ray knows when the workers' output is printed
    if address:
        console.print(f"joined Ray cluster at {escape(address)}", soft_wrap=True)


# A local Ray keeps Ray's default, token authentication, without Ray's notice about it at
# every start; joining a cluster keeps every notice (see `hpo sweep --help`).
_AUTH_NOTICE_LOGGER = logging.getLogger("ray._private.authentication.authentication_token_setup")


def _quiet_local_token_notice(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith("Token authentication is enabled for this Ray")
