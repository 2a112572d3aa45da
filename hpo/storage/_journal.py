"""Optuna's JournalStorage on a SQL table: the operation log, appended in one total order.

Why a journal: Optuna's JournalStorage replays the log into memory and reads only the new
tail on each call, so reads cost one indexed query and writes one short transaction, where
Optuna's RDBStorage re-reads whole trials per call (measured in bench/; see README).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from optuna.storages.journal import BaseJournalBackend

from hpo.storage._engine import WRITE_OPTION, create_engine, is_postgresql, translate_db_errors
from hpo.storage._tables import journal

# Key of the PostgreSQL advisory lock that serializes appends, so that sequence numbers
# become visible in order and a reader never skips a log committed late.
_APPEND_LOCK_KEY = 0x68706F4A  # "hpoJ"


class SqlJournalBackend(BaseJournalBackend):
    """A journal backend on SQLite or PostgreSQL; safe across threads, processes and replicas.

    Appends are serialized (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a transaction-scoped
    advisory lock) and numbered densely, so every replica replays the same log in the same
    order: that order decides trial numbers and which of two racing state changes wins.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self._bind(engine)

    def _bind(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._writer = engine.execution_options(**{WRITE_OPTION: True})
        self._lock_sql = (
            sa.text("SELECT pg_advisory_xact_lock(:key)").bindparams(key=_APPEND_LOCK_KEY)
            if is_postgresql(engine)
            else None
        )

    def __getstate__(self) -> dict[str, Any]:
        # Pickled (e.g. to a worker process) as its URL; the copy opens its own engine.
        return {"url": self._engine.url.render_as_string(hide_password=False)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._bind(create_engine(state["url"]))

    def read_logs(self, log_number_from: int) -> Iterable[dict[str, Any]]:
        query = (
            sa.select(journal.c.payload)
            .where(journal.c.seq >= log_number_from)
            .order_by(journal.c.seq)
        )
        with translate_db_errors(), self._engine.connect() as conn:
            rows = conn.execute(query).scalars().all()
        return [json.loads(payload) for payload in rows]

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        payloads = [json.dumps(log, separators=(",", ":")) for log in logs]
        with translate_db_errors(), self._writer.begin() as conn:
            if self._lock_sql is not None:
                conn.execute(self._lock_sql)
            last = conn.execute(sa.select(sa.func.max(journal.c.seq))).scalar()
            first = 0 if last is None else last + 1
            conn.execute(
                journal.insert(),
                [{"seq": first + i, "payload": p} for i, p in enumerate(payloads)],
            )
