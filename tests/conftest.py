"""Fixtures: real databases (a SQLite file, a fresh PostgreSQL database) and real
coordinators on port 0."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import psycopg
import pytest

from hpo.server import Coordinator
from hpo.v1 import coordinator_pb2_grpc as api_grpc

CHECKOUT = Path(__file__).resolve().parent.parent
# Folders tools write on purpose (bytecode, caches, installed dependencies): not the suite's.
_TOOL_OUTPUT = (
    "__pycache__/",
    ".pytest_cache/",
    ".mypy_cache/",
    ".ruff_cache/",
    ".hypothesis/",  # hypothesis's example database
    "node_modules/",
)
CHECKOUT_STATE = pytest.StashKey[frozenset[str] | None]()
#: The test that compares the checkout before and after the session; it runs last.
LAST_TEST = "test_checkout_clean.py::test_the_suite_leaves_the_checkout_as_it_found_it"


def checkout_state() -> frozenset[str] | None:
    """What ``git status`` says about the checkout, ignored files included (hpo.db and
    hpo-artifacts/ are ignored, and a test must not write them either); None outside git."""
    try:
        result = subprocess.run(
            ["git", "status", "--porcelain", "--ignored", "--untracked-files=all"],
            cwd=CHECKOUT,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        )
    except FileNotFoundError:
        return None
    if result.returncode != 0:
        return None
    return frozenset(
        line
        for line in result.stdout.splitlines()
        if not any(part in line for part in _TOOL_OUTPUT) and not line.startswith("!! .venv/")
    )


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[CHECKOUT_STATE] = checkout_state()


@pytest.fixture
def checkout_written(request: pytest.FixtureRequest) -> list[str]:
    """What the session added to `git status` so far (for the test that runs last)."""
    before = request.config.stash[CHECKOUT_STATE]
    after = checkout_state()
    assert before is not None and after is not None, "the checkout must be a git work tree"
    return sorted(after - before)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    last = [item for item in items if item.nodeid.endswith(LAST_TEST)]
    items[:] = [item for item in items if item not in last] + last


@pytest.fixture(autouse=True)
def _work_in_tmp_path(tmp_path, monkeypatch) -> None:
    """Every test runs in its own folder, so whatever hpo writes to the working directory by
    default (hpo.db, hpo-artifacts/, MLflow's mlruns/) lands there, never in the checkout."""
    monkeypatch.chdir(tmp_path)


PG_ADMIN_URL = os.environ.get("HPO_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_url(database: str) -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{database}"


@pytest.fixture(autouse=True)
def _private_artifact_cache(tmp_path, monkeypatch) -> None:
    """hpo.registry.load caches under HPO_CACHE_DIR: keep each test's cache to itself."""
    monkeypatch.setenv("HPO_CACHE_DIR", str(tmp_path / "hpo-cache"))


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'hpo.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped afterwards."""
    name = f"hpo_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _pg_url(name)
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request) -> str:
    """Each test that takes it runs on both databases."""
    return request.getfixturevalue(
        f"{request.param}_url" if request.param == "sqlite" else "postgres_url"
    )


@pytest.fixture
def coordinator(db_url, tmp_path) -> Iterator[Coordinator]:
    """A coordinator on 127.0.0.1, port 0, on each database; reaps leases every 0.2 s."""
    artifacts = str(tmp_path / "artifacts")
    with Coordinator(db_url, port=0, reap_interval=0.2, artifacts_url=artifacts) as running:
        yield running


@pytest.fixture
def stub(coordinator: Coordinator) -> Iterator[api_grpc.CoordinatorStub]:
    """A raw stub on ``coordinator``; it sends and takes messages beyond the server's limit,
    so that the server's own limits answer."""
    big = 64 << 20
    with grpc.insecure_channel(
        coordinator.address,
        options=[("grpc.max_send_message_length", big), ("grpc.max_receive_message_length", big)],
    ) as channel:
        yield api_grpc.CoordinatorStub(channel)


@pytest.fixture
def sqlite_coordinator(sqlite_url) -> Iterator[Coordinator]:
    with Coordinator(sqlite_url, port=0, reap_interval=0.2) as running:
        yield running


TRAINER = Path(__file__).resolve().parent.parent / "examples" / "node-trainer"


@pytest.fixture(scope="session")
def node_trainer() -> Path:
    """The trainer with its npm dependencies (installed from the lock file when missing)."""
    assert shutil.which("node") and shutil.which("npm"), "Node.js 18+ and npm are required"
    if not (TRAINER / "node_modules" / "@grpc" / "grpc-js").is_dir():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=TRAINER,
            check=True,
            capture_output=True,
            timeout=600,
        )
    return TRAINER


#: The developer's own settings that would change what a new user's command does.
USER_SETTINGS = (
    "HPO_ADDRESS",
    "HPO_DB",
    "HPO_STORAGE",
    "HPO_TOKEN",
    "HPO_TLS_CA",
    "HPO_TLS_CERT",
    "HPO_TLS_KEY",
    "RAY_ADDRESS",
)


def user_environment(**extra: str) -> dict[str, str]:
    """This environment without hpo's and Ray's settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in USER_SETTINGS}
    return {**env, **extra}


@pytest.fixture
def hpo_cli(tmp_path) -> Callable[..., subprocess.CompletedProcess]:
    """Run ``hpo ARGS`` as a new user would: a real process in a fresh folder (tmp_path),
    without the developer's HPO_* settings. ``check``: exit status 0 is asserted."""

    def run(
        *args: str,
        check: bool = True,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "-m", "hpo.cli", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd or tmp_path,
            env=env or user_environment(),
        )
        if check:
            assert result.returncode == 0, result.stdout + result.stderr
        return result

    return run
