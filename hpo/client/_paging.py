"""Reading every trial of a study through ListTrials, page by page: the one paging loop."""

from __future__ import annotations

from collections.abc import Sequence

from hpo.client._connection import Connection
from hpo.v1 import coordinator_pb2 as api
from hpo.v1 import study_pb2 as pb

PAGE_SIZE = 10_000


def all_trials(
    connection: Connection, study: str, states: Sequence[pb.TrialState] = ()
) -> list[pb.Trial]:
    """Every trial of ``study`` by number (only those in ``states``, when given)."""
    trials: list[pb.Trial] = []
    token = ""
    while True:
        request = api.ListTrialsRequest(
            study=study, states=states, page_size=PAGE_SIZE, page_token=token
        )
        response = connection.call("ListTrials", request)
        trials.extend(response.trials)
        token = response.next_page_token
        if not token:
            return trials
