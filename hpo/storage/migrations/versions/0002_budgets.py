"""Trial budgets counted in SQL, so that replicas cannot overshoot them.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "hpo_budgets",
        sa.Column("study_id", _BigInt, primary_key=True, autoincrement=False),
        sa.Column("issued", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("hpo_budgets")
