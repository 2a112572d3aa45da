"""Group commit on PostgreSQL: queued units of work on one study share one transaction.

A unit of work holds its study's lock until it commits, and a PostgreSQL commit waits for
the write-ahead log to reach the disk (half a millisecond here, more under load): one study
could never commit more often than its disk syncs. So when a unit ends while other threads
of this process are queued for the same study, it leaves its transaction open ("parks" it)
and the next unit runs in it, behind a savepoint of its own (a unit that fails rolls back
alone); the unit that ends with nobody queued, or the :data:`GROUP_MAX_UNITS`-th, commits
them all at once. A parked unit's thread answers its caller only after that commit: it
waits for it when it leaves the queue (:meth:`StudyQueues.queue`), after it let go of the
study. A commit that fails fails every unit of the group; the study is then reloaded.

Only threads that announced themselves with :meth:`StudyQueues.queue` park a unit, and a
parked group nobody is queued for any more is committed by the last thread to leave.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator

from hpo.errors import UnavailableError
from hpo.storage._engine import DATABASE_WAIT_SECONDS
from hpo.storage._sql import Statement, WriteTransaction
from hpo.storage._trial_log import StudyModel

_logger = logging.getLogger(__name__)

#: The most units one commit carries (the first one's caller waits for all of them).
GROUP_MAX_UNITS = 16
#: The longest a caller waits for the commit of its parked unit (a commit is bounded by
#: DATABASE_WAIT_SECONDS; this only ends a wait that a fault would make endless).
OUTCOME_WAIT_SECONDS = 4 * DATABASE_WAIT_SECONDS
#: Each unit after the first of a group runs behind this savepoint.
SAVEPOINT_NAME = "hpo_unit"
SAVEPOINT = Statement(f"SAVEPOINT {SAVEPOINT_NAME}")


class Group:
    """Units of one study in one open transaction, and the outcome of its commit."""

    def __init__(self, model: StudyModel, transaction: WriteTransaction) -> None:
        self.model = model
        #: Its ``closing`` holds what the units that ended left to send (it goes first with
        #: the next unit's first statement, or with the COMMIT).
        self.transaction = transaction
        #: The model's seq once the last unit that ended was installed.
        self.seq = model.seq
        self.units = 0
        self.changed = 0
        self.done = threading.Event()
        self.error: BaseException | None = None

    def outcome(self) -> None:
        """Wait for the commit; raise what made it fail. A commit that never comes (a
        fault of hpo's) ends the wait after :data:`OUTCOME_WAIT_SECONDS` as UNAVAILABLE."""
        if not self.done.wait(OUTCOME_WAIT_SECONDS):
            _logger.error("a group commit of study %d never ended", self.model.study_id)
            raise UnavailableError("the commit of this call did not end; retry later")
        if self.error is not None:
            raise self.error


class _Waiting(threading.local):
    def __init__(self) -> None:
        #: Studies this thread is queued for (in a queue() block), and whether it has yet to
        #: open its unit there.
        self.announced: dict[int, bool] = {}
        #: Groups this thread's parked units are in, by study.
        self.parked: dict[int, list[Group]] = {}


class StudyQueues:
    """Threads queued per study, and the group parked for the next of them."""

    def __init__(self, commit: Callable[[Group], None]) -> None:
        self._commit = commit
        self._lock = threading.Lock()
        self._queued: dict[int, int] = {}
        self._parked: dict[int, Group] = {}
        self._here = _Waiting()

    @contextlib.contextmanager
    def queue(self, study_id: int) -> Iterator[None]:
        """Announce that this thread will open a unit on the study inside the block (it
        waits there for its turn). When the block ends, a unit of it that was parked has
        been committed, or the commit's error is raised."""
        with self._lock:
            self._queued[study_id] = self._queued.get(study_id, 0) + 1
        self._here.announced[study_id] = True
        failed = False
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            self.opened(study_id)
            self._here.announced.pop(study_id, None)
            groups = self._here.parked.pop(study_id, [])
            self._settle_unqueued(study_id)
            for group in groups:
                if failed:  # the caller's own error wins; its units still commit or not
                    group.done.wait(OUTCOME_WAIT_SECONDS)
                else:
                    group.outcome()

    def opened(self, study_id: int) -> None:
        """This thread's turn on the study came (it no longer waits)."""
        if self._here.announced.get(study_id):
            self._here.announced[study_id] = False
            with self._lock:
                left = self._queued[study_id] - 1
                if left:
                    self._queued[study_id] = left
                else:
                    del self._queued[study_id]

    def take(self, model: StudyModel) -> Group | None:
        """The group parked for the study, now this thread's to run a unit in, when its
        units are those of ``model``; one that is not (the study was reloaded meanwhile) is
        committed first, and None returned."""
        with self._lock:
            group = self._parked.pop(model.study_id, None)
        if group is not None and (group.model is not model or group.seq != model.seq):
            self._commit(group)
            return None
        return group

    def may_park(self, study_id: int, group: Group) -> bool:
        """Whether a unit that just ended should leave ``group`` open for the next one."""
        return (
            study_id in self._here.announced
            and group.units < GROUP_MAX_UNITS
            and bool(self._queued.get(study_id))
        )

    def park(self, study_id: int, group: Group) -> bool:
        """Leave ``group`` for the next unit on the study (False, and nothing done, when
        another group is parked there); this thread waits for its commit when it leaves its
        queue() block."""
        with self._lock:
            if study_id in self._parked:
                return False
            self._parked[study_id] = group
        self._here.parked.setdefault(study_id, []).append(group)
        self._settle_unqueued(study_id)  # whoever was queued may have left meanwhile
        return True

    def settle(self, study_id: int) -> None:
        """Commit the group parked for the study, if any (before work on the study that does
        not go through a unit, which could otherwise wait for the group's row locks)."""
        with self._lock:
            group = self._parked.pop(study_id, None)
        if group is not None:
            self._commit(group)

    def _settle_unqueued(self, study_id: int) -> None:
        with self._lock:
            group = None if study_id in self._queued else self._parked.pop(study_id, None)
        if group is not None:
            with contextlib.suppress(Exception):  # its members are told of a failure
                self._commit(group)
