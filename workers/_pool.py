"""A pool of long-lived Ray actors, one per resource slot, working on one study."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ray

from hpo.errors import HpoError

if TYPE_CHECKING:
    from hpo.workers._actor import WorkerReport
    from hpo.workers._objective import ObjectiveRef

_logger = logging.getLogger("hpo.workers")
FORWARDED_ENV = ("HPO_TOKEN", "HPO_TLS_CA", "HPO_TLS_CERT", "HPO_TLS_KEY")


@dataclass(frozen=True)
class Resources:
    """What each trial gets: CPUs and a (possibly fractional) number of GPUs."""

    cpus: float = 1.0
    gpus: float = 0.0

    def __post_init__(self) -> None:
        if self.cpus < 0 or self.gpus < 0:
            raise ValueError("cpus_per_trial and gpus_per_trial must be >= 0")
        if self.gpus > 1 and self.gpus != int(self.gpus):
            raise ValueError("gpus_per_trial above 1 must be a whole number")


class WorkerPool:
    """``size`` TrialWorker actors with ``resources`` each, created at once (they start while
    the caller opens the coordinator and the study) and set to work by :meth:`start`.

    Actors Ray cannot place yet wait for resources; when the study's budget is spent every
    actor's ``run`` returns. A killed actor is restarted by Ray (``max_restarts=-1``) and its
    ``run`` re-executed (``max_task_retries=-1``).
    """

    def __init__(
        self,
        size: int,
        resources: Resources,
        study: str,
        objective: ObjectiveRef | Callable[..., Any],
    ) -> None:
        if size < 1:
            raise ValueError("workers: must be >= 1")
        from hpo.workers._actor import TrialWorker  # the SDK: imported once Ray runs

        # Workers reach a secured coordinator with the driver's settings (HPO_TOKEN, ...).
        env = {k: v for k, v in os.environ.items() if k in FORWARDED_ENV}
        actor_class = ray.remote(TrialWorker).options(
            num_cpus=resources.cpus,
            num_gpus=resources.gpus,
            max_restarts=-1,
            max_task_retries=-1,
            runtime_env={"env_vars": env} if env else None,
        )
        run_id = uuid.uuid4().hex[:8]
        self.worker_ids = [f"{study}/worker-{i}-{run_id}" for i in range(size)]
        self.actors = [
            actor_class.remote(worker_id, study, objective) for worker_id in self.worker_ids
        ]
        self._pending: dict[Any, Any] = {}
        self.reports: list[WorkerReport] = []

    def start(self, coordinator: str) -> None:
        """Every worker runs trials from the coordinator at ``coordinator`` until the study's
        budget is spent."""
        self._pending = {actor.run.remote(coordinator): actor for actor in self.actors}

    @property
    def running(self) -> bool:
        return bool(self._pending)

    def wait(self, timeout: float) -> None:
        """Collect the workers that finished within ``timeout`` seconds; release their slots.
        A worker that failed (coordinator unreachable, say) raises here."""
        if not self._pending:
            return
        done, _ = ray.wait(list(self._pending), num_returns=len(self._pending), timeout=timeout)
        for ref in done:
            actor = self._pending.pop(ref)
            try:
                self.reports.append(ray.get(ref))
            except ray.exceptions.RayTaskError as e:
                if isinstance(e.cause, HpoError):  # one line, not the worker's traceback
                    raise e.cause from None
                raise
            finally:
                ray.kill(actor, no_restart=True)

    def stop(self, wait_seconds: float = 10.0) -> None:
        """Kill every worker and wait (up to ``wait_seconds``) until they are gone, so none
        asks for a trial afterwards; their running trials stay RUNNING until told otherwise."""
        for actor in self._pending.values() if self._pending else self.actors:
            ray.kill(actor, no_restart=True)
        # ray.kill returns at once; a run ends (with an error) only when its actor is dead.
        if self._pending:
            ray.wait(list(self._pending), num_returns=len(self._pending), timeout=wait_seconds)
        self._pending.clear()
