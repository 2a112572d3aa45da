"""`hpo server` in a child process, for tests that signal or kill it."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def hpo_server(*args: str) -> Iterator[tuple[subprocess.Popen, str]]:
    """``hpo server --port 0 ARGS``: yields the process and its address once it listens;
    kills it afterwards if it still runs."""
    server = subprocess.Popen(
        [sys.executable, "-m", "hpo.cli", "server", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = server.stdout.readline()
        assert "listening on" in line, server.stderr.read()
        yield server, line.split("listening on ")[1].split()[0]
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
