"""Fill a database with completed trials fast: whole units of work of many trials each."""

from __future__ import annotations

import datetime

import optuna
from optuna.distributions import FloatDistribution
from optuna.study import StudyDirection
from optuna.trial import TrialState

from hpo.service import StudyConfig, StudyService
from hpo.storage import Storage
from hpo.storage._trial_log import trial_op

_SPACE = {f"x{i}": FloatDistribution(0.0, 1.0) for i in range(5)}


def prefill(
    storage: Storage, study: str, n: int, batch: int = 5_000, snapshot: bool = True
) -> None:
    """Create ``study`` (if needed) and add ``n`` completed 5-parameter trials to it.

    With ``snapshot``, the study is left as a coordinator leaves it: a coordinator writes a
    snapshot every ``SNAPSHOT_EVERY`` log rows, and these few big rows would never reach one,
    so loading would replay the whole log instead of what a real study loads."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    service = StudyService(storage)
    service.create_study(study, [StudyDirection.MINIMIZE], StudyConfig(), load_if_exists=True)
    row = storage.studies.find(study)
    assert row is not None
    now = datetime.datetime.now()
    for start in range(0, n, batch):
        with storage.studies.transaction(row.study_id) as unit:
            for i in range(start, min(n, start + batch)):
                params = {name: ((i + k) * 0.6180339887) % 1.0 for k, name in enumerate(_SPACE)}
                trial = optuna.trial.create_trial(
                    state=TrialState.COMPLETE,
                    value=sum(params.values()),
                    params=params,
                    distributions=_SPACE,
                    intermediate_values={0: 1.0, 1: 0.5},
                )
                trial.datetime_start = trial.datetime_complete = now
                unit.add_trial(trial_op(trial))
    if snapshot:
        storage.studies.write_snapshot(storage.studies.current(row.study_id))
