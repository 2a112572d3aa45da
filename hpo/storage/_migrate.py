"""Schema migrations with Alembic, run by hpo itself when a storage is opened."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from hpo.storage._engine import is_postgresql, translate_db_errors

_MIGRATIONS = Path(__file__).parent / "migrations"
# Serializes concurrent upgrades by several coordinators starting on one PostgreSQL.
_MIGRATION_LOCK_KEY = 0x68706F4D  # "hpoM"


def upgrade(engine: sa.Engine) -> None:
    """Bring the database to the newest schema; a no-op when it is already there."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with translate_db_errors(), engine.begin() as conn:
        if is_postgresql(engine):
            # A migration may take long: another coordinator starting meanwhile waits for it.
            conn.execute(sa.text("SET LOCAL lock_timeout = 0"))
            conn.execute(
                sa.text("SELECT pg_advisory_xact_lock(:k)").bindparams(k=_MIGRATION_LOCK_KEY)
            )
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
