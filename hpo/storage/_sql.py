"""Hot-path SQL on pooled DBAPI connections, without SQLAlchemy's per-statement machinery.

The coordinator runs a handful of fixed statements thousands of times a second; through
SQLAlchemy Core each cost several times the database's own work (measured: bench/).
Statements are written with ``?`` placeholders and adapted to the driver's style.

On PostgreSQL every round trip counts (a unit of work holds its study's lock through all of
them): a unit's opening (BEGIN, the study's lock, the read of what it missed) is one round
trip, and so are its closing writes with the COMMIT (psycopg's pipeline mode). Connections
are not pinged before use; one the server dropped (a restart) is discarded with the whole
pool the first time it fails, and a unit or read that failed on it at its first round trip
runs again on a new connection.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import sqlalchemy as sa

from hpo.storage._engine import is_postgresql, translate_db_errors

_T = TypeVar("_T")


class ConditionFailedError(Exception):
    """A guarded statement changed no row: its transaction was rolled back."""


@dataclass(frozen=True)
class Statement:
    """One SQL statement with ``?`` placeholders. A ``guard`` must change exactly one row,
    or the whole transaction it runs in is rolled back with :class:`ConditionFailedError`."""

    sql: str
    params: Sequence[Any] = ()
    guard: bool = False


@dataclass
class WriteTransaction:
    """An open write transaction of :meth:`RawSql.open_locked`, ended by :meth:`RawSql.end`
    (in any thread): ``rows`` of its opening read, a ``cursor`` for statements that must run
    now, and ``closing``, statements (no guards) that go with the COMMIT, in its round trip."""

    conn: Any
    cursor: Any
    rows: list[tuple[Any, ...]]
    closing: list[Statement] = field(default_factory=list)


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
                with self._discarding_if_lost(conn):
                    yield conn.cursor()
                    if self.postgresql:
                        conn.rollback()  # end the read transaction psycopg opened
            finally:
                conn.close()

    def read_rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """The rows of one read (run again on a new connection if the pooled one was lost)."""

        def read(conn: Any) -> list[tuple[Any, ...]]:
            cursor = conn.cursor()
            cursor.execute(self.sql(sql), tuple(params))
            rows = list(cursor.fetchall())
            if self.postgresql:
                conn.rollback()  # end the read transaction psycopg opened
            return rows

        with translate_db_errors():
            conn, rows = self._opened(read)
            conn.close()
            return rows

    @contextlib.contextmanager
    def write(self, lock: tuple[int, int] | None = None) -> Iterator[Any]:
        """A cursor in one write transaction, committed on success.

        SQLite takes the database's write lock up front (``BEGIN IMMEDIATE``); PostgreSQL
        takes the transaction-scoped advisory lock ``lock`` (two 32-bit keys) when given.
        """
        with translate_db_errors():
            conn = self._engine.raw_connection()
            try:
                with self._discarding_if_lost(conn):
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

    @contextlib.contextmanager
    def in_transaction(self, transaction: WriteTransaction) -> Iterator[None]:
        """Around work in an open ``transaction``: database errors become hpo's, and a lost
        connection is discarded with its pool."""
        with translate_db_errors(), self._discarding_if_lost(transaction.conn):
            yield

    def open_locked(self, lock: tuple[int, int], sql: str, params: Sequence[Any]) -> WriteTransaction:
        """A write transaction holding ``lock``, opened together with the read ``sql``: one
        round trip on PostgreSQL to begin (and one to end: see ``closing``). SQLite takes
        the database's write lock instead. End it with :meth:`end`."""
        with translate_db_errors():
            return self._open_locked(lock, sql, params)

    def end(self, transaction: WriteTransaction, commit: bool) -> None:
        """Commit ``transaction`` (its closing statements first) or roll it back, and return
        its connection to the pool. A failed commit rolls back and raises."""
        conn = transaction.conn
        with translate_db_errors():
            try:
                with self._discarding_if_lost(conn):
                    if not commit:
                        with contextlib.suppress(Exception):  # a lost connection is discarded
                            conn.rollback()
                        return
                    try:
                        self._commit_with(conn, transaction)
                    except BaseException:
                        conn.rollback()
                        raise
            finally:
                conn.close()

    def rollback_to(self, transaction: WriteTransaction, name: str) -> None:
        """Roll ``transaction`` back to the savepoint ``name`` (set by a ``SAVEPOINT``
        statement run in it); raises when it cannot (the transaction must then end)."""
        with self.in_transaction(transaction):
            transaction.cursor.execute(f"ROLLBACK TO SAVEPOINT {name}")

    def _open_locked(
        self, lock: tuple[int, int], sql: str, params: Sequence[Any]
    ) -> WriteTransaction:
        def begin(conn: Any) -> WriteTransaction:
            cursor = conn.cursor()
            if not self.postgresql:
                cursor.execute("BEGIN IMMEDIATE")
                cursor.execute(self.sql(sql), tuple(params))
                return WriteTransaction(conn, cursor, list(cursor.fetchall()))
            locking = Statement("SELECT pg_advisory_xact_lock(?, ?)", lock)
            rows = self.execute_all(cursor, [locking], then=Statement(sql, params))
            return WriteTransaction(conn, cursor, rows)

        return self._opened(begin)[1]

    def _opened(self, first: Callable[[Any], _T]) -> tuple[Any, _T]:
        """A pooled connection and what ``first`` (its first round trip) returned. When that
        fails because the server had dropped the connection, ``first`` runs once more on a
        new one; any other failure rolls back, returns the connection and is raised."""
        for last_try in (False, True):
            conn = self._engine.raw_connection()
            try:
                return conn, first(conn)
            except BaseException:
                with contextlib.suppress(Exception):  # a lost connection cannot roll back
                    conn.rollback()
                lost = self._discard_if_lost(conn)
                conn.close()
                if last_try or not lost:
                    raise
        raise AssertionError("unreachable")

    def _commit_with(self, conn: Any, transaction: WriteTransaction) -> None:
        if not self.postgresql or not transaction.closing:
            self.execute_all(transaction.cursor, transaction.closing)
            conn.commit()
            return
        with _pipeline(transaction.cursor):
            for statement in transaction.closing:  # no guards: nothing is read back
                transaction.cursor.execute(self.sql(statement.sql), tuple(statement.params))
            conn.commit()

    @contextlib.contextmanager
    def _discarding_if_lost(self, conn: Any) -> Iterator[None]:
        try:
            yield
        except BaseException:
            self._discard_if_lost(conn)
            raise

    def _discard_if_lost(self, conn: Any) -> bool:
        """When the server dropped ``conn`` (a restart), discard it and every connection
        pooled with it (they went with it); True if so."""
        if not self.postgresql:
            return False
        driver = conn.driver_connection
        if driver is None:  # discarded already
            return True
        if not driver.broken:
            return False
        conn.invalidate()
        self._engine.dispose()
        return True

    def execute_all(
        self, cursor: Any, statements: Sequence[Statement], then: Statement | None = None
    ) -> list[tuple[Any, ...]]:
        """Run ``statements`` in order, then the read ``then`` (its rows are returned): one
        round trip on PostgreSQL. A guard that changed no row raises
        :class:`ConditionFailedError` (the transaction must then be rolled back)."""
        everything = [*statements, *([then] if then is not None else [])]
        if not self.postgresql or len(everything) < 2:
            for statement in everything:
                cursor.execute(self.sql(statement.sql), tuple(statement.params))
                _check_guard(statement, cursor)
            return list(cursor.fetchall()) if then is not None else []
        own = [
            (s, cursor.connection.cursor() if s.guard or s is then else cursor) for s in everything
        ]
        with _pipeline(cursor):
            for statement, on in own:
                on.execute(self.sql(statement.sql), tuple(statement.params))
        for statement, on in own:
            _check_guard(statement, on)
        return list(own[-1][1].fetchall()) if then is not None else []


def _check_guard(statement: Statement, cursor: Any) -> None:
    if statement.guard and cursor.rowcount != 1:
        raise ConditionFailedError(statement.sql)


def _pipeline(cursor: Any) -> contextlib.AbstractContextManager[Any]:
    """psycopg's pipeline mode on a cursor's connection: statements go out together, results
    come back at the end of the block."""
    return cursor.connection.pipeline()  # type: ignore[no-any-return]
