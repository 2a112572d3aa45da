"""Journal, leases and request ids.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "hpo_journal",
        sa.Column("seq", _BigInt, primary_key=True, autoincrement=False),
        sa.Column("payload", sa.Text, nullable=False),
    )
    op.create_table(
        "hpo_leases",
        sa.Column("trial_id", _BigInt, primary_key=True, autoincrement=False),
        sa.Column("study_id", _BigInt, nullable=False),
        sa.Column("client_id", sa.String(256), nullable=False),
        sa.Column("heartbeat_at", sa.Float, nullable=False),
    )
    op.create_index("ix_hpo_leases_study_client", "hpo_leases", ["study_id", "client_id"])
    op.create_table(
        "hpo_requests",
        sa.Column("study_id", _BigInt, primary_key=True, autoincrement=False),
        sa.Column("request_id", sa.String(128), primary_key=True),
        sa.Column("method", sa.String(32), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("hpo_requests")
    op.drop_index("ix_hpo_leases_study_client", "hpo_leases")
    op.drop_table("hpo_leases")
    op.drop_table("hpo_journal")
