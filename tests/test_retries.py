"""The SDK retries UNAVAILABLE with backoff: a coordinator that comes up late is reached."""

from __future__ import annotations

import socket
import threading
import time

import hpo
from hpo.server import Coordinator


def test_sdk_waits_for_a_coordinator_that_starts_late(sqlite_url: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started: list[Coordinator] = []

    def start_later() -> None:
        time.sleep(1.5)
        started.append(Coordinator(sqlite_url, port=port).start())

    threading.Thread(target=start_later, daemon=True).start()
    try:
        begin = time.monotonic()
        study = hpo.create_study("late", address=f"127.0.0.1:{port}")
        assert time.monotonic() - begin >= 1.0  # it really waited for the server
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
        assert len(study.trials) == 2
    finally:
        for coordinator in started:
            coordinator.stop(grace=1)
