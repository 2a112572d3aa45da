"""A whole sweep on Ray: coordinator, study, worker pool, progress, summary."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import ray
from hpo.workers._actor import WorkerReport
from hpo.workers._objective import ObjectiveRef, objective_loader
from hpo.workers._output import count_worker_output
from hpo.workers._pool import Resources, WorkerPool
from hpo.workers._progress import SweepProgress, print_summary, state_counts
from hpo.workers._study import SweepSettings, open_study
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState
from rich.console import Console
from rich.markup import escape

from hpo._address import is_loopback_address
from hpo._wire import FAIL_REASON_ATTR
from hpo.client import Study, resolve_address
from hpo.client._embedded import budget_spent_in_embedded, preparing_embedded
from hpo.errors import FailedPreconditionError, HpoError

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
    # Ray first: starting a local Ray forks its processes, which is unsafe once this process
    # runs other threads (a coordinator, a gRPC channel): a child forked while another thread
    # holds a lock hangs, and Ray gives up after 30 s. The workers then start while the
    # coordinator and the study open. A study that has its whole budget already needs no Ray
    # (asked of the database itself, which starts no thread).
    spent = coordinator is None and budget_spent_in_embedded(storage, study)
    if not spent:
        with preparing_embedded(coordinator, storage):  # Ray's start mostly waits
            _ensure_ray(ray_address, console)
    pool = None if spent else WorkerPool(workers, resources, study, loader)
    try:
        address = resolve_address(coordinator, storage)
        handle = open_study(address, study, settings, resume, console if progress else None)
        info = handle.info()
        budget = int(info.trial_budget)
        started = time.monotonic()
        counts = state_counts(info)
        if counts["complete"] + counts["pruned"] >= budget:
            if pool is not None:
                pool.stop()
            return _finish(handle, study, counts, started, None, [], register, progress, console)
        if pool is None:  # finished trials never come back to life, nor do budgets grow
            raise FailedPreconditionError(
                f"study {study!r} changed while the sweep opened it: run the sweep again"
            )
        if coordinator is None and is_loopback_address(address):
            _require_single_node(address)
    except BaseException:
        if pool is not None:
            pool.stop()
        raise
    if max_failures is None:
        max_failures = budget
    pool.start(address)
    if on_start is not None:
        on_start(pool)
    stopped: str | None = None
    try:
        with SweepProgress(study, budget, console, enabled=progress) as bar:
            while pool.running:
                pool.wait(POLL_SECONDS)
                counts = state_counts(handle.info())
                bar.update(counts, _best_value(handle))
                if counts["failed"] > max_failures:
                    stopped = f"more than {max_failures} trials failed{_last_failure(handle)}"
                    break
    except KeyboardInterrupt:
        stopped = "interrupted"
        raise
    finally:
        if stopped is not None:
            pool.stop()
            _fail_abandoned(handle, pool.worker_ids, f"sweep stopped: {stopped}")
    info = handle.info()
    counts = state_counts(info)
    if stopped is None:
        stopped = _held_elsewhere(counts, budget, info.lease_seconds)
    return _finish(
        handle, study, counts, started, stopped, pool.reports, register, progress, console
    )


def _held_elsewhere(counts: dict[str, int], budget: int, lease_seconds: float) -> str | None:
    """Why the budget is not reached although every worker was told it is spent: trials
    still RUNNING under other clients' leases (another sweep, or one killed moments ago)."""
    running = counts["running"]
    if running == 0 or counts["complete"] + counts["pruned"] >= budget:
        return None
    return (
        f"{running} trial(s) still RUNNING under other clients' leases (a sweep on this study "
        f"elsewhere, or one killed less than {lease_seconds:g} s ago, whose trials fail when "
        "their leases run out): run the sweep again then to finish the budget"
    )


def _finish(
    handle: Study,
    study: str,
    counts: dict[str, int],
    started: float,
    stopped: str | None,
    reports: Sequence[WorkerReport],
    register: str | None,
    progress: bool,
    console: Console,
) -> SweepResult:
    """The summary, and the registration of the best trial when asked for."""
    best = _leaders(handle)
    if progress:
        if stopped:
            console.print(f"[yellow]sweep stopped: {escape(stopped)}[/yellow]", soft_wrap=True)
        print_summary(console, counts, best)
    registered = None
    if register and stopped is None:
        from hpo import registry

        registered = registry.register(register, study, address=handle.address)
        if progress:
            console.print(
                escape(
                    f"registered {registered.name} version {registered.version} from "
                    f"trial {registered.trial_number} ({registered.artifact.name})"
                ),
                soft_wrap=True,
            )
    return SweepResult(
        registered=registered,
        study=study,
        counts=counts,
        best_trials=best,
        seconds=time.monotonic() - started,
        stopped=stopped,
        worker_trials={r.worker_id: r.trials for r in reports},
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


def _leaders(study: Study, limit: int = 5) -> list[FrozenTrial]:
    """The best few completed trials (by value), or the Pareto front of several directions."""
    if len(study.directions) != 1:
        return study.best_trials
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    maximize = study.direction == StudyDirection.MAXIMIZE
    return sorted(complete, key=lambda t: t.value or 0.0, reverse=maximize)[:limit]


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


def _last_failure(study: Study) -> str:
    """ ": the last ..." naming why the latest failed trial failed (its reason's last line)."""
    failed = study.get_trials(states=(TrialState.FAIL,))
    reason = failed[-1].system_attrs.get(FAIL_REASON_ATTR, "") if failed else ""
    lines = [line for line in str(reason).strip().splitlines() if line.strip()]
    return f"; the last: {lines[-1].strip()[:200]}" if lines else ""


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
