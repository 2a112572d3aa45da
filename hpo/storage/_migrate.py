"""Schema migrations with Alembic, run by hpo itself when a storage is opened.

A database already at the newest revision is recognised with one query, and a new one gets
the declared tables directly, stamped with that revision: neither imports Alembic (a sixth
of a second of every coordinator's start, and of every ``hpo`` command on a local file).
Alembic runs only for a database with an older schema.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

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
    """Bring the database to the newest schema; a no-op when it is already there."""
    # Several coordinators may open a new database at once: each reads which tables exist
    # and creates them only while it holds the write lock (SQLite) or the advisory lock.
    with (
        translate_db_errors(),
        engine.connect().execution_options(**{WRITE_LOCK: True}) as conn,
        conn.begin(),
    ):
        if is_postgresql(engine):
            # A migration may take long: another coordinator starting meanwhile waits for it.
            conn.execute(sa.text("SET LOCAL lock_timeout = 0"))
            conn.execute(
                sa.text("SELECT pg_advisory_xact_lock(:k)").bindparams(k=_MIGRATION_LOCK_KEY)
            )
        tables = set(sa.inspect(conn).get_table_names())
        if _VERSIONS.name in tables:
            if conn.execute(sa.select(_VERSIONS.c.version_num)).scalars().all() == [HEAD_REVISION]:
                return
        elif not tables & set(metadata.tables):  # a new database: the tables as declared
            metadata.create_all(conn)
            _VERSIONS.create(conn)
            conn.execute(_VERSIONS.insert().values(version_num=HEAD_REVISION))
            return
        _run_migrations(conn)


def _run_migrations(conn: sa.Connection) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = conn
    command.upgrade(config, "head")
