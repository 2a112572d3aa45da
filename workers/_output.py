"""What workers print reaches the sweep's terminal before it leaves Ray.

Ray forwards workers' output by tailing their log files (its log monitor polls them every
0.1 s) and publishing the lines to the driver. A driver that exits without
``ray.shutdown()`` gets half a second from Ray's exit hook for late lines; one that calls it
loses the lines still on their way. A sweep whose workers all run on this machine knows when
they are done: once they returned, every line they printed is in their log files here. It
counts those lines, waits until the driver has been handed as many (at most as long as Ray's
exit hook would have), and then leaves Ray itself (stopping it when it started it).

Ray offers no public call for this: the counter listens where the driver's own printer does
(``ray._private``), in this one module. When anything here is not as expected the sweep
simply leaves stopping to Ray's exit hook, as before.
"""

from __future__ import annotations

import collections
import glob
import logging
import os
import threading
import time
from typing import Any

import ray
from hpo.workers._local_ray import stop_ray

_logger = logging.getLogger("hpo.workers")
#: The longest the count waits: Ray's exit hook sleeps as long for late lines.
DRAIN_SECONDS = 0.5
#: The line Ray writes into a worker's log when a job starts using the worker.
_JOB_MARKER = b":job_id:"
#: Lines Ray writes into a worker's log for its log monitor, which publishes none of them.
_RAY_MARKERS = (_JOB_MARKER, b":actor_name:", b":task_name:")
#: The job part of the log name of a worker Ray started before any job used it.
_NO_JOB_YET = "ffffffff"
_HANDLER = "hpo_worker_output_count"


class WorkerOutput:
    """Counts the worker lines the driver is handed, per log file (worker pid, stream)."""

    def __init__(self) -> None:
        #: When counting began: older log files hold no line of this sweep.
        self.since = time.time()
        self._received: collections.Counter[tuple[str, bool]] = collections.Counter()
        self._changed = threading.Condition()

    def __call__(self, data: dict) -> None:
        with self._changed:
            key = (str(data.get("pid")), bool(data.get("is_err")))
            self._received[key] += len(data.get("lines") or ())
            self._changed.notify_all()

    def wait_for(self, expected: dict[tuple[str, bool], int], timeout: float) -> bool:
        """Whether every file's ``expected`` lines arrived within ``timeout`` seconds."""
        with self._changed:
            return self._changed.wait_for(
                lambda: all(self._received[k] >= n for k, n in expected.items()), timeout
            )


_counter: WorkerOutput | None = None


def count_worker_output() -> None:
    """Start counting the worker lines handed to this driver; call right after joining or
    starting Ray (with log_to_driver)."""
    global _counter
    try:
        from ray._private.ray_logging import global_worker_stdstream_dispatcher
    except ImportError:  # another Ray: its exit hook does the waiting
        return
    _counter = WorkerOutput()
    global_worker_stdstream_dispatcher.add_handler(_HANDLER, _counter)


def leave_ray() -> None:
    """Leave Ray (stopping the local Ray the sweep started) once every line its workers on
    this machine wrote has been printed here, or ``DRAIN_SECONDS`` passed. Nothing when
    :func:`count_worker_output` did not run or workers may run on other machines: Ray's exit
    hook then does it."""
    global _counter
    counter, _counter = _counter, None
    if counter is None or not ray.is_initialized():
        return
    started = time.monotonic()
    try:
        if sum(1 for node in ray.nodes() if node.get("Alive")) != 1:
            return  # lines from other machines cannot be counted here
        job = ray.get_runtime_context().get_job_id()
        node: Any = ray._private.worker._global_node  # None in Ray Client mode
        expected = _lines_written(node.get_logs_dir_path(), job, counter.since)
    except Exception as e:  # anything not as expected: leave it to Ray's exit hook
        _logger.debug("counting worker output: %s", e)
        return
    if not counter.wait_for(expected, DRAIN_SECONDS):
        _logger.debug("worker output still arriving after %.2fs", time.monotonic() - started)
    stop_ray()


def _lines_written(logs: str, job: str, since: float) -> dict[tuple[str, bool], int]:
    """The lines of job ``job`` Ray's log monitor publishes from each worker log in ``logs``
    written to after ``since``, keyed as the driver receives them: (worker pid, from
    stderr). A worker serves one job: a log named for another job, or whose first job marker
    names another, is not read on (a shared cluster's other jobs may log gigabytes). Read a
    line at a time; :class:`TimeoutError` past ``DRAIN_SECONDS`` of reading."""
    give_up = time.monotonic() + DRAIN_SECONDS
    expected = {}
    for path in glob.glob(os.path.join(logs, "worker-*.out")) + glob.glob(
        os.path.join(logs, "worker-*.err")
    ):
        # worker-<worker id>-<job id, or ffffffff when started before any job>-<pid>.out
        _, _, named_job, pid = os.path.splitext(os.path.basename(path))[0].split("-")
        if named_job not in (job, _NO_JOB_YET) or os.path.getmtime(path) < since:
            continue
        published = _published_lines(path, job.encode(), give_up)
        if published:
            expected[(pid, path.endswith(".err"))] = published
    return expected


def _published_lines(path: str, job: bytes, give_up: float) -> int:
    published, line_job = 0, None
    with open(path, "rb") as file:
        for count, line in enumerate(file):  # split at b"\n", as the monitor's readline()
            if line.startswith(_JOB_MARKER):
                line_job = line[len(_JOB_MARKER) :].rstrip(b"\r\n")
                if line_job != job:
                    return 0
            elif not line.startswith(_RAY_MARKERS) and line_job in (None, job):
                published += 1
            if count % 10_000 == 0 and time.monotonic() > give_up:
                raise TimeoutError(f"counting the lines of {path} took too long")
    return published
