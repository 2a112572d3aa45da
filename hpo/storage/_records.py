"""Leases and request ids: the coordinator's own rows beside Optuna's journal.

Methods that return a :data:`Statement` do not run it: the caller attaches it to a journal
append (``SqlJournalBackend.attach``) so it commits atomically with the log it belongs to.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from hpo.storage._sql import RawSql, Statement


@dataclass(frozen=True)
class Lease:
    """Who runs a trial and when it last said so."""

    trial_id: int
    study_id: int
    client_id: str
    heartbeat_at: float


_UPSERT_LEASE = (
    "INSERT INTO hpo_leases (trial_id, study_id, client_id, heartbeat_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (trial_id) DO UPDATE SET client_id = excluded.client_id, "
    "heartbeat_at = excluded.heartbeat_at"
)
_RENEW_LEASE = (
    "INSERT INTO hpo_leases (trial_id, study_id, client_id, heartbeat_at) VALUES (?, ?, '', ?) "
    "ON CONFLICT (trial_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at"
)
_LEASE_COLUMNS = "trial_id, study_id, client_id, heartbeat_at"


class LeaseStore:
    """One row per running trial that a client holds by id or keeps alive by Heartbeat.

    A running trial without a row is timed from its start; rows go when the trial finishes.
    """

    def __init__(self, sql: RawSql) -> None:
        self._sql = sql

    def grant(self, study_id: int, trial_id: int, client_id: str) -> None:
        """Record that ``client_id`` holds ``trial_id`` as of now (replacing an older holder)."""
        with self._sql.write() as cursor:
            cursor.execute(
                self._sql.sql(_UPSERT_LEASE), (trial_id, study_id, client_id, time.time())
            )

    def renew(self, study_id: int, trial_id: int) -> None:
        """Heartbeat: the lease runs from now (a row is created if the trial had none)."""
        with self._sql.write() as cursor:
            cursor.execute(self._sql.sql(_RENEW_LEASE), (trial_id, study_id, time.time()))

    def held_by(self, study_id: int, client_id: str) -> list[int]:
        """Trial ids leased to ``client_id`` in the study (normally zero or one)."""
        query = "SELECT trial_id FROM hpo_leases WHERE study_id = ? AND client_id = ?"
        with self._sql.read() as cursor:
            cursor.execute(self._sql.sql(query), (study_id, client_id))
            return [row[0] for row in cursor.fetchall()]

    def get(self, trial_id: int) -> Lease | None:
        query = f"SELECT {_LEASE_COLUMNS} FROM hpo_leases WHERE trial_id = ?"
        with self._sql.read() as cursor:
            cursor.execute(self._sql.sql(query), (trial_id,))
            row = cursor.fetchone()
        return Lease(*row) if row else None

    def all_for_study(self, study_id: int) -> dict[int, Lease]:
        query = f"SELECT {_LEASE_COLUMNS} FROM hpo_leases WHERE study_id = ?"
        with self._sql.read() as cursor:
            cursor.execute(self._sql.sql(query), (study_id,))
            return {row[0]: Lease(*row) for row in cursor.fetchall()}

    @staticmethod
    def release_statement(trial_id: int) -> Statement:
        return Statement("DELETE FROM hpo_leases WHERE trial_id = ?", (trial_id,))

    def release(self, trial_id: int) -> None:
        with self._sql.write() as cursor:
            self._sql.execute_all(cursor, [self.release_statement(trial_id)])

    def delete_study(self, study_id: int) -> None:
        with self._sql.write() as cursor:
            cursor.execute(self._sql.sql("DELETE FROM hpo_leases WHERE study_id = ?"), (study_id,))


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    digest: str


class RequestLedger:
    """Request ids already applied, per study, with a digest of what they asked for."""

    def __init__(self, sql: RawSql) -> None:
        self._sql = sql

    def lookup(self, study_id: int, request_id: str) -> RecordedRequest | None:
        query = "SELECT method, digest FROM hpo_requests WHERE study_id = ? AND request_id = ?"
        with self._sql.read() as cursor:
            cursor.execute(self._sql.sql(query), (study_id, request_id))
            row = cursor.fetchone()
        return RecordedRequest(*row) if row else None

    @staticmethod
    def record_statement(study_id: int, request_id: str, method: str, digest: str) -> Statement:
        """Insert the request id; a duplicate key means the id was used before."""
        return Statement(
            "INSERT INTO hpo_requests (study_id, request_id, method, digest, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (study_id, request_id, method, digest, time.time()),
        )

    def delete_study(self, study_id: int) -> None:
        with self._sql.write() as cursor:
            cursor.execute(
                self._sql.sql("DELETE FROM hpo_requests WHERE study_id = ?"), (study_id,)
            )


class TrialBudget:
    """A study's trial budget as a counter of issued trials, changed only inside the journal
    transaction that creates or fails a trial, so replicas can never hand out one too many.

    A trial holds a unit from its creation (by Ask or EnqueueTrial) until it fails; a failed
    trial that is re-queued passes its unit to the retry.
    """

    def __init__(self, sql: RawSql) -> None:
        self._sql = sql

    def ensure(self, study_id: int, issued: int) -> None:
        """Start counting for a study (a no-op when it is counted already)."""
        with self._sql.write() as cursor:
            cursor.execute(
                self._sql.sql(
                    "INSERT INTO hpo_budgets (study_id, issued) VALUES (?, ?) "
                    "ON CONFLICT (study_id) DO NOTHING"
                ),
                (study_id, issued),
            )

    @staticmethod
    def take_statement(study_id: int, budget: int) -> Statement:
        """Issue one unit if fewer than ``budget`` are out; otherwise fail the transaction."""
        return Statement(
            "UPDATE hpo_budgets SET issued = issued + 1 WHERE study_id = ? AND issued < ?",
            (study_id, budget),
            guard=True,
        )

    @staticmethod
    def add_statement(study_id: int) -> Statement:
        """Issue one unit whatever the count (an explicitly enqueued trial)."""
        return Statement(
            "UPDATE hpo_budgets SET issued = issued + 1 WHERE study_id = ?", (study_id,)
        )

    @staticmethod
    def give_back_statement(study_id: int) -> Statement:
        return Statement(
            "UPDATE hpo_budgets SET issued = issued - 1 WHERE study_id = ? AND issued > 0",
            (study_id,),
        )

    def delete_study(self, study_id: int) -> None:
        with self._sql.write() as cursor:
            cursor.execute(self._sql.sql("DELETE FROM hpo_budgets WHERE study_id = ?"), (study_id,))
