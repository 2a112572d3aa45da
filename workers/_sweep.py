"""A whole sweep on Ray: coordinator, study, worker pool, progress, summary."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import ray
from hpo.workers._objective import objective_loader
from hpo.workers._pool import Resources, WorkerPool
from hpo.workers._progress import SweepProgress, print_summary, state_counts
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState
from rich.console import Console

from hpo.client import Study, create_study, resolve_address
from hpo.errors import AlreadyExistsError, FailedPreconditionError, HpoError

_logger = logging.getLogger("hpo.workers")
POLL_SECONDS = 0.5


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
    n_trials: int,
    direction: str = "minimize",
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
    retry_budget: int = 2,
    lease_seconds: float = 60.0,
    progress: bool = True,
    console: Console | None = None,
    on_start: Callable[[WorkerPool], None] | None = None,
    register: str | None = None,
    warm_start: str | Sequence[str] | None = None,
    warm_start_data: Any = None,
) -> SweepResult:
    """Run ``n_trials`` trials of ``objective`` on a pool of Ray workers.

    Args:
        objective: a function of a trial, or ``"file.py:function"`` / ``"module:function"``.
        study: the study's name; it must not exist unless ``resume`` (then the sweep goes on
            to the study's stored budget).
        n_trials: the trial budget (failed trials excluded), enforced by the coordinator.
        workers: Ray actors to start; each holds ``cpus_per_trial`` CPUs and
            ``gpus_per_trial`` GPUs (fractions share a GPU), so fewer may run at once.
        coordinator: ``host:port`` of a running coordinator; default ``$HPO_ADDRESS``, else an
            embedded one in this process on ``storage`` (default ``sqlite:///hpo.db``), which
            workers on this machine reach over loopback.
        ray_address: an existing Ray cluster (``ray://head:10001``, ``auto``); default a local
            Ray started on demand (or the one this process already joined).
        max_failures: stop the sweep once more trials than this have failed.
        on_start: called with the pool once its workers are started (tests use it).
        register: when the sweep reached its budget, register the best trial's artifact as a
            new version of this model.
        warm_start / warm_start_data: earlier studies whose trials inform a new study's
            sampler, as for :func:`hpo.create_study` (ignored when resuming).
    """
    console = console or Console()
    address = resolve_address(coordinator, storage)
    handle = _open_study(
        address,
        study,
        n_trials,
        direction,
        directions,
        sampler,
        pruner,
        resume,
        retry_budget,
        lease_seconds,
        warm_start,
        warm_start_data,
    )
    budget = int(handle.info().trial_budget)
    loader = objective_loader(objective)
    _ensure_ray(ray_address, console)
    if coordinator is None and _embedded(address):
        _require_single_node(address)
    started = time.monotonic()
    pool = WorkerPool(workers, Resources(cpus_per_trial, gpus_per_trial), address, study, loader)
    if on_start is not None:
        on_start(pool)
    stopped: str | None = None
    try:
        with SweepProgress(study, budget, enabled=progress) as bar:
            while pool.running:
                pool.wait(POLL_SECONDS)
                counts = state_counts(handle.info())
                bar.update(counts, _best_value(handle))
                if max_failures is not None and counts["failed"] > max_failures:
                    stopped = f"more than {max_failures} trials failed"
                    break
    except KeyboardInterrupt:
        stopped = "interrupted"
        raise
    finally:
        if stopped is not None:
            pool.stop()
            _fail_abandoned(handle, pool.worker_ids, f"sweep stopped: {stopped}")
    counts = state_counts(handle.info())
    best = _leaders(handle)
    if progress:
        if stopped:
            console.print(f"[yellow]sweep stopped: {stopped}[/yellow]")
        print_summary(console, counts, best)
    registered = None
    if register and stopped is None:
        from hpo import registry

        registered = registry.register(register, study, address=address)
        if progress:
            console.print(
                f"registered {registered.name} version {registered.version} from "
                f"trial {registered.trial_number} ({registered.artifact.name})"
            )
    return SweepResult(
        registered=registered,
        study=study,
        counts=counts,
        best_trials=best,
        seconds=time.monotonic() - started,
        stopped=stopped,
        worker_trials={r.worker_id: r.trials for r in pool.reports},
    )


def _open_study(
    address: str,
    name: str,
    n_trials: int,
    direction: str,
    directions: Sequence[str] | None,
    sampler: Any,
    pruner: Any,
    resume: bool,
    retry_budget: int,
    lease_seconds: float,
    warm_start: str | Sequence[str] | None,
    warm_start_data: Any,
) -> Study:
    if n_trials < 1:
        raise ValueError("n_trials must be >= 1")
    try:
        handle = create_study(
            name,
            directions=list(directions) if directions else [direction],
            sampler=sampler,
            pruner=pruner,
            trial_budget=n_trials,
            retry_budget=retry_budget,
            lease_seconds=lease_seconds,
            load_if_exists=resume,
            address=address,
            warm_start=warm_start,
            warm_start_data=warm_start_data,
        )
    except AlreadyExistsError:
        raise AlreadyExistsError(
            f"study {name!r} exists already: pass resume (--resume) to continue it"
        ) from None
    stored = int(handle.info().trial_budget)
    if resume and stored != n_trials:
        _logger.warning("study %r keeps its stored budget of %d trials", name, stored)
    if not stored:
        raise FailedPreconditionError(
            f"study {name!r} has no trial budget; a sweep needs one to know when to stop"
        )
    return handle


def _ensure_ray(address: str | None, console: Console) -> None:
    if ray.is_initialized():
        return
    ray.init(address=address, logging_level=logging.WARNING, log_to_driver=True)
    if address:
        console.print(f"joined Ray cluster at {address}")


def _leaders(study: Study, limit: int = 5) -> list[FrozenTrial]:
    """The best few completed trials (by value), or the Pareto front of several directions."""
    if len(study.directions) != 1:
        return study.best_trials
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    maximize = study.direction == StudyDirection.MAXIMIZE
    return sorted(complete, key=lambda t: t.value or 0.0, reverse=maximize)[:limit]


def _embedded(address: str) -> bool:
    return address.startswith(("127.", "localhost", "[::1]"))


def _require_single_node(address: str) -> None:
    """Workers on other machines cannot reach a coordinator on this one's loopback."""
    here = ray.util.get_node_ip_address()
    others = {n["NodeManagerAddress"] for n in ray.nodes() if n.get("Alive")} - {here}
    if others:
        raise FailedPreconditionError(
            f"the Ray cluster has other nodes ({', '.join(sorted(others))}) that cannot reach "
            f"the coordinator embedded here on {address}: start `hpo server` on a reachable "
            "address and pass coordinator= (--coordinator)"
        )


def _best_value(study: Study) -> float | None:
    if len(study.directions) != 1:
        return None
    best = study.best_trials
    return best[0].value if best else None


def _fail_abandoned(study: Study, worker_ids: Sequence[str], reason: str) -> None:
    """Mark the trials our stopped workers held as FAILED, so none is left RUNNING."""
    ours = set(worker_ids)
    for trial in study.get_trials(states=(TrialState.RUNNING,)):
        if trial.system_attrs.get("hpo:client_id") in ours:
            try:
                study.tell(trial.number, state=TrialState.FAIL, fail_reason=reason)
            except HpoError as e:  # finished meanwhile
                _logger.debug("trial %d: %s", trial.number, e)
