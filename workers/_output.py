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

_logger = logging.getLogger("hpo.workers")
#: The longest the count waits: Ray's exit hook sleeps as long for late lines.
DRAIN_SECONDS = 0.5
#: Lines Ray writes into a worker's log for its log monitor, which publishes none of them.
_JOB_MARKER = b":job_id:"
_RAY_MARKERS = (_JOB_MARKER, b":actor_name:", b":task_name:")
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
    """Start counting worker lines; call right after starting a local Ray (log_to_driver)."""
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
    ray.shutdown()


def _lines_written(logs: str, job: str, since: float) -> dict[tuple[str, bool], int]:
    """The lines of job ``job`` Ray's log monitor publishes from each worker log in ``logs``
    written to after ``since``, keyed as the driver receives them: (worker pid, from
    stderr)."""
    expected = {}
    ours = {None, job.encode()}
    for path in glob.glob(os.path.join(logs, "worker-*.out")) + glob.glob(
        os.path.join(logs, "worker-*.err")
    ):
        if os.path.getmtime(path) < since:  # a long-running cluster's earlier workers
            continue
        pid = os.path.splitext(path)[0].rsplit("-", 1)[1]
        with open(path, "rb") as file:
            lines = file.read().split(b"\n")  # as the log monitor's readline() splits them
        if lines[-1] == b"":
            lines.pop()
        published, line_job = 0, None
        for line in lines:
            if line.startswith(_JOB_MARKER):
                line_job = line[len(_JOB_MARKER) :]
            elif not line.startswith(_RAY_MARKERS) and line_job in ours:
                published += 1
        if published:
            expected[(pid, path.endswith(".err"))] = published
    return expected
