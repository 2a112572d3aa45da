"""Studies in SQL, loaded on demand: each study's own log, snapshots, and units of work.

Cost follows the work: a process loads a study when a call names it (from the study's
latest snapshot and the log rows after it), catches up with one indexed query per call, and
lets it go when idle. Nothing here is shared by all studies: a unit of work locks one study
(PostgreSQL: an advisory lock on the study id; SQLite serializes writers anyway), so writes
to different studies never wait for each other on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from optuna.study import StudyDirection

from hpo._metrics import observe_journal_append
from hpo.errors import UnavailableError
from hpo.storage._groups import SAVEPOINT_NAME, Group, StudyQueues
from hpo.storage._sql import RawSql, Statement
from hpo.storage._trial_log import (
    DELETED_OP,
    StudyModel,
    directions_from_json,
    directions_to_json,
    encode_ops,
    json_dict,
)
from hpo.storage._unit import Unit

_logger = logging.getLogger(__name__)

# First key of the PostgreSQL advisory locks that serialize one study's units of work.
STUDY_LOCK_KEY = 0x68706F53  # "hpoS"
#: A study whose log has grown this many rows past its snapshot gets a new snapshot.
SNAPSHOT_EVERY = 2_000
#: Seconds a snapshot taken because a load replayed many trials waits, so that the call
#: which loaded the study answers first (encoding holds the GIL for a while).
SNAPSHOT_AFTER_LOAD_DELAY = 1.0

_STUDY_COLUMNS = "study_id, name, directions, user_attrs, system_attrs, trial_counts"
_TAIL = "SELECT seq, payload FROM hpo_study_log WHERE study_id = ? AND seq > ? ORDER BY seq"
# A unit's opening read: the tail, from the model's own last row on (see _continues).
_FROM = "SELECT seq, payload FROM hpo_study_log WHERE study_id = ? AND seq >= ? ORDER BY seq"
_APPEND = "INSERT INTO hpo_study_log (study_id, seq, payload) VALUES (?, ?, ?)"
_COUNTS = "UPDATE hpo_studies SET trial_counts = ? WHERE study_id = ?"
# Every table with rows of one study (the model registry keeps its versions: it names the
# study and trial, and a deleted study's model stays loadable).
_STUDY_TABLES = (
    "hpo_study_log",
    "hpo_study_snapshots",
    "hpo_studies",
    "hpo_leases",
    "hpo_requests",
    "hpo_budgets",
    "hpo_lineage",
    "hpo_data",
    "hpo_metrics",
    "hpo_artifacts",
)


def _continues(model: StudyModel, rows: Sequence[tuple[int, Any]]) -> bool:
    """Whether the log ``rows`` read from the model's last row on (``seq >= model.seq``)
    continue it: that row is there, or the study was deleted (its rows went; the tombstone
    tells). Else the model is ahead of the database: it holds changes never committed."""
    if model.seq < 0 or (rows and rows[0][0] == model.seq):
        return True
    return any(DELETED_OP in json.loads(payload) for _, payload in rows)


class StudyGoneError(KeyError):
    """The study does not exist (any more)."""


@dataclass(frozen=True)
class StudyRow:
    """What the ``hpo_studies`` table knows of a study without loading its trials."""

    study_id: int
    name: str
    directions: list[StudyDirection]
    user_attrs: dict[str, Any]
    system_attrs: dict[str, Any]
    trial_counts: dict[str, int]

    @classmethod
    def from_db(cls, row: Sequence[Any]) -> StudyRow:
        study_id, name, directions, user_attrs, system_attrs, counts = row
        return cls(
            int(study_id),
            name,
            directions_from_json(directions),
            dict(json_dict(user_attrs)),
            dict(json_dict(system_attrs)),
            dict(json_dict(counts)),
        )


class StudyLog:
    """All studies of one database, loading each on demand and keeping it while in use.

    Thread-safe. Readers get a model caught up with the database (:meth:`current`); writers
    open a :class:`Unit` (:meth:`transaction`). Idle models are dropped by :meth:`evict_idle`.
    """

    def __init__(self, sql: RawSql, snapshot_every: int = SNAPSHOT_EVERY) -> None:
        self.sql = sql
        self._snapshot_every = snapshot_every
        self._models: dict[int, StudyModel] = {}
        self._used: dict[int, float] = {}
        self._snapshotted: dict[int, int] = {}
        self._model_locks: dict[int, threading.Lock] = {}
        self._lock = threading.Lock()
        self._snapshots_running: set[int] = set()
        self._queues = StudyQueues(self._commit)
        #: Units of work this process committed with trial changes, and the commits that
        #: carried them (for tests and metrics).
        self.units_committed = 0
        self.commits = 0

    # -- the studies table ------------------------------------------------------------------

    def find(self, name: str) -> StudyRow | None:
        with self.sql.read() as cursor:
            cursor.execute(
                self.sql.sql(f"SELECT {_STUDY_COLUMNS} FROM hpo_studies WHERE name = ?"), (name,)
            )
            row = cursor.fetchone()
        return StudyRow.from_db(row) if row else None

    def row(self, study_id: int) -> StudyRow | None:
        with self.sql.read() as cursor:
            cursor.execute(
                self.sql.sql(f"SELECT {_STUDY_COLUMNS} FROM hpo_studies WHERE study_id = ?"),
                (study_id,),
            )
            row = cursor.fetchone()
        return StudyRow.from_db(row) if row else None

    def rows(self) -> list[StudyRow]:
        """Every study, by id, without loading any."""
        with self.sql.read() as cursor:
            cursor.execute(f"SELECT {_STUDY_COLUMNS} FROM hpo_studies ORDER BY study_id")
            return [StudyRow.from_db(row) for row in cursor.fetchall()]

    def create(
        self,
        name: str,
        directions: Sequence[StudyDirection],
        system_attrs: dict[str, Any] | None = None,
        statements: Callable[[int], Sequence[Statement]] | None = None,
    ) -> int:
        """Create a study, and run ``statements(study_id)`` in the same transaction; its id.
        :class:`DuplicateKeyError` when the name is taken."""
        with self.sql.write() as cursor:
            cursor.execute(
                self.sql.sql(
                    "INSERT INTO hpo_studies (name, directions, user_attrs, system_attrs, "
                    "trial_counts, created_at) VALUES (?, ?, '{}', ?, '{}', ?)"
                ),
                (name, directions_to_json(directions), json.dumps(system_attrs or {}), time.time()),
            )
            cursor.execute(self.sql.sql("SELECT study_id FROM hpo_studies WHERE name = ?"), (name,))
            (study_id,) = cursor.fetchone()
            if statements is not None:
                self.sql.execute_all(cursor, statements(int(study_id)))
        return int(study_id)

    # -- reading ----------------------------------------------------------------------------

    def current(self, study_id: int) -> StudyModel:
        """The study as of now: loaded if needed, then caught up with its log (one query).
        :class:`StudyGoneError` when it does not exist."""
        model = self._model(study_id)
        rows = self.sql.read_rows(_TAIL, (study_id, model.seq))
        if rows:
            with self._model_lock(study_id):
                model.apply_rows(rows)
        return self._alive(model)

    # -- writing ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self, study_id: int) -> Iterator[Unit]:
        """A :class:`Unit` on the study, committed when the block ends without an exception.

        The study is locked for the whole block (other units on it wait; other studies do
        not), and the unit sees every change committed before it. On PostgreSQL, a unit
        that ends while other threads are queued for the study (:meth:`queue`) may commit
        together with theirs (see :mod:`hpo.storage._groups`)."""
        self._queues.opened(study_id)
        model, group = self._opened_group(study_id)
        joined = group.units > 0
        transaction = group.transaction
        unit: Unit | None = None
        try:
            with self.sql.in_transaction(transaction):
                with self._model_lock(study_id):
                    model.apply_rows(() if joined else transaction.rows)
                self._alive(model)
                unit = Unit(self.sql, model, transaction, transaction.closing if joined else None)
                transaction.closing = []
                yield unit
        except BaseException:
            self._unit_failed(group, unit)
            raise
        try:
            self._unit_done(group, unit)
        except BaseException as e:
            if not group.done.is_set():  # it failed before its commit was tried
                self._fail(group, e)
            raise

    def _opened_group(self, study_id: int) -> tuple[StudyModel, Group]:
        """The study's model and the group a unit on it runs in: the one parked for it, or
        a new transaction holding the study's lock."""
        lock = (STUDY_LOCK_KEY, study_id % 2**31)
        for _ in range(3):
            model = self._model(study_id)
            group = self._queues.take(model)
            if group is not None:
                return model, group
            transaction = self.sql.open_locked(lock, _FROM, (study_id, model.seq))
            # Checked holding the lock: the model may hold a group's changes that were not
            # committed (its connection was lost, which freed the lock, and its commit failed
            # or has yet to).
            if not model.lost and _continues(model, transaction.rows):
                return model, Group(model, transaction)
            self.sql.end(transaction, commit=False)
            model.lost = True
            self.forget(study_id)
        raise UnavailableError(f"study {study_id} changed while it was loaded; retry later")

    def _unit_done(self, group: Group, unit: Unit) -> None:
        model = group.model
        closing = unit._take_deferred()
        if unit.draft.ops:
            seq = model.seq + 1
            closing.append(Statement(_APPEND, (model.study_id, seq, encode_ops(unit.draft.ops))))
            counts = unit.draft.counts()
            if counts != model.counts:
                closing.append(Statement(_COUNTS, (json.dumps(counts), model.study_id)))
            with self._model_lock(model.study_id):  # the next unit of the group builds on it
                unit.draft.install(seq)
            group.changed += 1
        group.transaction.closing.extend(closing)
        group.seq = model.seq
        group.units += 1
        self._end_unit(group)

    def _unit_failed(self, group: Group, unit: Unit | None) -> None:
        """Undo a unit that raised: alone when it joined a group (its savepoint), else the
        whole transaction."""
        if group.units == 0:
            self.sql.end(group.transaction, commit=False)
            return
        try:
            if unit is not None and unit.sent_savepoint:
                self.sql.rollback_to(group.transaction, SAVEPOINT_NAME)
            elif unit is not None:  # nothing of it reached the database: keep the rest
                group.transaction.closing = unit.before_savepoint
        except BaseException as e:
            self._fail(group, e)
            return
        with contextlib.suppress(Exception):  # its members learn of a failed commit
            self._end_unit(group)

    def _end_unit(self, group: Group) -> None:
        study_id = group.model.study_id
        parked = self.sql.postgresql and self._queues.may_park(study_id, group)
        if not (parked and self._queues.park(study_id, group)):
            self._commit(group)

    def _commit(self, group: Group) -> None:
        """Commit every unit of ``group``; on failure, each fails and the study is reloaded."""
        frozen = self._snapshot_due(group.model)  # exactly what this commit makes durable
        committing = time.perf_counter()
        try:
            self.sql.end(group.transaction, commit=True)
        except BaseException as e:
            self._fail(group, e, frozen)
            raise
        if group.changed:
            observe_journal_append(time.perf_counter() - committing)
        with self._lock:
            self.units_committed += group.changed
            self.commits += 1
        group.done.set()
        if frozen is not None:
            self._start_snapshot(frozen)

    def _fail(self, group: Group, error: BaseException, frozen: StudyModel | None = None) -> None:
        group.model.lost = True  # it holds units that were not committed (set before the
        with contextlib.suppress(Exception):  # rollback frees the study's lock)
            self.sql.end(group.transaction, commit=False)
        self.forget(group.model.study_id)
        if frozen is not None:
            with self._lock:
                self._snapshots_running.discard(frozen.study_id)
        group.error = error
        group.done.set()

    def queue(self, study_id: int) -> contextlib.AbstractContextManager[None]:
        """Announce that this thread will open a unit on the study inside the block, where it
        waits for its turn: its unit may then commit with the ones before and after it (see
        :mod:`hpo.storage._groups`); when the block ends, it has."""
        return self._queues.queue(study_id)

    def settle(self, study_id: int) -> None:
        """Commit what units of the study left open for the next one (call it holding the
        study's turn, before work on it that does not go through a unit)."""
        self._queues.settle(study_id)

    def delete(self, study_id: int) -> None:
        """Delete the study, its log and every row that refers to it, in one transaction.
        Other processes that hold the study learn of it from the tombstone row left in its
        log (the study's id is never reused)."""
        with self.transaction(study_id) as unit:
            for table in _STUDY_TABLES:
                unit.execute(Statement(f"DELETE FROM {table} WHERE study_id = ?", (study_id,)))
            unit.record(DELETED_OP)
        self.forget(study_id)

    # -- memory -----------------------------------------------------------------------------

    def loaded(self) -> list[int]:
        with self._lock:
            return list(self._models)

    def forget(self, study_id: int) -> None:
        with self._lock:
            self._models.pop(study_id, None)
            self._used.pop(study_id, None)
            self._snapshotted.pop(study_id, None)

    def evict_idle(self, idle_seconds: float) -> list[int]:
        """Drop studies no call used for ``idle_seconds``; their ids."""
        cutoff = time.monotonic() - idle_seconds
        with self._lock:
            idle = [sid for sid, used in self._used.items() if used < cutoff]
        for study_id in idle:
            self.forget(study_id)
        return idle

    def _model(self, study_id: int) -> StudyModel:
        with self._lock:
            model = self._models.get(study_id)
            self._used[study_id] = time.monotonic()
        if model is not None:
            return model
        with self._model_lock(study_id):
            with self._lock:
                model = self._models.get(study_id)
            if model is None:
                model = self._load(study_id)
                with self._lock:
                    self._models[study_id] = model
        return model

    def _load(self, study_id: int) -> StudyModel:
        row = self.row(study_id)
        if row is None:
            raise StudyGoneError(study_id)
        model = StudyModel(study_id, row.name, row.directions, row.user_attrs, row.system_attrs)
        with self.sql.read() as cursor:
            cursor.execute(
                self.sql.sql("SELECT payload FROM hpo_study_snapshots WHERE study_id = ?"),
                (study_id,),
            )
            snapshot = cursor.fetchone()
            if snapshot is not None:
                model.restore(bytes(snapshot[0]))
            self._snapshotted[study_id] = model.seq
            cursor.execute(self.sql.sql(_TAIL), (study_id, model.seq))
            rows = cursor.fetchall()
        restored = len(model.trials)
        model.apply_rows(rows)
        # A few big log rows (a bulk import) never reach ``snapshot_every`` rows: snapshot a
        # study whose load built this many trials from the log, so the next load does not.
        if len(model.trials) - restored >= self._snapshot_every:
            self._maybe_snapshot(model, after_load=True)
        return model

    def _alive(self, model: StudyModel) -> StudyModel:
        if model.deleted:
            self.forget(model.study_id)
            raise StudyGoneError(model.study_id)
        return model

    def _model_lock(self, study_id: int) -> threading.Lock:
        with self._lock:
            lock = self._model_locks.get(study_id)
            if lock is None:
                lock = self._model_locks[study_id] = threading.Lock()
            return lock

    # -- snapshots --------------------------------------------------------------------------

    def _maybe_snapshot(self, model: StudyModel, after_load: bool = False) -> None:
        frozen = self._snapshot_due(model, after_load)
        if frozen is not None:
            self._start_snapshot(frozen, SNAPSHOT_AFTER_LOAD_DELAY if after_load else 0.0)

    def _snapshot_due(self, model: StudyModel, after_load: bool = False) -> StudyModel | None:
        """The model as of now, frozen, when it is due a snapshot (none is being written)."""
        last = self._snapshotted.get(model.study_id, -1)
        if model.seq - last < self._snapshot_every and not (after_load and model.seq > last):
            return None
        with self._lock:
            if model.study_id in self._snapshots_running:
                return None
            self._snapshots_running.add(model.study_id)
        # Trials are never changed in place: the list read here is the model at ``seq``.
        return StudyModel(
            model.study_id,
            model.name,
            model.directions,
            model.user_attrs,
            model.system_attrs,
            model.trials,
            model.seq,
            counts=model.counts,
        )

    def _start_snapshot(self, frozen: StudyModel, delay: float = 0.0) -> None:
        threading.Thread(
            target=self._write_snapshot, args=(frozen, delay), name="hpo-snapshot", daemon=True
        ).start()

    def _write_snapshot(self, model: StudyModel, delay: float) -> None:
        try:
            time.sleep(delay)
            self.write_snapshot(model)
        except Exception as e:  # a later commit tries again
            _logger.warning("snapshot of study %d failed: %s", model.study_id, e)
        finally:
            with self._lock:
                self._snapshots_running.discard(model.study_id)

    def write_snapshot(self, model: StudyModel) -> None:
        """Store ``model`` (exactly the log up to its ``seq``) as the study's snapshot,
        unless a newer one is there already."""
        payload = model.snapshot()
        with self.sql.write() as cursor:
            cursor.execute(
                self.sql.sql(
                    "INSERT INTO hpo_study_snapshots (study_id, seq, payload) VALUES (?, ?, ?) "
                    "ON CONFLICT (study_id) DO UPDATE SET seq = excluded.seq, "
                    "payload = excluded.payload WHERE hpo_study_snapshots.seq < excluded.seq"
                ),
                (model.study_id, model.seq, payload),
            )
        with self._lock:
            self._snapshotted[model.study_id] = max(
                model.seq, self._snapshotted.get(model.study_id, -1)
            )
