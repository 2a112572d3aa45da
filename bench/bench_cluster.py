"""`hpo sweep` on a local Ray cluster of two nodes against one node of the same CPUs.

    python bench/bench_cluster.py [--trials 200] [--repeats 3] [--cpus 2]

Each run is whole processes, the way a platform team runs a sweep: a fresh PostgreSQL
database ($HPO_BENCH_PG, as in bench_load.py), `hpo server` on it, a Ray cluster started with
`ray start` (every node its own raylet, on 127.0.0.1), and `hpo sweep` of TRIALS trials of a
20 ms objective (random sampler, no pruner) with one worker per CPU, through --ray-address
and --coordinator. Two layouts of CPUS CPUs: one node with all of them, and two nodes
with half each (on a 2-core machine: 1 node x 2 CPUs against 2 nodes x 1 CPU). Per run:
the sweep's wall time (process start to exit: joining Ray, starting the workers, the trials),
the span from the first trial's start to the last one's end, trials/s over the wall time,
and how many trials ran on each node (the Ray node id each trial records in its lineage).
The layouts alternate in order from one repeat to the next; medians over repeats, and the
ratio two nodes / one node. The load average is printed before and after each run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
# The multi-node tests' helper: `ray start` per node, each node's processes ended by id.
sys.path.append(str(ROOT / "tests" / "workers"))
from _servers import hpo_server  # noqa: E402
from bench_load import fresh_pg  # noqa: E402
from raycluster import local_cluster  # noqa: E402

import hpo  # noqa: E402

HPO = [sys.executable, "-m", "hpo.cli"]
OBJECTIVE = f"{ROOT / 'bench' / '_objectives.py'}:sleep_20ms"
STUDY = "cluster"


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def sweep_once(cpus: list[int], trials: int, work: Path) -> dict:
    """One sweep on a fresh cluster with one node a number in ``cpus``."""
    # Ray's sockets live under its temp dir, whose path must stay short.
    ray_tmp = Path(tempfile.mkdtemp(prefix="hpo-bc-", dir="/tmp"))
    logs = Path(tempfile.mkdtemp(dir=work))
    try:
        with (
            fresh_pg() as db,
            hpo_server(db) as address,
            local_cluster(ray_tmp, logs, cpus) as cluster,
        ):
            node_ids = cluster.node_ids()
            command = [
                *HPO, "sweep", OBJECTIVE, "--study", STUDY, "--trials", str(trials),
                "--workers", str(sum(cpus)), "--sampler", "random", "--pruner", "none",
                "--ray-address", cluster.address, "--coordinator", address,
            ]  # fmt: skip
            start = time.perf_counter()
            sweep = subprocess.run(
                command, env=cluster.env, cwd=logs, capture_output=True, text=True, timeout=900
            )
            wall = time.perf_counter() - start
            if sweep.returncode != 0:
                raise RuntimeError(f"hpo sweep exited with {sweep.returncode}:\n{sweep.stderr}")
            study = hpo.load_study(STUDY, address=address)
            complete = study.get_trials(states=(hpo.TrialState.COMPLETE,))
            if len(complete) != trials:
                raise RuntimeError(f"{len(complete)} trials complete, not {trials}")
            ran_on = Counter(
                study.lineage(t.number).lineage.environment.ray_node_id for t in complete
            )
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
    span = max(t.datetime_complete for t in complete) - min(t.datetime_start for t in complete)
    return {
        "wall_s": wall,
        "span_s": span.total_seconds(),
        "trials_per_s": trials / wall,
        "per_node": [ran_on.get(node, 0) for node in node_ids],
        "elsewhere": trials - sum(ran_on.get(node, 0) for node in node_ids),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the cluster, even")
    args = parser.parse_args()
    if args.cpus < 2 or args.cpus % 2:
        parser.error("--cpus must be even and at least 2")
    layouts = {
        "1 node": [args.cpus],
        "2 nodes": [args.cpus // 2, args.cpus // 2],
    }
    print(
        f"# hpo sweep, {args.trials} trials x 20 ms, {args.cpus} workers, random sampler, "
        f"hpo server on PostgreSQL; {os.cpu_count()} cores on this machine"
    )
    print(
        f"{'layout':<8} {'CPUs':>5} {'wall s':>7} {'span s':>7} {'trials/s':>9} "
        f"{'trials per node':>16}  load average before -> after"
    )
    results: dict[str, list[dict]] = {name: [] for name in layouts}
    with tempfile.TemporaryDirectory() as work:
        for repeat in range(args.repeats):
            order = list(layouts) if repeat % 2 == 0 else list(reversed(layouts))
            for name in order:
                cpus = layouts[name]
                before = load_average()
                r = sweep_once(cpus, args.trials, Path(work))
                results[name].append(r)
                per_node = "+".join(str(n) for n in r["per_node"])
                if r["elsewhere"]:
                    per_node += f" (+{r['elsewhere']} elsewhere)"
                print(
                    f"{name:<8} {'+'.join(map(str, cpus)):>5} {r['wall_s']:>7.2f} "
                    f"{r['span_s']:>7.2f} {r['trials_per_s']:>9.1f} {per_node:>16}  "
                    f"{before} -> {load_average()}",
                    flush=True,
                )
    median = {
        name: {key: statistics.median(r[key] for r in runs) for key in ("wall_s", "span_s")}
        for name, runs in results.items()
    }
    print(f"# medians of {args.repeats}")
    for name, m in median.items():
        print(
            f"{name:<8} wall {m['wall_s']:.2f} s, span {m['span_s']:.2f} s, "
            f"{args.trials / m['wall_s']:.1f} trials/s"
        )
    one, two = median["1 node"], median["2 nodes"]
    print(
        f"2 nodes / 1 node: trials/s {one['wall_s'] / two['wall_s']:.2f}, "
        f"span {two['span_s'] / one['span_s']:.2f}"
    )


if __name__ == "__main__":
    main()
