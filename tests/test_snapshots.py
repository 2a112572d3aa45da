"""Snapshots: a snapshot restores exactly the study its log rows make, in the columnar format
and in the per-trial format older databases hold; a restored study builds trials when read."""

from __future__ import annotations

import json
import time
import zlib

import optuna
from optuna.distributions import (
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
    distribution_to_json,
)
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from hpo.storage import open_storage
from hpo.storage._optuna_view import OptunaStorage
from hpo.storage._sql import RawSql
from hpo.storage._studies import StudyLog
from hpo.storage._trial_log import (
    Draft,
    StudyModel,
    attr_op,
    encode_ops,
    intermediate_op,
    param_op,
    state_op,
    trial_op,
)

_SPACE = {
    "lr": FloatDistribution(1e-5, 1.0, log=True),
    "layers": IntDistribution(1, 9, step=2),
    "act": CategoricalDistribution(["relu", None, 3, 0.5]),
}
_STATES = [TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING]


def _rows(n: int) -> list[tuple[int, str]]:
    """Log rows making a study of ``n`` varied trials: conditional parameters, every state,
    intermediate values, attributes, and changes to trials in later rows."""
    model = StudyModel(7, "s", [StudyDirection.MINIMIZE, StudyDirection.MAXIMIZE])
    rows = []
    for i in range(n):
        params = {"lr": 10.0 ** -(i % 5), "layers": 1 + 2 * (i % 4)}
        if i % 3 == 0:
            params["act"] = [None, 3, "relu", 0.5][i % 4]
        state = _STATES[i % 4]
        trial = optuna.trial.create_trial(
            state=state,
            values=[float(i), -float(i)] if state == TrialState.COMPLETE else None,
            params=params,
            distributions={name: _SPACE[name] for name in params},
            user_attrs={"i": i} if i % 2 else {},
            system_attrs={"note": [i, "x"]} if i % 5 == 0 else {},
            intermediate_values={step: i / (step + 1) for step in range(i % 3)},
        )
        draft = Draft(model)
        draft.record({**trial_op(trial), "n": i})
        if i % 7 == 1:  # a later row changes an older trial, as tells and reports do
            older = i // 2
            if draft.trial(older).state == TrialState.RUNNING:
                draft.record(intermediate_op(older, 9, 0.25))
                draft.record(param_op(older, "extra", 0.5, FloatDistribution(0, 1)))
                draft.record(attr_op("sa", older, "lease", "gone"))
                draft.record(state_op(older, TrialState.FAIL, None, 1.7e9))
        rows.append((i, encode_ops(draft.ops)))
        draft.install(i)
    return rows


def _replayed(rows: list[tuple[int, str]]) -> StudyModel:
    model = StudyModel(7, "s", [StudyDirection.MINIMIZE, StudyDirection.MAXIMIZE])
    model.apply_rows(rows)
    return model


def _restored(snapshot: bytes) -> StudyModel:
    model = StudyModel(7, "s", [StudyDirection.MINIMIZE, StudyDirection.MAXIMIZE])
    model.restore(snapshot)
    return model


def _same(a: StudyModel, b: StudyModel) -> None:
    assert a.seq == b.seq
    assert list(a.trials) == list(b.trials)  # FrozenTrial equality: every field
    assert a.counts == b.counts
    assert a.param_distributions == b.param_distributions
    assert (a.user_attrs, a.system_attrs) == (b.user_attrs, b.system_attrs)


def _format_1(model: StudyModel) -> bytes:
    """A snapshot as coordinators wrote it before the columnar format (a list per trial)."""
    dists: dict[str, int] = {}
    rows = []
    for t in model.trials:
        params = {}
        for name, dist in t.distributions.items():
            index = dists.setdefault(distribution_to_json(dist), len(dists))
            params[name] = [dist.to_internal_repr(t.params[name]), index]
        rows.append(
            [
                t.number,
                t.state.value,
                t.values,
                None if t.datetime_start is None else t.datetime_start.timestamp(),
                None if t.datetime_complete is None else t.datetime_complete.timestamp(),
                params,
                [[step, value] for step, value in t.intermediate_values.items()],
                t.user_attrs,
                t.system_attrs,
            ]
        )
    body = {
        "seq": model.seq,
        "ua": model.user_attrs,
        "sa": model.system_attrs,
        "dists": list(dists),
        "trials": rows,
    }
    return zlib.compress(json.dumps(body).encode())


def test_a_snapshot_restores_what_replaying_its_log_makes() -> None:
    more = _rows(90)
    replayed = _replayed(more[:60])
    restored = _restored(replayed.snapshot())
    _same(restored, replayed)
    # Then the rows after it, on top of the snapshot's columns.
    restored.apply_rows(more)
    _same(restored, _replayed(more))
    # A snapshot of a restored study (some trials read, some changed, most never built).
    _same(_restored(restored.snapshot()), _replayed(more))


def test_a_format_1_snapshot_still_loads() -> None:
    more = _rows(75)
    replayed = _replayed(more[:60])
    old = _restored(_format_1(replayed))
    _same(old, replayed)
    old.apply_rows(more)
    _same(old, _replayed(more))


def test_a_restored_study_builds_a_trial_when_it_is_read() -> None:
    replayed = _replayed(_rows(40))
    restored = _restored(replayed.snapshot())
    first = restored.trials[5]
    assert restored.trials[5] is first  # built once, then kept
    assert restored.trials[-1] == replayed.trials[-1]
    assert restored.trials[10:13] == replayed.trials[10:13]
    for states in ([TrialState.RUNNING], [TrialState.FAIL], [TrialState.COMPLETE], []):
        expected = [t for t in replayed.trials if t.state in states]
        assert restored.trials.select(states) == expected
        draft = Draft(restored)  # a unit's reads see its own changes
        draft.record(state_op(3, TrialState.FAIL, None, 1.7e9))
        draft.record({**trial_op(replayed.trials[3]), "n": draft.n_trials})
        merged = [t for t in draft.trials() if t.state in states]
        assert draft.trials(states) == merged


def test_the_optuna_view_reads_a_study_loaded_from_a_format_1_snapshot(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    storage = open_storage(url)
    view = OptunaStorage.standalone(storage.studies)
    study = optuna.create_study(storage=view, study_name="s", directions=["minimize"])
    study.optimize(lambda t: t.suggest_float("x", 0, 1) + t.suggest_int("k", 0, 3), n_trials=12)
    study_id = study._study_id
    model = storage.studies.current(study_id)
    with storage.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO hpo_study_snapshots (study_id, seq, payload) VALUES (?, ?, ?)",
            (study_id, model.seq, _format_1(model)),
        )
    study.optimize(lambda t: t.suggest_float("x", 0, 1) + t.suggest_int("k", 0, 3), n_trials=3)
    fresh = open_storage(url)
    trials: list[FrozenTrial] = OptunaStorage.standalone(fresh.studies).get_all_trials(study_id)
    assert trials == study.trials
    assert len(trials) == 15
    fresh.close()
    storage.close()


def test_a_study_loaded_from_a_few_big_log_rows_gets_a_snapshot(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    storage = open_storage(url)
    study_id = storage.studies.create("bulk", [StudyDirection.MINIMIZE])
    with storage.studies.transaction(study_id) as unit:  # one row, 12 trials: an import
        for trial in _replayed(_rows(12)).trials:
            unit.add_trial(trial_op(trial))
    log = StudyLog(RawSql(storage.engine), snapshot_every=10)
    model = log.current(study_id)
    give_up = time.monotonic() + 30
    while True:  # written by a background thread
        with storage.engine.connect() as conn:
            row = conn.exec_driver_sql(
                "SELECT seq, payload FROM hpo_study_snapshots WHERE study_id = ?", (study_id,)
            ).first()
        if row is not None or time.monotonic() > give_up:
            break
        time.sleep(0.05)
    assert row is not None, "no snapshot after loading 12 trials from the log"
    assert row[0] == model.seq == 0
    restored = StudyModel(study_id, "bulk", [StudyDirection.MINIMIZE])
    restored.restore(bytes(row[1]))
    assert list(restored.trials) == list(model.trials)
    storage.close()
