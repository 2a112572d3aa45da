"""The migrations build exactly the schema the code declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from hpo.storage import open_storage
from hpo.storage._tables import metadata


def test_migrated_schema_matches_the_tables_in_code(db_url: str) -> None:
    storage = open_storage(db_url)
    try:
        with storage.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == []
        open_storage(db_url).close()  # a second upgrade is a no-op
    finally:
        storage.close()
