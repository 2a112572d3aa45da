"""Starting and stopping the local Ray of a sweep's own, each a second sooner than Ray's
defaults.

Starting: a raylet connects to its object store's socket right after starting the store's
thread. When the store does not listen yet (about 4 starts in 10 on a 2-core machine), Ray
waits a whole second before trying again (its default retry delay for a local socket,
``raylet_client_connect_timeout_milliseconds``), and its start takes that second longer.
A local Ray of hpo's own retries every 50 ms, as many times over the same 10 s: the same end
without the wait. Ray accepts such settings only from the driver that starts the cluster, so
a sweep that joins one (named, or found as ``ray.init`` finds one) passes none.

Stopping: ``ray.shutdown()`` stops a local Ray's daemons one after another, the GCS before the
autoscaler monitor. The monitor, on SIGTERM, first tries to report its end to the GCS,
which is gone by then, so it exits only when Ray kills it after a grace of one second: a
second every ``hpo sweep`` spent waiting for nothing. A local Ray has nothing to autoscale;
killing its monitor first ends the same way (Ray's own path ends in that same SIGKILL),
without the wait.

Ray offers no public call for either: the settings and the processes a driver started are
in ``ray._private``, read in this one module. Only processes this driver started itself are
touched (a driver that joined a running cluster started none); when anything is not as
expected, ``ray.shutdown()`` does it all, as before.
"""

from __future__ import annotations

import importlib
import logging
import subprocess
from typing import Any

import ray
from ray._private import services

_logger = logging.getLogger("hpo.workers")
#: Ray's retry of a connect to a local socket (its object store's, its raylet's): every 50 ms
#: instead of every second, 200 tries instead of 10 (the same 10 s in all).
LOCAL_START_CONFIG = {
    "raylet_client_connect_timeout_milliseconds": 50,
    "raylet_client_num_connect_attempts": 200,
}
#: How long to wait for the killed monitor to be reaped (it dies at once on SIGKILL).
_REAP_SECONDS = 2.0


def import_what_ray_imports_later() -> None:
    """Import what Ray imports in a driver at its first remote call and at ``ray.shutdown()``
    (0.1-0.2 s here, over a hundred modules), so that a sweep does it while Ray starts,
    which mostly waits, instead of between Ray's start and its workers' creation.

    At its first call Ray creates its serialization context, which registers serializers for
    the pydantic, Starlette and Arrow types of whichever of those are installed
    (``ray.util.serialization_addons.apply``): run here against a stand-in that keeps
    nothing, it imports exactly what this Ray's own registration will import. Shutting down,
    Ray imports its compiled graphs to stop any."""
    from ray.util import serialization_addons

    serialization_addons.apply(_DiscardedRegistrations())
    importlib.import_module("ray.dag.compiled_dag_node")


class _DiscardedRegistrations:
    """A stand-in for Ray's serialization context that registers nothing."""

    def _register_cloudpickle_serializer(self, *args: object, **kwargs: object) -> None:
        pass

    def _register_cloudpickle_reducer(self, *args: object, **kwargs: object) -> None:
        pass


def start_options(address: str | None) -> dict[str, Any]:
    """``ray.init``'s keyword arguments for a sweep's Ray at ``address``: Ray's start settings
    above when ``ray.init`` will start a local Ray, none when it will join a cluster. Which
    one is Ray's own answer (``canonicalize_bootstrap_address``, as ``ray.init`` asks it):
    given no address, Ray joins the cluster ``RAY_ADDRESS`` names, or the one ``ray start``
    left running on this machine."""
    if address and "://" in address:  # a Ray Client address
        return {}
    try:
        # Annotated as taking a str, documented (and called by ray.init) with None too; its
        # scan for running clusters is cached, and ray.init's own call reuses it.
        found = services.canonicalize_bootstrap_address(address)  # type: ignore[arg-type]
        joins = found is not None
    except Exception:  # an address Ray cannot use: ray.init says what is wrong with it
        return {}
    return {} if joins else {"_system_config": dict(LOCAL_START_CONFIG)}


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
