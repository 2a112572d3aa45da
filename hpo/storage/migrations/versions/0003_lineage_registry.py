"""Lineage (code, environment, data, metrics, artifacts) and the model registry.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "hpo_lineage",
        sa.Column("trial_id", _BigInt, primary_key=True, autoincrement=False),
        sa.Column("study_id", _BigInt, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
    )
    op.create_index("ix_hpo_lineage_study_id", "hpo_lineage", ["study_id"])
    op.create_table(
        "hpo_data",
        sa.Column("trial_id", _BigInt, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("study_id", _BigInt, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
    )
    op.create_index("ix_hpo_data_study_id", "hpo_data", ["study_id"])
    op.create_table(
        "hpo_metrics",
        sa.Column("trial_id", _BigInt, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("step", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("study_id", _BigInt, nullable=False),
        sa.Column("value", sa.Float, nullable=False),
    )
    op.create_index("ix_hpo_metrics_study_id", "hpo_metrics", ["study_id"])
    op.create_table(
        "hpo_artifacts",
        sa.Column("trial_id", _BigInt, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("study_id", _BigInt, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_hpo_artifacts_study_id", "hpo_artifacts", ["study_id"])
    op.create_table(
        "hpo_model_versions",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("version", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("study", sa.String(256), nullable=False),
        sa.Column("trial_number", sa.BigInteger, nullable=False),
        sa.Column("artifact_name", sa.String(256), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("request_digest", sa.String(64), nullable=True),
        sa.UniqueConstraint("name", "request_id", name="uq_hpo_model_versions_request"),
    )
    op.create_table(
        "hpo_model_aliases",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("alias", sa.String(128), primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "hpo_model_aliases",
        "hpo_model_versions",
        "hpo_artifacts",
        "hpo_metrics",
        "hpo_data",
        "hpo_lineage",
    ):
        op.drop_table(table)
