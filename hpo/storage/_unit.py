"""A unit of work on one study: the changes one call makes, written in one transaction."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from optuna.trial import TrialState

from hpo.storage._groups import SAVEPOINT
from hpo.storage._sql import RawSql, Statement, WriteTransaction
from hpo.storage._trial_log import (
    MAX_TRIALS_PER_STUDY,
    Draft,
    Op,
    StudyModel,
    state_op,
    trial_id_of,
)

_LEASE_START = (
    "INSERT INTO hpo_leases (trial_id, study_id, client_id, heartbeat_at) VALUES (?, ?, '', ?) "
    "ON CONFLICT (trial_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at"
)
_LEASE_END = "DELETE FROM hpo_leases WHERE trial_id = ?"


class Unit:
    """One unit of work on one study, holding the study's lock: a database transaction of
    its own, or its part of one shared with other units behind a savepoint of its own
    (group commit, :mod:`hpo.storage._groups`).

    Everything done through it commits when the ``with`` block that opened it
    (:meth:`~hpo.storage._studies.StudyLog.transaction`) ends, or not at all: the trial changes (kept as a
    :class:`Draft` and written as one log row), the lease rows that follow a trial's state,
    and every :class:`Statement` run with :meth:`execute` (budgets, request ids, ...).
    Nothing waits for a later write to carry it: a statement runs when it is given.
    """

    def __init__(
        self,
        sql: RawSql,
        model: StudyModel,
        transaction: WriteTransaction,
        group_pending: list[Statement] | None = None,
    ) -> None:
        self.study_id = model.study_id
        self.draft = Draft(model)
        self._sql = sql
        self._transaction = transaction
        #: In a group (``group_pending``: what the units before it left to send), the unit
        #: starts with its savepoint; until that is sent, failing undoes nothing sent.
        self.before_savepoint = group_pending or []
        self._deferred = [*self.before_savepoint, SAVEPOINT] if group_pending is not None else []
        self.sent_savepoint = group_pending is None
        self.now = time.time()

    # -- SQL in this transaction ------------------------------------------------------------

    def execute(self, statement: Statement) -> None:
        """Run ``statement`` now, inside this unit: a failed guard aborts the unit, a
        conflict raises here (with every deferred statement run before it, in order)."""
        self._sql.execute_all(self._transaction.cursor, [*self._take_deferred(), statement])

    def defer(self, statement: Statement) -> None:
        """Run ``statement`` (no guard) later in this unit: with the next :meth:`execute` or
        :meth:`query`, else with the commit (no round trip of its own). Its failure still
        aborts the whole unit, at that point."""
        if statement.guard:
            raise ValueError("a guarded statement must run now: use execute")
        self._deferred.append(statement)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read inside this unit (it sees the unit's own writes)."""
        deferred = self._take_deferred()
        return self._sql.execute_all(
            self._transaction.cursor, deferred, then=Statement(sql, tuple(params))
        )

    def _take_deferred(self) -> list[Statement]:
        deferred, self._deferred = self._deferred, []
        self.sent_savepoint = True
        return deferred

    # -- trial changes ----------------------------------------------------------------------

    def record(self, op: Op) -> None:
        self.draft.record(op)

    def add_trial(self, op: Op) -> int:
        """Create a trial from a full ``trial`` operation; its number is the next one."""
        number = self.draft.n_trials
        if number >= MAX_TRIALS_PER_STUDY:
            raise OverflowError(f"study {self.study_id} has {number} trials, the most allowed")
        self.record({**op, "n": number})
        if op["s"] == TrialState.RUNNING.value:
            self._lease_start(number)
        return number

    def set_state(self, number: int, state: TrialState, values: Sequence[float] | None) -> None:
        """Change a trial's state; a running trial gets a lease row, a finished one loses it."""
        self.record(state_op(number, state, values, self.now))
        if state == TrialState.RUNNING:
            self._lease_start(number)
        elif state.is_finished():
            self.defer(Statement(_LEASE_END, (trial_id_of(self.study_id, number),)))

    def _lease_start(self, number: int) -> None:
        trial_id = trial_id_of(self.study_id, number)
        self.defer(Statement(_LEASE_START, (trial_id, self.study_id, self.now)))
