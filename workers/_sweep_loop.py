"""A sweep once Ray runs: the study opened, the workers started, progress until the budget is
spent, the summary (``hpo.workers._sweep.run_sweep`` calls it)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import ray
from hpo.workers._actor import WorkerReport
from hpo.workers._objective import ObjectiveRef
from hpo.workers._pool import Resources, WorkerPool
from hpo.workers._progress import SweepProgress, print_summary, state_counts
from hpo.workers._study import SweepSettings, open_study
from hpo.workers._sweep import SweepResult
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState
from rich.console import Console
from rich.markup import escape

from hpo._address import is_loopback_address
from hpo._wire import FAIL_REASON_ATTR
from hpo.client import Study, resolve_address
from hpo.errors import FailedPreconditionError, HpoError

_logger = logging.getLogger("hpo.workers")
POLL_SECONDS = 0.5


def sweep_on_ray(
    loader: ObjectiveRef | Callable[..., Any],
    *,
    study: str,
    settings: SweepSettings,
    workers: int,
    resources: Resources,
    spent: bool,
    coordinator: str | None,
    storage: str | None,
    resume: bool,
    max_failures: int | None,
    progress: bool,
    console: Console,
    on_start: Callable[[WorkerPool], None] | None,
    register: str | None,
) -> SweepResult:
    """The rest of :func:`~hpo.workers._sweep.run_sweep` (its arguments, checked; Ray started
    unless the study's budget was ``spent`` already)."""
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
