"""Leaving Ray at the end of a sweep: the local Ray the sweep started is stopped whole (its
monitor killed first, not waited on), a cluster it joined is left running untouched. Starting
it: with Ray's socket connects retried every 50 ms (a cluster it joins is started by someone
else, and Ray refuses the setting then), and what the sweep imports meanwhile."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from .raycluster import local_cluster

_DRIVER = """
import json, sys, ray
from hpo.workers._local_ray import stop_ray
ray.init(address=sys.argv[1] or None, num_cpus=None if sys.argv[1] else 1,
         include_dashboard=False, log_to_driver=False)
node = ray._private.worker._global_node
pids = {kind: [i.process.pid for i in infos] for kind, infos in node.all_processes.items()}
stop_ray()
print(json.dumps({"pids": pids, "initialized": ray.is_initialized()}))
"""


_LATER_IMPORTS = """
import sys
import ray
from hpo.workers._local_ray import import_what_ray_imports_later, stop_ray
import_what_ray_imports_later()
ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
before = set(sys.modules)
ray.get(ray.remote(lambda: 1).remote())
stop_ray()
print(sorted(set(sys.modules) - before))
"""


def _last_line(script: str, *args: str, **env: str) -> str:
    """The last line ``script`` prints, run by a Python of its own with ``env`` (and without
    RAY_ADDRESS unless ``env`` sets it); it must succeed."""
    environment = {**os.environ, "RAY_AUTH_MODE": "disabled", **env}
    if "RAY_ADDRESS" not in env:
        environment.pop("RAY_ADDRESS", None)
    command = [sys.executable, "-c", script, *args]
    done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_ray_imports_nothing_at_its_first_call_and_shutdown_once_imported_ahead() -> None:
    """A sweep imports ahead, while Ray starts, what Ray would import at its first remote
    call (over a hundred modules, 0.1-0.2 s here) and at its shutdown; a Ray that imports
    more there would silently lose part of that."""
    assert _last_line(_LATER_IMPORTS) == "[]"


_SWEEP_START = """
import ray
from rich.console import Console
from hpo.workers._sweep import _ensure_ray
_ensure_ray(None, Console())
print(ray._config.raylet_client_connect_timeout_milliseconds(),
      ray._config.raylet_client_num_connect_attempts(),
      ray.get(ray.remote(lambda: ray._config.raylet_client_connect_timeout_milliseconds()).remote()))
ray.shutdown()
"""


def _start_as_a_sweep(**env: str) -> list[int]:
    return [int(word) for word in _last_line(_SWEEP_START, **env).split()]


def test_a_local_ray_of_its_own_retries_its_socket_connects_every_50_ms() -> None:
    """Driver and workers alike: Ray's default is a second between tries, which a raylet
    waited at about 4 starts in 10 here (its object store not listening yet)."""
    assert _start_as_a_sweep() == [50, 200, 50]


def test_a_cluster_joined_through_ray_address_is_left_with_its_own_settings(ray_cluster) -> None:
    """ray.init reads RAY_ADDRESS when given no address, and refuses start settings for a
    cluster it joins: the sweep passes none then."""
    assert _start_as_a_sweep(RAY_ADDRESS=ray_cluster) == [1000, 10, 1000]


def test_a_cluster_left_running_by_ray_start_is_joined_with_its_own_settings(
    tmp_path_factory, tmp_path
) -> None:
    """Given no address, ray.init joins the cluster `ray start` left running on this machine
    (its address in RAY_TMPDIR/ray/ray_current_cluster): start settings would be refused."""
    ray_tmpdir = tmp_path_factory.mktemp("rt")
    with local_cluster(ray_tmpdir / "ray", tmp_path, cpus=(1,)):
        assert _start_as_a_sweep(RAY_TMPDIR=str(ray_tmpdir)) == [1000, 10, 1000]


def _run_driver(address: str) -> dict:
    return json.loads(_last_line(_DRIVER, address))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is dead, merely not reaped yet
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_a_local_ray_is_stopped_whole_monitor_included() -> None:
    result = _run_driver("")
    pids = result["pids"]
    assert pids["monitor"] and pids["raylet"] and pids["gcs_server"], pids
    assert result["initialized"] is False
    give_up = time.monotonic() + 10
    left = [pid for group in pids.values() for pid in group]
    while left and time.monotonic() < give_up:
        left = [pid for pid in left if _alive(pid)]
        time.sleep(0.1)
    assert not left, f"still running after the sweep left Ray: {left} of {pids}"


def test_a_joined_cluster_keeps_its_monitor(ray_cluster) -> None:
    import ray

    own = ray._private.worker._global_node.all_processes["monitor"][0].process
    result = _run_driver(ray_cluster)
    assert result["pids"] == {}  # a driver that joined started nothing of the cluster
    assert own.poll() is None  # the cluster's monitor still runs
    assert ray.get(ray.put(1)) == 1
