"""What a sweep waits for before it leaves Ray: the lines its workers wrote, counted from
their log files the way Ray's log monitor publishes them (the sweep's own test, that no
printed line is lost, is in test_sweep_cli.py)."""

from __future__ import annotations

import os
import sys
import time
import uuid

from hpo.workers._output import _lines_written


def test_a_workers_lines_are_counted_from_its_log_files(ray_cluster) -> None:
    import ray

    since = time.time()

    @ray.remote
    class Chatty:
        def say(self) -> int:
            for i in range(25):
                print(f"line {i}", flush=True)
            print("no newline at the end", end="", flush=True)
            for i in range(3):
                print(f"complaint {i}", file=sys.stderr, flush=True)
            return os.getpid()

    # A runtime env of its own: a new worker process, whose logs hold only these lines.
    chatty = Chatty.options(runtime_env={"env_vars": {"HPO_TEST": uuid.uuid4().hex}}).remote()
    pid = str(ray.get(chatty.say.remote()))
    ray.kill(chatty)
    logs = ray._private.worker._global_node.get_logs_dir_path()
    counted = _lines_written(logs, ray.get_runtime_context().get_job_id(), since)
    assert counted[(pid, False)] == 26  # Ray's own marker lines are not counted
    assert counted[(pid, True)] == 3
    assert _lines_written(logs, "0badf00d", since) == {}  # another job's
