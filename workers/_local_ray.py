"""Stopping the local Ray a sweep started, a second sooner than ``ray.shutdown()`` alone.

``ray.shutdown()`` stops a local Ray's daemons one after another, the GCS before the
autoscaler monitor. The monitor, on SIGTERM, first tries to report its end to the GCS,
which is gone by then, so it exits only when Ray kills it after a grace of one second: a
second every ``hpo sweep`` spent waiting for nothing. A local Ray has nothing to autoscale;
killing its monitor first ends the same way (Ray's own path ends in that same SIGKILL),
without the wait.

Ray offers no public call for this: the processes a driver started are in ``ray._private``,
read in this one module. Only processes this driver started itself are touched (a driver
that joined a running cluster started none); when anything is not as expected,
``ray.shutdown()`` does it all, as before.
"""

from __future__ import annotations

import logging
import subprocess

import ray

_logger = logging.getLogger("hpo.workers")
#: What Ray imports in a driver at its first remote call, to register its serializers for
#: pydantic models and Arrow data (0.1-0.4 s here): a sweep imports them while Ray starts,
#: which mostly waits, instead of between Ray's start and its workers' creation. A module
#: a Ray version lacks is skipped.
FIRST_CALL_MODULES = ("ray._common.pydantic_compat", "ray._private.arrow_serialization")
#: How long to wait for the killed monitor to be reaped (it dies at once on SIGKILL).
_REAP_SECONDS = 2.0


def stop_ray() -> None:
    """Leave Ray; stop the local Ray this process started, its monitor first."""
    try:
        _kill_own_monitor()
    except Exception as e:  # anything not as expected: ray.shutdown() does it all
        _logger.debug("stopping the autoscaler monitor first: %s", e)
    ray.shutdown()


def _kill_own_monitor() -> None:
    node = ray._private.worker._global_node  # None in Ray Client mode
    if node is None:
        return
    # Filled only for the daemons this driver started (empty when it joined a cluster).
    for info in node.all_processes.get(ray._private.ray_constants.PROCESS_TYPE_MONITOR, ()):
        process: subprocess.Popen = info.process
        if process.poll() is None:
            process.kill()
            process.wait(_REAP_SECONDS)
