"""Leaving Ray at the end of a sweep: the local Ray the sweep started is stopped whole (its
monitor killed first, not waited on), a cluster it joined is left running untouched. Starting
it: what the sweep imports meanwhile."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time

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


_FIRST_CALL = """
import sys
import ray
from hpo.workers._local_ray import FIRST_CALL_MODULES
ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
ray.get(ray.remote(lambda: 1).remote())
print(all(m in sys.modules for m in FIRST_CALL_MODULES))
"""


def test_the_modules_ray_imports_at_its_first_call_are_the_ones_imported_ahead() -> None:
    """A sweep imports FIRST_CALL_MODULES while Ray starts, so that its first remote call
    does not; a Ray that moved them would silently lose that."""
    from hpo.workers._local_ray import FIRST_CALL_MODULES

    for module in FIRST_CALL_MODULES:
        assert importlib.util.find_spec(module) is not None, module
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    env.pop("RAY_ADDRESS", None)
    command = [sys.executable, "-c", _FIRST_CALL]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1] == "True"


def _run_driver(address: str) -> dict:
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    env.pop("RAY_ADDRESS", None)
    done = subprocess.run(
        [sys.executable, "-c", _DRIVER, address],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


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
