"""Leases, request ids and budgets: the coordinator's own rows beside each study's log.

Methods that return a :class:`Statement` do not run it: the caller runs it in its unit of
work (``Unit.execute``), so it commits atomically with the trial change it belongs to.
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


_LEASE_COLUMNS = "trial_id, study_id, client_id, heartbeat_at"


class LeaseStore:
    """One row per running trial (the unit of work that starts a trial inserts it, the one
    that finishes it deletes it): who holds it, and when it last said so."""

    def __init__(self, sql: RawSql) -> None:
        self._sql = sql

    @staticmethod
    def grant_statement(study_id: int, trial_id: int, client_id: str) -> Statement:
        """``client_id`` holds ``trial_id`` as of now (replacing an older holder)."""
        return Statement(
            "INSERT INTO hpo_leases (trial_id, study_id, client_id, heartbeat_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (trial_id) DO UPDATE SET "
            "client_id = excluded.client_id, heartbeat_at = excluded.heartbeat_at",
            (trial_id, study_id, client_id, time.time()),
        )

    @staticmethod
    def renew_statement(trial_id: int) -> Statement:
        """The lease runs from now; the trial must be running (a guard)."""
        return Statement(
            "UPDATE hpo_leases SET heartbeat_at = ? WHERE trial_id = ?",
            (time.time(), trial_id),
            guard=True,
        )

    def renew(self, trial_id: int) -> bool:
        """Heartbeat: the lease runs from now. False when the trial has no lease (it is not
        running any more)."""
        with self._sql.write() as cursor:
            cursor.execute(
                self._sql.sql("UPDATE hpo_leases SET heartbeat_at = ? WHERE trial_id = ?"),
                (time.time(), trial_id),
            )
            return bool(cursor.rowcount == 1)

    @staticmethod
    def held_by_query(study_id: int, client_id: str) -> tuple[str, tuple[int, str]]:
        """The query (for a unit of work) of trial ids leased to ``client_id``."""
        return (
            "SELECT trial_id FROM hpo_leases WHERE study_id = ? AND client_id = ?",
            (study_id, client_id),
        )

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

    def oldest_by_study(self) -> dict[int, float]:
        """For each study with running trials, its oldest heartbeat (the reaper's index)."""
        query = "SELECT study_id, MIN(heartbeat_at) FROM hpo_leases GROUP BY study_id"
        with self._sql.read() as cursor:
            cursor.execute(query)
            return {int(study_id): float(at) for study_id, at in cursor.fetchall()}

    @staticmethod
    def release_statement(trial_id: int) -> Statement:
        return Statement("DELETE FROM hpo_leases WHERE trial_id = ?", (trial_id,))


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    digest: str


class RequestLedger:
    """Request ids already applied, per study, with a digest of what they asked for."""

    def __init__(self, sql: RawSql) -> None:
        self._sql = sql

    def lookup(self, study_id: int, request_id: str) -> RecordedRequest | None:
        """The request as committed (see :meth:`lookup_query` for a unit of work's view)."""
        query, params = self.lookup_query(study_id, request_id)
        with self._sql.read() as cursor:
            cursor.execute(self._sql.sql(query), params)
            row = cursor.fetchone()
        return RecordedRequest(*row) if row else None

    @staticmethod
    def lookup_query(study_id: int, request_id: str) -> tuple[str, tuple[int, str]]:
        """The query (for a unit of work, which sees requests of its commit group that are
        not committed yet) of the request's method and digest."""
        return (
            "SELECT method, digest FROM hpo_requests WHERE study_id = ? AND request_id = ?",
            (study_id, request_id),
        )

    @staticmethod
    def record_statement(study_id: int, request_id: str, method: str, digest: str) -> Statement:
        """Insert the request id; a duplicate key means the id was used before."""
        return Statement(
            "INSERT INTO hpo_requests (study_id, request_id, method, digest, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (study_id, request_id, method, digest, time.time()),
        )


class TrialBudget:
    """A study's trial budget as a counter of issued trials, changed only inside the unit of
    work that starts or fails a trial, so replicas can never hand out one too many.

    A trial holds a unit of the budget from the Ask that starts it (a new trial, or an
    enqueued or retried one taken from the queue) until it fails.
    """

    def __init__(self, sql: RawSql) -> None:
        self._sql = sql

    def ensure(self, study_id: int, issued: int) -> None:
        """Start counting for a study (a no-op when it is counted already)."""
        with self._sql.write() as cursor:
            self._sql.execute_all(cursor, [self.ensure_statement(study_id, issued)])

    @staticmethod
    def ensure_statement(study_id: int, issued: int) -> Statement:
        return Statement(
            "INSERT INTO hpo_budgets (study_id, issued) VALUES (?, ?) "
            "ON CONFLICT (study_id) DO NOTHING",
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
    def give_back_statement(study_id: int) -> Statement:
        return Statement(
            "UPDATE hpo_budgets SET issued = issued - 1 WHERE study_id = ? AND issued > 0",
            (study_id,),
        )
