"""Optuna's JournalStorage on a SQL table: the operation log, appended in one total order.

Why a journal: Optuna's JournalStorage replays the log into memory and reads only the new
tail on each call, so reads cost one indexed query and writes one short transaction, where
Optuna's RDBStorage re-reads whole trials per call (measured in bench/; see README).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from optuna.storages.journal import BaseJournalBackend, JournalStorage

from hpo._metrics import timed_journal_append
from hpo.storage._engine import create_engine
from hpo.storage._sql import RawSql, Statement

# Key of the PostgreSQL advisory lock that serializes appends, so that sequence numbers
# become visible in order and a reader never skips a log committed late.
APPEND_LOCK_KEY = 0x68706F4A  # "hpoJ"

_READ = "SELECT payload FROM hpo_journal WHERE seq >= ? ORDER BY seq"
_LAST = "SELECT MAX(seq) FROM hpo_journal"
_INSERT = "INSERT INTO hpo_journal (seq, payload) VALUES (?, ?)"


class SqlJournalBackend(BaseJournalBackend):
    """A journal backend on SQLite or PostgreSQL; safe across threads, processes and replicas.

    Appends are serialized (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a transaction-scoped
    advisory lock) and numbered densely, so every replica replays the same log in the same
    order: that order decides trial numbers and which of two racing state changes wins.

    :meth:`attach` lets a caller commit its own rows in the same transaction as a log
    (a lease released with the trial's final state, a request id with its effect).
    """

    def __init__(self, engine: sa.Engine) -> None:
        self._bind(engine)

    def _bind(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._sql = RawSql(engine)
        self._attached = threading.local()
        # Our last append, as (first sequence number, logs): when the reader asks for exactly
        # that position next, the logs are known without a query.
        self._appended: tuple[int, list[dict[str, Any]]] | None = None

    def __getstate__(self) -> dict[str, Any]:
        # Pickled (e.g. to a worker process) as its URL; the copy opens its own engine.
        return {"url": self._engine.url.render_as_string(hide_password=False)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._bind(create_engine(state["url"]))

    @contextlib.contextmanager
    def attach(self, statements: Sequence[Statement], op_code: int, **match: Any) -> Iterator[None]:
        """Run ``statements`` inside this thread's next append that holds a log of ``op_code``
        whose fields equal ``match`` (e.g. ``trial_id=7``). A statement that fails (a duplicate
        key, a guard) rolls the logs back with it."""

        def when(logs: Sequence[dict[str, Any]]) -> bool:
            return any(
                log["op_code"] == op_code and all(log.get(k) == v for k, v in match.items())
                for log in logs
            )

        self._attached.pending = (statements, when)
        try:
            yield
        finally:
            self._attached.pending = None

    def read_logs(self, log_number_from: int) -> Iterable[dict[str, Any]]:
        appended, self._appended = self._appended, None
        if appended is not None and appended[0] == log_number_from:
            # Nobody appended between our last read and our append: the logs from here on
            # start with ours. Returning only those is a valid read; later ones come next time.
            return appended[1]
        with self._sql.read() as cursor:
            cursor.execute(self._sql.sql(_READ), (log_number_from,))
            rows = cursor.fetchall()
        return [json.loads(payload) for (payload,) in rows]

    @timed_journal_append
    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        payloads = [json.dumps(log, separators=(",", ":")) for log in logs]
        pending = getattr(self._attached, "pending", None)
        extra: Sequence[Statement] = ()
        if pending is not None and pending[1](logs):
            extra, self._attached.pending = pending[0], None
        with self._sql.write(lock_key=APPEND_LOCK_KEY) as cursor:
            cursor.execute(_LAST)
            (last,) = cursor.fetchone()
            first = 0 if last is None else last + 1
            cursor.executemany(
                self._sql.sql(_INSERT), [(first + i, p) for i, p in enumerate(payloads)]
            )
            self._sql.execute_all(cursor, extra)
        self._appended = (first, logs)


class SnapshotJournalStorage(JournalStorage):
    """Optuna's JournalStorage that can serve a block of reads from one sync.

    Inside :meth:`consistent_reads` a thread reads the log once, at its first storage call;
    its later reads use that state, and its own writes are applied as usual. Outside such a
    block every call syncs, as in Optuna. The coordinator opens one block per RPC: a call
    then costs one read query however many times Optuna's objects consult the storage.
    Deciding writes stay exact, because the journal's order decides them on replay.
    """

    def __init__(self, backend: SqlJournalBackend) -> None:
        self._scope = threading.local()
        self.backend = backend
        super().__init__(backend)

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        del state["_scope"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._scope = threading.local()

    @contextlib.contextmanager
    def consistent_reads(self) -> Iterator[None]:
        outer = getattr(self._scope, "synced", None)
        self._scope.synced = outer if outer is not None else False
        try:
            yield
        finally:
            if outer is None:
                del self._scope.synced

    def _sync_with_backend(self) -> None:
        synced = getattr(self._scope, "synced", None)
        if synced:
            return
        super()._sync_with_backend()
        if synced is False:
            self._scope.synced = True

    def _write_log(self, op_code: int, extra_fields: dict[str, Any]) -> None:
        super()._write_log(op_code, extra_fields)
        if getattr(self._scope, "synced", None):
            self._scope.synced = False  # the next sync must read our own write back
