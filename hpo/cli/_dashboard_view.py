"""What ``hpo dashboard`` hands optuna-dashboard: an hpo database's trials with their lineage.

optuna-dashboard shows a trial's user attributes; :class:`LineageAttrsStorage` hands it the
study's trials with their recorded lineage (code version, seed, data and artifact digests)
added as ``lineage.*`` user attributes. They exist only in what the dashboard reads: nothing
is written to the study.
"""

from __future__ import annotations

import threading
from collections.abc import Container

from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

from hpo._optuna_adapter import ForwardingStorage
from hpo.cli import _json
from hpo.cli._lineage_commands import lineage_fields
from hpo.storage._lineage import LineageStore, TrialRecords

#: The lineage the dashboard shows: the code version, the seed, and what the trial read and
#: wrote (the environment's package list would crowd its trial table).
_SHOWN = ("code", "seed", "data.", "artifact.")


def lineage_attrs(records: TrialRecords) -> dict[str, str]:
    """A trial's lineage as ``lineage.*`` attributes (none when nothing was recorded)."""
    from hpo.server._lineage_servicers import trial_lineage_pb

    fields = lineage_fields(_json.plain(trial_lineage_pb("", 0, records)))
    if records.lineage is None:  # no code recorded is not "no git"
        fields = {k: v for k, v in fields.items() if not k.startswith("code")}
    return {f"lineage.{k}": v for k, v in fields.items() if k.startswith(_SHOWN)}


class LineageAttrsStorage(ForwardingStorage):
    """An Optuna storage that reads through to ``storage`` and adds each trial's lineage to
    the user attributes of the trials it returns. Writes go to ``storage`` unchanged.

    The lineage of a finished trial is frozen, so it is read once; a running trial's is read
    at each call.
    """

    def __init__(self, storage: BaseStorage, lineage: LineageStore) -> None:
        super().__init__(storage)
        self._lineage = lineage
        self._finished: dict[int, dict[str, str]] = {}
        self._lock = threading.Lock()

    def _annotated(self, trial: FrozenTrial) -> FrozenTrial:
        trial_id = trial._trial_id
        with self._lock:
            attrs = self._finished.get(trial_id)
        if attrs is None:
            attrs = lineage_attrs(self._lineage.records(trial_id))
            if trial.state.is_finished():
                with self._lock:
                    self._finished[trial_id] = attrs
        if not attrs:
            return trial
        copy = FrozenTrial(
            number=trial.number,
            state=trial.state,
            value=None,
            values=trial.values,
            datetime_start=trial.datetime_start,
            datetime_complete=trial.datetime_complete,
            params=trial.params,
            distributions=trial.distributions,
            user_attrs={**trial.user_attrs, **attrs},
            system_attrs=trial.system_attrs,
            intermediate_values=trial.intermediate_values,
            trial_id=trial_id,
        )
        return copy

    # -- reads that carry lineage -------------------------------------------------------

    def get_trial(self, trial_id: int) -> FrozenTrial:
        return self._annotated(self._inner.get_trial(trial_id))

    def get_all_trials(
        self,
        study_id: int,
        deepcopy: bool = True,
        states: Container[TrialState] | None = None,
    ) -> list[FrozenTrial]:
        trials = self._inner.get_all_trials(study_id, deepcopy=deepcopy, states=states)
        return [self._annotated(t) for t in trials]
