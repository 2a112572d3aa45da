"""Leases and request ids: the coordinator's own rows beside Optuna's journal."""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import exc

from hpo.storage._engine import translate_db_errors
from hpo.storage._tables import leases, requests


@dataclass(frozen=True)
class Lease:
    """Who runs a trial and when it last said so."""

    trial_id: int
    study_id: int
    client_id: str
    heartbeat_at: float


class LeaseStore:
    """One row per running trial handed out by Ask; removed when the trial finishes."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def grant(self, study_id: int, trial_id: int, client_id: str) -> None:
        """Record that ``client_id`` holds ``trial_id`` as of now (replacing an older holder)."""
        row = {
            "trial_id": trial_id,
            "study_id": study_id,
            "client_id": client_id,
            "heartbeat_at": time.time(),
        }
        with translate_db_errors(), self._engine.begin() as conn:
            conn.execute(leases.delete().where(leases.c.trial_id == trial_id))
            conn.execute(leases.insert(), row)

    def touch(self, trial_id: int) -> bool:
        """Renew a lease; False when the trial has no lease row."""
        stmt = leases.update().where(leases.c.trial_id == trial_id).values(heartbeat_at=time.time())
        with translate_db_errors(), self._engine.begin() as conn:
            return conn.execute(stmt).rowcount > 0

    def held_by(self, study_id: int, client_id: str) -> list[int]:
        """Trial ids leased to ``client_id`` in the study (normally zero or one)."""
        query = sa.select(leases.c.trial_id).where(
            leases.c.study_id == study_id, leases.c.client_id == client_id
        )
        with translate_db_errors(), self._engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def get(self, trial_id: int) -> Lease | None:
        with translate_db_errors(), self._engine.connect() as conn:
            row = conn.execute(sa.select(leases).where(leases.c.trial_id == trial_id)).first()
        return Lease(**row._mapping) if row else None

    def all_for_study(self, study_id: int) -> dict[int, Lease]:
        with translate_db_errors(), self._engine.connect() as conn:
            rows = conn.execute(sa.select(leases).where(leases.c.study_id == study_id)).all()
        return {row.trial_id: Lease(**row._mapping) for row in rows}

    def release(self, trial_id: int) -> None:
        with translate_db_errors(), self._engine.begin() as conn:
            conn.execute(leases.delete().where(leases.c.trial_id == trial_id))

    def delete_study(self, study_id: int) -> None:
        with translate_db_errors(), self._engine.begin() as conn:
            conn.execute(leases.delete().where(leases.c.study_id == study_id))


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    digest: str


class RequestLedger:
    """Request ids already applied, per study, with a digest of what they asked for."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def lookup(self, study_id: int, request_id: str) -> RecordedRequest | None:
        query = sa.select(requests.c.method, requests.c.digest).where(
            requests.c.study_id == study_id, requests.c.request_id == request_id
        )
        with translate_db_errors(), self._engine.connect() as conn:
            row = conn.execute(query).first()
        return RecordedRequest(row.method, row.digest) if row else None

    def record(self, study_id: int, request_id: str, method: str, digest: str) -> None:
        """Remember an applied request; a concurrent identical record is not an error."""
        row = {
            "study_id": study_id,
            "request_id": request_id,
            "method": method,
            "digest": digest,
            "created_at": time.time(),
        }
        try:
            with translate_db_errors(), self._engine.begin() as conn:
                conn.execute(requests.insert(), row)
        except exc.IntegrityError:
            pass

    def delete_study(self, study_id: int) -> None:
        with translate_db_errors(), self._engine.begin() as conn:
            conn.execute(requests.delete().where(requests.c.study_id == study_id))
