"""Request ids: a retried Report or Tell has one effect, the same id with another payload is
refused (the StudyService mixin that keeps that ledger)."""

from __future__ import annotations

from hpo.errors import InvalidArgumentError
from hpo.service._runtime import StudyRuntime
from hpo.storage import Storage
from hpo.storage._records import RecordedRequest
from hpo.storage._unit import Unit


class RequestLedger:
    """What the service remembers of the request ids it applied (``hpo_requests``)."""

    _storage: Storage

    def _record_request(self, unit: Unit, request_id: str, method: str, digest: str) -> None:
        """Remember the request id with the unit (a retry is answered from it). An id taken
        by another payload fails the unit's commit with DuplicateKeyError: nothing lands."""
        if request_id:
            unit.defer(
                self._storage.requests.record_statement(unit.study_id, request_id, method, digest)
            )

    def _replayed(
        self, runtime: StudyRuntime, request_id: str, digest: str, unit: Unit | None = None
    ) -> bool:
        """True when this request id was applied already with the same payload. Within a
        ``unit`` it is looked up there: a twin of this request may have been applied by a unit
        of the same commit group, not committed yet (PostgreSQL), whose trial change the unit
        already sees."""
        if unit is None:
            recorded = self._storage.requests.lookup(runtime.study_id, request_id)
        else:
            rows = unit.query(*self._storage.requests.lookup_query(runtime.study_id, request_id))
            recorded = RecordedRequest(*rows[0]) if rows else None
        if recorded is None:
            return False
        if recorded.digest != digest:
            raise InvalidArgumentError.for_field(
                "request_id", f"{request_id!r} was already used for a different {recorded.method}"
            )
        return True

    def _conflicting_request(self, runtime: StudyRuntime, request_id: str, digest: str) -> None:
        """The request id is taken and nothing was written: by a concurrent retry of this
        very request (its effect stands) or by another request (refused)."""
        if not self._replayed(runtime, request_id, digest):
            raise InvalidArgumentError.for_field(
                "request_id", f"{request_id!r} was already used for another request"
            )
