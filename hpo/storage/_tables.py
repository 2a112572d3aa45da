"""hpo's tables. Studies and their per-study logs hold what Optuna's storage interface
holds; the others hold what Optuna has no place for (leases, request ids, lineage, models).
Changing a table here needs a migration in ``migrations/versions``."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# SQLite only aliases the rowid for INTEGER PRIMARY KEY, not BIGINT.
_BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

studies = sa.Table(
    "hpo_studies",
    metadata,
    sa.Column("study_id", _BigInt, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(512), nullable=False),
    # JSON: direction names; the study's attributes; trials by state (for listing studies
    # without loading them).
    sa.Column("directions", sa.Text, nullable=False),
    sa.Column("user_attrs", sa.Text, nullable=False),
    sa.Column("system_attrs", sa.Text, nullable=False),
    sa.Column("trial_counts", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.UniqueConstraint("name", name="uq_hpo_studies_name"),
    # Ids are never reused: a deleted study's id stays dead (its log keeps a tombstone).
    sqlite_autoincrement=True,
)

study_log = sa.Table(
    "hpo_study_log",
    metadata,
    # Dense 0, 1, 2, ... per study: one row per unit of work, a JSON list of operations.
    sa.Column("study_id", _BigInt, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("payload", sa.Text, nullable=False),
)

study_snapshots = sa.Table(
    "hpo_study_snapshots",
    metadata,
    sa.Column("study_id", _BigInt, primary_key=True, autoincrement=False),
    # The snapshot is exactly the study's log rows 0..seq applied (zlib-compressed JSON).
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("payload", sa.LargeBinary, nullable=False),
)

leases = sa.Table(
    "hpo_leases",
    metadata,
    sa.Column("trial_id", _BigInt, primary_key=True, autoincrement=False),
    sa.Column("study_id", _BigInt, nullable=False),
    sa.Column("client_id", sa.String(256), nullable=False),
    # Unix seconds of the last Ask or Heartbeat.
    sa.Column("heartbeat_at", sa.Float, nullable=False),
    sa.Index("ix_hpo_leases_study_client", "study_id", "client_id"),
)

requests = sa.Table(
    "hpo_requests",
    metadata,
    sa.Column("study_id", _BigInt, primary_key=True, autoincrement=False),
    sa.Column("request_id", sa.String(128), primary_key=True),
    sa.Column("method", sa.String(32), nullable=False),
    # SHA-256 of the request's payload: a reused id with another payload is refused.
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

budgets = sa.Table(
    "hpo_budgets",
    metadata,
    sa.Column("study_id", _BigInt, primary_key=True, autoincrement=False),
    # Trials holding a unit of the study's trial budget (see TrialBudget).
    sa.Column("issued", sa.BigInteger, nullable=False),
)

lineage = sa.Table(
    "hpo_lineage",
    metadata,
    sa.Column("trial_id", _BigInt, primary_key=True, autoincrement=False),
    sa.Column("study_id", _BigInt, nullable=False, index=True),
    # The Lineage message as JSON (code version, environment, seed).
    sa.Column("payload", sa.Text, nullable=False),
)

data_records = sa.Table(
    "hpo_data",
    metadata,
    sa.Column("trial_id", _BigInt, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(256), primary_key=True),
    sa.Column("study_id", _BigInt, nullable=False, index=True),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
)

metrics = sa.Table(
    "hpo_metrics",
    metadata,
    sa.Column("trial_id", _BigInt, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(256), primary_key=True),
    sa.Column("step", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("study_id", _BigInt, nullable=False, index=True),
    sa.Column("value", sa.Float, nullable=False),
)

artifacts = sa.Table(
    "hpo_artifacts",
    metadata,
    sa.Column("trial_id", _BigInt, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(256), primary_key=True),
    sa.Column("study_id", _BigInt, nullable=False, index=True),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
)

model_versions = sa.Table(
    "hpo_model_versions",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("version", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("study", sa.String(256), nullable=False),
    sa.Column("trial_number", sa.BigInteger, nullable=False),
    sa.Column("artifact_name", sa.String(256), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    # RegisterModel's idempotency key and a digest of what it asked for.
    sa.Column("request_id", sa.String(128), nullable=True),
    sa.Column("request_digest", sa.String(64), nullable=True),
    # The principal that registered the model's first version owns the model ("" = everyone's).
    sa.Column("owner", sa.String(128), nullable=False, server_default=""),
    sa.UniqueConstraint("name", "request_id", name="uq_hpo_model_versions_request"),
)

model_aliases = sa.Table(
    "hpo_model_aliases",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("alias", sa.String(128), primary_key=True),
    sa.Column("version", sa.BigInteger, nullable=False),
)
