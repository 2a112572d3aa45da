"""Each study its own log: a studies table, per-study log rows and snapshots.

Converts the single journal of earlier versions (Optuna's JournalStorage operations) by
replaying it with Optuna's public JournalStorage, then drops it. Trial ids change to the new
scheme (study id in the high bits), so the tables that hold trial ids are renumbered.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from alembic import op
from optuna.storages import JournalStorage
from optuna.storages.journal import BaseJournalBackend
from optuna.trial import TrialState

from hpo.storage._trial_log import directions_to_json, encode_ops, trial_id_of, trial_op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TRIAL_ID_TABLES = ("hpo_leases", "hpo_lineage", "hpo_data", "hpo_metrics", "hpo_artifacts")


class _Logs(BaseJournalBackend):
    """The old journal's rows, for Optuna's JournalStorage to replay (read-only)."""

    def __init__(self, payloads: list[str]) -> None:
        self._logs = [json.loads(p) for p in payloads]

    def read_logs(self, log_number_from: int) -> Iterable[dict[str, Any]]:
        return self._logs[log_number_from:]

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        raise RuntimeError("the old journal is read-only during the migration")


def upgrade() -> None:
    op.create_table(
        "hpo_studies",
        sa.Column("study_id", _BigInt, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("directions", sa.Text, nullable=False),
        sa.Column("user_attrs", sa.Text, nullable=False),
        sa.Column("system_attrs", sa.Text, nullable=False),
        sa.Column("trial_counts", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("name", name="uq_hpo_studies_name"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "hpo_study_log",
        sa.Column("study_id", _BigInt, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("payload", sa.Text, nullable=False),
    )
    op.create_table(
        "hpo_study_snapshots",
        sa.Column("study_id", _BigInt, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
    )
    _convert_journal(op.get_bind())
    op.drop_table("hpo_journal")


def _convert_journal(conn: sa.Connection) -> None:
    payloads = conn.execute(sa.text("SELECT payload FROM hpo_journal ORDER BY seq")).scalars()
    journal = JournalStorage(_Logs(list(payloads)))
    studies = journal.get_all_studies()
    if not studies:
        return
    for table in _TRIAL_ID_TABLES:  # park old ids out of the way of the new ones
        conn.execute(sa.text(f"UPDATE {table} SET trial_id = -trial_id - 1"))
    leased = {row[0] for row in conn.execute(sa.text("SELECT trial_id FROM hpo_leases"))}
    for study in studies:
        study_id = study._study_id
        trials = journal.get_all_trials(study_id, deepcopy=False)
        counts: dict[str, int] = {}
        for trial in trials:
            counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
        conn.execute(
            sa.text(
                "INSERT INTO hpo_studies (study_id, name, directions, user_attrs, system_attrs, "
                "trial_counts, created_at) VALUES (:id, :name, :dirs, :ua, :sa, :counts, :at)"
            ),
            {
                "id": study_id,
                "name": study.study_name,
                "dirs": directions_to_json(study.directions),
                "ua": json.dumps(study.user_attrs),
                "sa": json.dumps(study.system_attrs),
                "counts": json.dumps(counts),
                "at": time.time(),
            },
        )
        ops = [{"o": "study_ua", "k": k, "x": v} for k, v in study.user_attrs.items()]
        ops += [{"o": "study_sa", "k": k, "x": v} for k, v in study.system_attrs.items()]
        ops += [trial_op(t) for t in trials]
        conn.execute(
            sa.text("INSERT INTO hpo_study_log (study_id, seq, payload) VALUES (:id, 0, :p)"),
            {"id": study_id, "p": encode_ops(ops)},
        )
        for trial in trials:
            old, new = trial._trial_id, trial_id_of(study_id, trial.number)
            for table in _TRIAL_ID_TABLES:
                conn.execute(
                    sa.text(f"UPDATE {table} SET trial_id = :new WHERE trial_id = :old"),
                    {"new": new, "old": -old - 1},
                )
            if trial.state == TrialState.RUNNING and -old - 1 not in leased:
                started = trial.datetime_start.timestamp() if trial.datetime_start else time.time()
                conn.execute(
                    sa.text(
                        "INSERT INTO hpo_leases (trial_id, study_id, client_id, heartbeat_at) "
                        "VALUES (:t, :s, '', :at)"
                    ),
                    {"t": new, "s": study_id, "at": started},
                )
    if conn.dialect.name == "postgresql":
        conn.execute(
            sa.text(
                "SELECT setval(pg_get_serial_sequence('hpo_studies', 'study_id'), "
                "(SELECT MAX(study_id) FROM hpo_studies))"
            )
        )


def downgrade() -> None:
    raise NotImplementedError("hpo does not convert per-study logs back to one journal")
