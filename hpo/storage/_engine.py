"""Engines for SQLite and PostgreSQL, and the one place where database errors become hpo's."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import sys
import time
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, exc

from hpo import _metrics
from hpo.errors import InvalidArgumentError, UnavailableError

_logger = logging.getLogger(__name__)


def normalize_url(url: str) -> str:
    """Accept a bare path as a SQLite file and plain ``postgresql://`` as psycopg 3."""
    if "://" not in url:
        return f"sqlite:///{url}"
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def redact_url(url: str) -> str:
    """The URL with any password hidden, for logs and error messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except (exc.ArgumentError, ValueError):
        return "<unparseable database URL>"


#: The longest any call waits for the database (a lock, a connection, a busy SQLite file)
#: before it answers UNAVAILABLE: well below a client's deadline (60 s in the SDK), so the
#: client retries with its request id instead of timing out while the write lands later,
#: and a stalled database cannot hold the server's threads for long.
DATABASE_WAIT_SECONDS = 5.0


def create_engine(url: str) -> sa.Engine:
    """An engine tuned for hpo's access pattern: many short transactions from many threads,
    none waiting on the database longer than :data:`DATABASE_WAIT_SECONDS`."""
    url = normalize_url(url)
    try:
        parsed = sa.engine.make_url(url)
    except (exc.ArgumentError, ValueError) as e:  # ValueError: a port that is not a number
        # Not echoed: a URL that does not parse cannot have its password hidden.
        raise InvalidArgumentError.for_field(
            "database",
            f"not a database URL ({e}); e.g. sqlite:///hpo.db or postgresql://user@host/db",
        ) from None
    wait = DATABASE_WAIT_SECONDS
    if parsed.get_backend_name() == "sqlite":
        _require_folder(parsed.database, url)
        engine = _engine(
            url,
            connect_args={"check_same_thread": False, "timeout": wait},
            pool_size=8,
            max_overflow=16,
            pool_timeout=wait,
        )
        _configure_sqlite(engine)
        return engine
    engine = _engine(
        url,
        pool_size=8,
        max_overflow=16,
        pool_timeout=wait,
        connect_args={
            "connect_timeout": int(wait),
            # Lock waits (row, table and advisory locks) end with an error after `wait`.
            "options": f"-c lock_timeout={int(wait * 1000)}",
        },
    )
    _ping_after_idle(engine)
    return engine


def _engine(url: str, **options: Any) -> sa.Engine:
    """``sqlalchemy.create_engine``, with an unknown database or a missing driver said in one
    line (the URL and what to do) instead of SQLAlchemy's traceback."""
    try:
        return sa.create_engine(url, **options)
    except (exc.NoSuchModuleError, ImportError) as e:
        name = sa.engine.make_url(url).drivername
        raise InvalidArgumentError.for_field(
            "database",
            f"{redact_url(url)}: no database driver for {name!r} here ({e}); hpo runs on "
            "sqlite:///FILE and postgresql://...",
        ) from None


#: A pooled PostgreSQL connection unused for longer than this is pinged before use.
IDLE_PING_SECONDS = 1.0


def _ping_after_idle(engine: sa.Engine) -> None:
    """Ping a connection before use only when it sat idle in the pool (the server may have
    restarted meanwhile), not before every call: under load that round trip would be paid by
    every call. A connection that fails in use anyway is discarded with the rest of the pool
    by RawSql."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since", time.monotonic())
        if time.monotonic() - idle_since < IDLE_PING_SECONDS:
            return
        try:
            dbapi_connection.execute("SELECT 1")
            dbapi_connection.rollback()
        except Exception as e:  # the pool tries another connection (a new one)
            raise exc.DisconnectionError(str(e)) from e


def _require_folder(database: str | None, url: str) -> None:
    """A SQLite file in a folder that does not exist is a mistake, not an outage."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    folder = os.path.dirname(os.path.abspath(database))
    if not os.path.isdir(folder):
        raise InvalidArgumentError.for_field(
            "database", f"the folder {folder} does not exist ({redact_url(url)})"
        )


#: A connection execution option: on SQLite, its transactions take the database's write lock
#: when they begin, so that what they read stays true until they write (no other process can
#: write in between). PostgreSQL ignores it.
WRITE_LOCK = "hpo_write_lock"


def _configure_sqlite(engine: sa.Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below issue BEGIN, not the sqlite3 module.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # WAL lets readers run beside the writer; NORMAL syncs at checkpoints, which keeps
        # every committed transaction across a process crash (not across power loss).
        _use_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(DATABASE_WAIT_SECONDS * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # Write transactions on the hot path take the lock themselves (RawSql.write); a
        # connection with the WRITE_LOCK option takes it as it begins (BEGIN IMMEDIATE).
        immediate = conn.get_execution_options().get(WRITE_LOCK)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _use_wal(cursor: Any) -> None:
    """``PRAGMA journal_mode=WAL``, retried for up to :data:`DATABASE_WAIT_SECONDS`: on a new
    database that several processes open at once, SQLite answers "database is locked" at
    once, without waiting, to all but the one switching it (WAL then stays for good)."""
    give_up = time.monotonic() + DATABASE_WAIT_SECONDS
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > give_up:
                raise
            time.sleep(0.01)


def is_postgresql(engine: sa.Engine) -> bool:
    return engine.dialect.name == "postgresql"


class DuplicateKeyError(Exception):
    """A row with this key exists already (a unique constraint said so)."""


def _driver_errors() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """(unavailable, duplicate-key) exception classes of the DBAPI drivers hpo uses."""
    import sqlite3

    unavailable: tuple[type[BaseException], ...] = (
        exc.OperationalError,
        exc.InterfaceError,
        exc.DisconnectionError,
        exc.TimeoutError,
        sqlite3.OperationalError,
        sqlite3.InterfaceError,
    )
    duplicate: tuple[type[BaseException], ...] = (
        exc.IntegrityError,
        sqlite3.IntegrityError,
    )
    # Only a loaded psycopg raises its errors; importing it costs a tenth of a second that
    # a SQLite coordinator (a sweep's embedded one, say) need not spend at its start.
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None:
        unavailable += (psycopg.OperationalError, psycopg.InterfaceError)
        duplicate += (psycopg.IntegrityError,)
    return unavailable, duplicate


@contextlib.contextmanager
def translate_db_errors() -> Iterator[None]:
    """The one place where database errors become hpo's: a lost, locked or overloaded
    database is :class:`UnavailableError` (retryable); a unique-key conflict is
    :class:`DuplicateKeyError`, for callers that expect one."""
    try:
        yield
    except Exception as e:
        unavailable, duplicate = _driver_errors()
        if isinstance(e, duplicate):
            _metrics.observe_database_error("duplicate_key")
            raise DuplicateKeyError(str(e)) from e
        if isinstance(e, unavailable):
            _metrics.observe_database_error("unavailable")
            _logger.warning("database unavailable: %s: %s", type(e).__name__, e)
            raise UnavailableError("database unavailable; retry later") from e
        raise
