"""What the database holds, as one digest: every table hpo migrated, every row."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa


def db_digest(engine: sa.Engine) -> str:
    """A digest of every row of every table (found by reflection, so it follows the schema):
    equal digests mean nothing was written."""
    metadata = sa.MetaData()
    metadata.reflect(engine)
    digest = hashlib.sha256()
    with engine.connect() as conn:
        for name in sorted(metadata.tables):
            if name == "alembic_version":
                continue
            rows = sorted(repr(tuple(row)) for row in conn.execute(metadata.tables[name].select()))
            digest.update(f"{name}:{len(rows)}\n".encode())
            for row in rows:
                digest.update(row.encode())
    return digest.hexdigest()
