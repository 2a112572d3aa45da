"""Models belong to a principal.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hpo_model_versions") as batch:
        batch.add_column(sa.Column("owner", sa.String(128), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("hpo_model_versions") as batch:
        batch.drop_column("owner")
