"""The state of a whole database as one digest, for "a refused call writes nothing".

Tables are found by SQLAlchemy reflection, so the digest covers tables added (or renamed)
later without this file changing.
"""

from __future__ import annotations

import hashlib
from typing import Any

import grpc
import pytest
import sqlalchemy as sa


def database_digest(engine: sa.Engine) -> str:
    """SHA-256 over every row of every table (rows sorted, so storage order does not count)."""
    metadata = sa.MetaData()
    metadata.reflect(engine)
    digest = hashlib.sha256()
    with engine.connect() as conn:
        for table in sorted(metadata.tables.values(), key=lambda t: t.name):
            digest.update(f"\0table {table.name}\0".encode())
            for row in sorted(repr(tuple(r)) for r in conn.execute(sa.select(table))):
                digest.update(row.encode())
                digest.update(b"\0")
    return digest.hexdigest()


def table_rows(engine: sa.Engine) -> dict[str, int]:
    """Rows per table: the readable part of an assertion message when digests differ."""
    metadata = sa.MetaData()
    metadata.reflect(engine)
    with engine.connect() as conn:
        return {
            name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for name, table in sorted(metadata.tables.items())
        }


def expect_refused(
    engine: sa.Engine, call: Any, request: Any, code: grpc.StatusCode, field: str
) -> str:
    """``call(request)`` answers ``code`` with one line naming ``field`` first, and every
    table is as it was; returns the message."""
    before, rows = database_digest(engine), table_rows(engine)
    with pytest.raises(grpc.RpcError) as info:
        call(request, timeout=60)
    details = info.value.details()
    assert info.value.code() == code, details
    assert details.startswith(field) and "\n" not in details, details
    assert database_digest(engine) == before, (
        f"a refused call wrote: {rows} -> {table_rows(engine)}"
    )
    return details


def drop_connections(storage: Any) -> int:
    """Terminate every server connection to the PostgreSQL database of ``storage`` (as a
    restart does); how many there were."""
    database = sa.engine.make_url(storage.engine.url).database
    admin = sa.create_engine(storage.engine.url.set(database="postgres"))
    with admin.connect() as conn:
        dropped = conn.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = :db AND pid <> pg_backend_pid()"
            ),
            {"db": database},
        ).scalar()
    admin.dispose()
    return int(dropped or 0)
