"""Hot-path SQL on pooled DBAPI connections, without SQLAlchemy's per-statement machinery.

The coordinator runs a handful of fixed statements thousands of times a second; through
SQLAlchemy Core each cost several times the database's own work (measured: bench/).
Statements are written with ``?`` placeholders and adapted to the driver's style.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from hpo.storage._engine import is_postgresql, translate_db_errors


class ConditionFailedError(Exception):
    """A guarded statement changed no row: its transaction was rolled back."""


@dataclass(frozen=True)
class Statement:
    """One SQL statement with ``?`` placeholders. A ``guard`` must change exactly one row,
    or the whole transaction it runs in is rolled back with :class:`ConditionFailedError`."""

    sql: str
    params: Sequence[Any] = ()
    guard: bool = False


class RawSql:
    """Reads and write transactions on one engine's pool of DBAPI connections."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self.url = engine.url.render_as_string(hide_password=False)
        self.postgresql = is_postgresql(engine)
        self._qmark = engine.dialect.paramstyle == "qmark"

    def sql(self, text: str) -> str:
        """``text`` with ``?`` placeholders in the driver's style."""
        return text if self._qmark else text.replace("?", "%s")

    @contextlib.contextmanager
    def read(self) -> Iterator[Any]:
        """A cursor for reads outside any write transaction."""
        with translate_db_errors():
            conn = self._engine.raw_connection()
            try:
                yield conn.cursor()
                if self.postgresql:
                    conn.rollback()  # end the read transaction psycopg opened
            finally:
                conn.close()

    @contextlib.contextmanager
    def write(self, lock: tuple[int, int] | None = None) -> Iterator[Any]:
        """A cursor in one write transaction, committed on success.

        SQLite takes the database's write lock up front (``BEGIN IMMEDIATE``); PostgreSQL
        takes the transaction-scoped advisory lock ``lock`` (two 32-bit keys) when given.
        """
        with translate_db_errors():
            conn = self._engine.raw_connection()
            try:
                cursor = conn.cursor()
                if not self.postgresql:
                    cursor.execute("BEGIN IMMEDIATE")
                elif lock is not None:
                    cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", lock)
                try:
                    yield cursor
                except BaseException:
                    conn.rollback()
                    raise
                conn.commit()
            finally:
                conn.close()

    def execute_all(self, cursor: Any, statements: Sequence[Statement]) -> None:
        for statement in statements:
            cursor.execute(self.sql(statement.sql), statement.params)
            if statement.guard and cursor.rowcount != 1:
                raise ConditionFailedError(statement.sql)
