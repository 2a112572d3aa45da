"""Schema migrations with Alembic, run by hpo itself when a storage is opened.

A database already at the newest revision is recognised with one query, and a new one gets
the declared tables directly, stamped with that revision: neither imports Alembic (a sixth
of a second of every coordinator's start, and of every ``hpo`` command on a local file).
Alembic runs only for a database with an older schema.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from hpo.errors import FailedPreconditionError, InvalidArgumentError
from hpo.storage._engine import WRITE_LOCK, is_postgresql, translate_db_errors
from hpo.storage._tables import metadata

_MIGRATIONS = Path(__file__).parent / "migrations"
#: The newest revision in migrations/versions (tests/test_migrations.py holds it to Alembic's).
HEAD_REVISION = "0005"
# Serializes concurrent upgrades by several coordinators starting on one PostgreSQL.
_MIGRATION_LOCK_KEY = 0x68706F4D  # "hpoM"
# Alembic's own table, as Alembic creates it.
_VERSIONS = sa.Table(
    "alembic_version",
    sa.MetaData(),
    sa.Column("version_num", sa.String(32), nullable=False),
    sa.PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


def upgrade(engine: sa.Engine) -> None:
    """Bring the database to the newest schema; a no-op when it is already there.

    Raises :class:`FailedPreconditionError` for a database hpo cannot bring there (made by a
    newer hpo, or holding some of hpo's tables without their revision) and
    :class:`InvalidArgumentError` for a file that is not a SQLite database."""
    with _as_hpo_errors(engine):
        with engine.connect() as conn, conn.begin():  # a plain read: waits for no writer
            if _schema(conn) == "current":
                return
        # Several coordinators may open a new database at once: each looks again and creates
        # or migrates only while it holds the write lock (SQLite) or the advisory lock.
        with engine.connect().execution_options(**{WRITE_LOCK: True}) as conn, conn.begin():
            if is_postgresql(engine):
                # A migration may take long: another coordinator starting meanwhile waits.
                conn.execute(sa.text("SET LOCAL lock_timeout = 0"))
                conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:k)").bindparams(k=_MIGRATION_LOCK_KEY)
                )
            schema = _schema(conn)
            if schema == "new":  # the tables as declared, at the newest revision
                metadata.create_all(conn)
                _VERSIONS.create(conn)
                conn.execute(_VERSIONS.insert().values(version_num=HEAD_REVISION))
            elif schema == "older":
                _run_migrations(conn)


def _schema(conn: sa.Connection) -> str:
    """ "current", "new" (none of hpo's tables) or "older" (Alembic's to bring up)."""
    tables = set(sa.inspect(conn).get_table_names())
    ours = sorted(tables & set(metadata.tables))
    if _VERSIONS.name not in tables:
        if not ours:
            return "new"
        raise FailedPreconditionError(
            f"database: it holds hpo's tables {', '.join(ours[:3])}"
            f"{', ...' if len(ours) > 3 else ''} but no schema revision (no alembic_version "
            "table): it was not made by hpo, or was damaged; use another database"
        )
    versions = conn.execute(sa.select(_VERSIONS.c.version_num)).scalars().all()
    return "current" if versions == [HEAD_REVISION] else "older"


@contextlib.contextmanager
def _as_hpo_errors(engine: sa.Engine) -> Iterator[None]:
    """Database errors as hpo's (:func:`translate_db_errors`), and a file that is not a
    database (a person named the wrong one) as one line."""
    try:
        with translate_db_errors():
            yield
    except sa.exc.DatabaseError as e:
        if "file is not a database" in str(e.orig):
            where = engine.url.render_as_string(hide_password=True)
            raise InvalidArgumentError.for_field(
                "database", f"{where} is not a SQLite database file"
            ) from None
        raise


def _run_migrations(conn: sa.Connection) -> None:
    from alembic import command
    from alembic.config import Config
    from alembic.util.exc import CommandError

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = conn
    try:
        command.upgrade(config, "head")
    except CommandError as e:  # an unknown revision, say
        raise FailedPreconditionError(
            f"database: its schema revision is not one this hpo knows (newest: "
            f"{HEAD_REVISION}): {e}; was it made by a newer hpo? Upgrade hpo, or use "
            "another database"
        ) from None
