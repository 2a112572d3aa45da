"""The lease reaper: a background thread that fails trials whose heartbeats stopped."""

from __future__ import annotations

import logging
import threading

from hpo._metrics import observe_leases_expired
from hpo.errors import HpoError
from hpo.service._service import StudyService

_logger = logging.getLogger(__name__)


class LeaseReaper:
    """Calls :meth:`StudyService.expire_stale_leases` every ``interval`` seconds until
    stopped, and lets go of studies idle for ``idle_seconds`` (:meth:`StudyService.evict_idle`).

    One per coordinator; several coordinators on one database may all run one.
    """

    def __init__(
        self, service: StudyService, interval: float = 5.0, idle_seconds: float = 600.0
    ) -> None:
        self._service = service
        self._interval = interval
        self._idle_seconds = idle_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hpo-lease-reaper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                observe_leases_expired(len(self._service.expire_stale_leases()))
                self._service.evict_idle(self._idle_seconds)
            except HpoError as e:  # database down: try again next round
                _logger.warning("lease reaper: %s", e.message)
            except Exception:
                _logger.exception("lease reaper failed; retrying next round")
