"""Keeps the leases of this process's running trials alive while objectives run."""

from __future__ import annotations

import logging
import threading

from hpo.client._connection import Connection
from hpo.errors import FailedPreconditionError, HpoError, NotFoundError
from hpo.v1 import coordinator_pb2 as api

_logger = logging.getLogger(__name__)


class Heartbeat:
    """One daemon thread per study handle; beats for every trial between ``add`` and ``discard``.

    A trial the coordinator has already finished (its lease expired) is dropped with a
    warning; the objective learns it at its next report or tell (FAILED_PRECONDITION).
    """

    def __init__(
        self, connection: Connection, study: str, interval: float, study_id: int = 0
    ) -> None:
        self._connection = connection
        self._study = study
        self._study_id = study_id
        self._interval = max(interval, 0.05)
        self._numbers: set[int] = set()
        # Trials being told now: a beat that meets them finished raced the Tell.
        self._telling: set[int] = set()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None

    def add(self, number: int) -> None:
        with self._lock:
            self._numbers.add(number)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name=f"hpo-heartbeat-{self._study}", daemon=True
                )
                self._thread.start()

    def telling(self, number: int) -> None:
        """The trial is being told: it keeps its beat (a Tell that is retried may take a
        while), and a beat that finds it finished says nothing."""
        with self._lock:
            self._telling.add(number)

    def discard(self, number: int) -> None:
        with self._lock:
            self._numbers.discard(number)
            self._telling.discard(number)

    def _run(self) -> None:
        while True:
            with self._lock:
                self._wake.wait(self._interval)
                if not self._numbers:
                    self._thread = None
                    return
                numbers = sorted(self._numbers)
            for number in numbers:
                self._beat(number)

    def _beat(self, number: int) -> None:
        request = api.HeartbeatRequest(
            study=self._study, trial_number=number, study_id=self._study_id
        )
        try:
            self._connection.call("Heartbeat", request, timeout=max(self._interval, 5.0))
        except (FailedPreconditionError, NotFoundError) as e:
            with self._lock:
                if number not in self._numbers or number in self._telling:
                    return  # told meanwhile: this beat raced the Tell, nothing was lost
                self._numbers.discard(number)
            _logger.warning("trial %d lost its lease: %s", number, e.message)
        except HpoError as e:  # coordinator briefly unreachable: the next beat may succeed
            _logger.debug("heartbeat for trial %d failed: %s", number, e.message)
