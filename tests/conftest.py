"""Fixtures: real databases (a SQLite file, a fresh PostgreSQL database) and real
coordinators on port 0."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import psycopg
import pytest

from hpo.server import Coordinator
from hpo.v1 import coordinator_pb2_grpc as api_grpc

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
def coordinator(db_url) -> Iterator[Coordinator]:
    """A coordinator on 127.0.0.1, port 0, on each database; reaps leases every 0.2 s."""
    with Coordinator(db_url, port=0, reap_interval=0.2) as running:
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
