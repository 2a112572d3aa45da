"""A real Ray cluster of one or more nodes on this machine, each its own raylet, started
with `ray start` as a user would, for the multi-node tests and bench/bench_cluster.py.

Every Ray process of the cluster runs in the sessions of the `ray start --block`
processes started here (one a node), and teardown ends exactly those processes, by id: `ray stop` would
end every Ray process of the user on the machine, other people's clusters included.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

RAY = [sys.executable, "-m", "ray.scripts.scripts"]
# Local test clusters opt out of token authentication; a lost node is noticed in ~2 s, and
# a worker whose raylet died exits within 0.1 s (Ray's default: 1 s).
RAY_ENV = {
    "RAY_raylet_death_check_interval_milliseconds": "100",
    "RAY_AUTH_MODE": "disabled",
    "RAY_health_check_initial_delay_ms": "1000",
    "RAY_health_check_period_ms": "500",
    "RAY_health_check_timeout_ms": "1000",
    "RAY_health_check_failure_threshold": "3",
    "RAY_USAGE_STATS_ENABLED": "0",
}


@dataclass
class RayNode:
    """One `ray start --block` process and the session its Ray processes run in."""

    process: subprocess.Popen
    node_manager_port: int

    def pids(self) -> list[int]:
        """Every process of this node: `ray start`, its raylet and agents, Ray workers."""
        return _session_pids(self.process.pid)

    def raylet_pid(self) -> int | None:
        """The pid of this node's raylet (found by its node manager port), or None."""
        for pid in self.pids():
            args = _cmdline(pid)
            is_raylet = bool(args) and Path(args[0]).name == "raylet"
            if is_raylet and f"--node_manager_port={self.node_manager_port}" in args:
                return pid
        return None


def _node_resource(index: int) -> str:
    """The custom resource that tells node ``index`` (0: the head) apart from the others."""
    return f"local_node_{index}"


@dataclass
class LocalCluster:
    """Ray nodes on 127.0.0.1, the head first; ``env`` is what a driver or `hpo sweep` of
    this cluster runs with."""

    address: str
    env: dict[str, str]
    nodes: list[RayNode]

    @property
    def head(self) -> RayNode:
        return self.nodes[0]

    @property
    def second(self) -> RayNode:
        return self.nodes[1]

    def node_ids(self) -> list[str]:
        """Ray node id of each node, in the order of ``nodes``."""
        ids = {
            index: node_id
            for node_id, resources in _live_nodes(self.address, self.env)
            for index in range(len(self.nodes))
            if _node_resource(index) in resources
        }
        return [ids[index] for index in range(len(self.nodes))]


def _live_nodes(address: str, env: dict[str, str]) -> list[tuple[str, dict[str, float]]]:
    """(node id, resources) of each live node of the cluster at ``address``, asked by a
    driver of its own (this process never joins the cluster)."""
    script = (
        f"import json, ray; ray.init(address={address!r}, logging_level='ERROR');"
        "print(json.dumps([(n['NodeID'], n['Resources']) for n in ray.nodes() if n['Alive']]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    if out.returncode != 0:
        return []
    return [tuple(node) for node in json.loads(out.stdout.strip().splitlines()[-1])]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _node_ports() -> list[str]:
    """Ports that default to fixed numbers and would clash between two nodes on one host."""
    return [
        f"--node-manager-port={free_port()}",
        f"--object-manager-port={free_port()}",
        f"--dashboard-agent-listen-port={free_port()}",
        f"--dashboard-agent-grpc-port={free_port()}",
        f"--runtime-env-agent-port={free_port()}",
        f"--metrics-export-port={free_port()}",
    ]


def _start(args: list[str], env: dict[str, str], log: Path) -> RayNode:
    ports = _node_ports()
    manager_port = int(ports[0].split("=")[1])
    with open(log, "w") as out:
        process = subprocess.Popen(
            [*RAY, "start", "--block", "--disable-usage-stats", *ports, *args],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    return RayNode(process, manager_port)


def two_node_cluster(temp_dir: Path, logs: Path) -> contextlib.AbstractContextManager[LocalCluster]:
    """A head node with 1 CPU and a second node with 1 CPU."""
    return local_cluster(temp_dir, logs, cpus=(1, 1))


@contextlib.contextmanager
def local_cluster(temp_dir: Path, logs: Path, cpus: Sequence[int]) -> Iterator[LocalCluster]:
    """One node a number in ``cpus`` (the head first, with its Ray temp dir ``temp_dir``,
    which must be a short path), on 127.0.0.1, each with its own custom resource; logs of
    `ray start` in ``logs``. Ends every process of every node afterwards."""
    env = {**os.environ, **RAY_ENV}
    for name in ("RAY_ADDRESS", "HPO_ADDRESS", "HPO_DB", "HPO_STORAGE"):
        env.pop(name, None)
    port = free_port()
    address = f"127.0.0.1:{port}"
    nodes: list[RayNode] = []
    try:
        for index, count in enumerate(cpus):
            if index == 0:
                role = [
                    "--head", f"--port={port}", f"--ray-client-server-port={free_port()}",
                    "--include-dashboard=false", f"--temp-dir={temp_dir}",
                ]  # fmt: skip
            else:
                role = [f"--address={address}"]
            nodes.append(_start(
                [*role, "--node-ip-address=127.0.0.1", f"--num-cpus={count}", "--num-gpus=0",
                 "--object-store-memory=100000000",
                 f"--resources={json.dumps({_node_resource(index): 1})}"],
                env, logs / f"node{index}.log",
            ))  # fmt: skip
            _wait_for_nodes(address, env, index + 1, nodes)
        yield LocalCluster(address, env, nodes)
    finally:
        for node in reversed(nodes):
            _end_session(node.process)


def _wait_for_nodes(address: str, env: dict[str, str], count: int, nodes: list[RayNode]) -> None:
    give_up = time.monotonic() + 120
    while time.monotonic() < give_up:
        for node in nodes:
            assert node.process.poll() is None, f"ray start exited with {node.process.returncode}"
        if len(_live_nodes(address, env)) >= count:
            return
        time.sleep(1)
    raise AssertionError(f"the Ray cluster at {address} has no {count} live nodes")


def _session_pids(session: int) -> list[int]:
    """Processes whose session id is ``session`` (the ray start process and its children)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[3]) == session:  # state ppid pgrp session
            pids.append(int(entry.name))
    return pids


def _cmdline(pid: int) -> list[str]:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_text().split("\0")
    except OSError:
        return []


def _end_session(process: subprocess.Popen) -> None:
    """SIGKILL every process of the session ``process`` leads, then reap it."""
    for _ in range(3):
        pids = _session_pids(process.pid)
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
