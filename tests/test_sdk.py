"""The SDK against a real coordinator: the Optuna-style loop, budgets, enqueue, errors."""

from __future__ import annotations

import subprocess
import sys

import optuna
import pytest
from optuna.distributions import FloatDistribution, IntDistribution

import hpo
from hpo.client._embedded import budget_spent_in_embedded
from hpo.server import Coordinator
from tests.conftest import user_environment


def objective(trial: hpo.Trial) -> float:
    x = trial.suggest_float("x", -10, 10)
    n = trial.suggest_int("n", 1, 4)
    kind = trial.suggest_categorical("kind", ["linear", "square"])
    if kind == "square":
        trial.suggest_float("scale", 0.1, 10, log=True)  # a conditional parameter
    for step in range(4):
        trial.report((x - 2) ** 2 + n + 1 / (step + 1), step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return (x - 2) ** 2 + n


def test_optuna_objective_runs_unchanged(coordinator: Coordinator) -> None:
    study = hpo.create_study("q", sampler={"name": "tpe", "seed": 3}, address=coordinator.address)
    study.optimize(objective, n_trials=25)

    trials = study.trials
    assert [t.number for t in trials] == list(range(25))
    assert {t.state for t in trials} <= {hpo.TrialState.COMPLETE, hpo.TrialState.PRUNED}
    best = study.best_trial
    assert best.value == min(t.value for t in trials if t.state == hpo.TrialState.COMPLETE)
    assert best.value == pytest.approx((best.params["x"] - 2) ** 2 + best.params["n"])
    assert all(("scale" in t.params) == (t.params["kind"] == "square") for t in trials)
    # the stored intermediate values are the reported ones
    assert trials[0].intermediate_values[0] == pytest.approx(
        (trials[0].params["x"] - 2) ** 2 + trials[0].params["n"] + 1
    )


def test_trial_budget_stops_optimize_and_ask(sqlite_coordinator: Coordinator) -> None:
    study = hpo.create_study("b", trial_budget=5, address=sqlite_coordinator.address)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=50, n_jobs=3)
    assert len(study.trials) == 5
    with pytest.raises(hpo.BudgetSpentError):
        study.ask()


def test_declared_search_space_arrives_with_ask(sqlite_coordinator: Coordinator) -> None:
    space = {"lr": FloatDistribution(1e-4, 1, log=True), "layers": IntDistribution(1, 3)}
    study = hpo.create_study("d", search_space=space, address=sqlite_coordinator.address)
    trial = study.ask()
    assert set(trial.params) == {"lr", "layers"}
    assert trial.suggest_float("lr", 1e-4, 1, log=True) == trial.params["lr"]
    frozen = study.tell(trial, 0.5)
    assert frozen.state == hpo.TrialState.COMPLETE and frozen.params == trial.params


def test_enqueued_trial_is_asked_first(sqlite_coordinator: Coordinator) -> None:
    study = hpo.create_study("e", address=sqlite_coordinator.address)
    study.enqueue_trial({"x": 0.25})
    trial = study.ask()
    assert trial.suggest_float("x", 0, 1) == 0.25
    study.tell(trial, 1.0)


def test_objective_exception_fails_trial_and_propagates(sqlite_coordinator: Coordinator) -> None:
    study = hpo.create_study("f", address=sqlite_coordinator.address)

    def broken(trial: hpo.Trial) -> float:
        trial.suggest_float("x", 0, 1)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        study.optimize(broken, n_trials=3)
    study.optimize(broken, n_trials=2, catch=(RuntimeError,))
    failed = study.trials
    assert [t.state for t in failed] == [hpo.TrialState.FAIL] * 3
    assert "RuntimeError: boom" in failed[0].system_attrs["hpo:fail_reason"]


def test_nan_objective_is_failed_not_completed(sqlite_coordinator: Coordinator) -> None:
    study = hpo.create_study("nan", address=sqlite_coordinator.address)
    study.optimize(lambda t: float("nan"), n_trials=1)
    assert study.trials[0].state == hpo.TrialState.FAIL


def test_multi_objective_best_trials_is_pareto_front(sqlite_coordinator: Coordinator) -> None:
    study = hpo.create_study(
        "mo",
        directions=["minimize", "maximize"],
        sampler="nsga2",
        address=sqlite_coordinator.address,
    )
    study.optimize(lambda t: (t.suggest_float("x", 0, 1), t.suggest_float("y", 0, 1)), n_trials=12)
    front = study.best_trials
    assert front
    for a in front:
        dominated = any(
            b.values[0] <= a.values[0] and b.values[1] >= a.values[1] and b.values != a.values
            for b in study.trials
        )
        assert not dominated


def test_load_study_and_errors(sqlite_coordinator: Coordinator) -> None:
    address = sqlite_coordinator.address
    hpo.create_study("dup", address=address)
    with pytest.raises(hpo.AlreadyExistsError, match="dup"):
        hpo.create_study("dup", address=address)
    assert hpo.create_study("dup", address=address, load_if_exists=True).study_name == "dup"
    assert hpo.load_study("dup", address=address).study_name == "dup"
    with pytest.raises(hpo.NotFoundError, match="nope"):
        hpo.load_study("nope", address=address)
    with pytest.raises(hpo.InvalidArgumentError, match="sampler.name"):
        hpo.create_study("bad", sampler="simulated_annealing", address=address)


def test_load_if_exists_names_every_setting_that_differs(sqlite_coordinator) -> None:
    """Never a silent choice between the stored settings and the requested ones."""
    address = sqlite_coordinator.address
    stored = hpo.create_study(
        "kept", direction="maximize", sampler={"name": "tpe", "seed": 1}, trial_budget=5,
        address=address,
    )  # fmt: skip
    stored.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    with pytest.raises(hpo.FailedPreconditionError) as info:
        hpo.create_study(
            "kept", direction="minimize", sampler="random", pruner="none", trial_budget=3,
            load_if_exists=True, address=address,
        )  # fmt: skip
    assert info.value.message == (
        "study 'kept' exists with other settings: directions: stored maximize, requested "
        'minimize; sampler: stored tpe {"seed": 1}, requested random; pruner: stored median, '
        "requested none; trial_budget: stored 5, requested 3 (leave a setting out to keep the "
        "stored one, or choose another study name)"
    )
    # Settings left out take the stored ones; the same ones are fine; nothing was changed.
    for same in ({}, {"direction": "maximize", "trial_budget": 5}):
        loaded = hpo.create_study("kept", load_if_exists=True, address=address, **same)
        assert loaded.direction.name == "MAXIMIZE"
        assert loaded.info().trial_budget == 5 and len(loaded.trials) == 1
    # A new study created with load_if_exists and no direction minimizes, as create_study does.
    fresh = hpo.create_study("fresh", load_if_exists=True, address=address)
    assert fresh.direction.name == "MINIMIZE"


def test_tell_takes_a_state_by_name(sqlite_coordinator) -> None:
    study = hpo.create_study("named", address=sqlite_coordinator.address)
    for name, state in (("pruned", "PRUNED"), ("FAIL", "FAIL"), ("Complete", "COMPLETE")):
        trial = study.ask()
        trial.report(0.5, 0)
        told = study.tell(trial, 0.5 if state == "COMPLETE" else None, state=name)
        assert told.state.name == state
    trial = study.ask()
    with pytest.raises(hpo.InvalidArgumentError) as info:
        study.tell(trial, state="stopped")
    assert str(info.value) == (
        "state: 'stopped' is not a trial state; use one of running, complete, pruned, "
        "failed, waiting"
    )
    assert study.trials[-1].state == hpo.TrialState.RUNNING  # nothing was told


def test_tls_settings_are_part_of_the_public_api() -> None:
    security = hpo.ClientSecurity(tls_ca="ca.pem", token="hpo_x")
    assert security.metadata() == (("authorization", "Bearer hpo_x"),)


def test_embedded_default_uses_a_sqlite_file(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HPO_ADDRESS", raising=False)
    monkeypatch.delenv("HPO_DB", raising=False)
    study = hpo.create_study("local")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    assert (tmp_path / "hpo.db").exists()
    assert len(hpo.load_study("local").trials) == 3


def test_a_pruned_trial_told_with_its_own_values_keeps_them(sqlite_coordinator) -> None:
    study = hpo.create_study("pv", address=sqlite_coordinator.address)
    trial = study.ask()
    trial.report(3.0, 0)
    told = study.tell(trial, 2.5, state=hpo.TrialState.PRUNED)  # was INTERNAL
    assert told.state == hpo.TrialState.PRUNED and told.values == [2.5]
    other = study.ask()
    other.report(4.0, 0)
    assert study.tell(other, state=hpo.TrialState.PRUNED).values == [4.0]  # the last report


@pytest.mark.parametrize(
    "form", ["bare path", "relative URL", "absolute URL", "percent-encoded URL"]
)
def test_a_spent_budget_is_read_from_the_database_however_it_is_named(
    tmp_path, monkeypatch, form
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HPO_ADDRESS", raising=False)
    db = form.replace(" ", "-") + " file.db"  # embedded coordinators outlive a test: one each
    study = hpo.create_study("spent", storage=str(tmp_path / db), trial_budget=1)
    study.optimize(lambda t: 0.0, n_trials=1)
    url = {
        "bare path": db,
        "relative URL": f"sqlite:///{db}",
        "absolute URL": f"sqlite:///{tmp_path}/{db}",
        "percent-encoded URL": f"sqlite:///{tmp_path}/{db.replace(' ', '%20')}",  # as SQLAlchemy
    }[form]
    assert budget_spent_in_embedded(url, "spent")
    # A database that is not there has no spent study, and is not created by asking.
    other = url.replace(db.replace(" ", "%20") if "%20" in url else db, "other.db")
    assert other != url
    assert not budget_spent_in_embedded(other, "spent")
    assert not (tmp_path / "other.db").exists()


_PREPARE = """
import sys
from hpo.client._embedded import preparing_embedded
address, storage = (sys.argv[1] or None), (sys.argv[2] or None)
with preparing_embedded(address, storage, also=["hpo.cli._json"]):
    pass
assert "hpo.cli._json" in sys.modules  # the modules named are imported either way
print("hpo.server" in sys.modules)
"""


@pytest.mark.parametrize(
    ("address", "storage", "env_address", "imported"),
    [
        ("", "sqlite:///x.db", "", "True"),  # an embedded coordinator will start
        ("", "", "", "True"),  # on the default database
        ("127.0.0.1:1", "", "", "False"),  # a running coordinator: nothing to prepare
        ("", "", "127.0.0.1:1", "False"),  # ... named by HPO_ADDRESS
    ],
)
def test_the_embedded_coordinator_is_prepared_only_when_one_will_start(
    tmp_path, address: str, storage: str, env_address: str, imported: str
) -> None:
    env = user_environment(**({"HPO_ADDRESS": env_address} if env_address else {}))
    command = [sys.executable, "-c", _PREPARE, address, storage]
    done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == imported
    assert list(tmp_path.iterdir()) == []  # preparing opens no database


_PRIORITY_SEEN = """
import os, threading
importer = threading.get_native_id()
seen = (os.getpriority(os.PRIO_PROCESS, importer), os.getloadavg()[0])
"""
_PREPARE_PRIORITY = """
import os, sys
from hpo.client._embedded import preparing_embedded
sys.path.insert(0, sys.argv[1])
with preparing_embedded("127.0.0.1:1", None, also=["priority_seen", "hpo.server"]):
    pass
import priority_seen
own = os.getpriority(os.PRIO_PROCESS, 0)
# Threads started by the imports (NumPy's BLAS) keep the process's priority; Arrow's memory
# purger, if any, may run at any; the importing thread, joined, may not have left yet.
threads, lowered = 0, []
for task in os.listdir("/proc/self/task"):
    try:
        name = open(f"/proc/self/task/{task}/comm").read().strip()
        niceness = os.getpriority(os.PRIO_PROCESS, int(task))
    except OSError:
        continue  # gone meanwhile
    threads += 1
    if int(task) != priority_seen.importer and name != "jemalloc_bg_thd" and niceness != own:
        lowered.append(name)
print(*priority_seen.seen, own, len(os.sched_getaffinity(0)), threads, len(lowered))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="a thread's own nice value is Linux's")
def test_modules_are_imported_ahead_at_a_lower_priority_unless_the_machine_is_busy(
    tmp_path,
) -> None:
    """Imports ahead slowed a local Ray's start by 0.3-0.4 s at the same priority; on a busy
    machine a lowered priority would starve them instead. The process, and the threads the
    imports start, keep their own."""
    (tmp_path / "priority_seen.py").write_text(_PRIORITY_SEEN)
    command = [sys.executable, "-c", _PREPARE_PRIORITY, str(tmp_path)]
    done = subprocess.run(command, env=user_environment(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    niceness, load, process_niceness, cores, threads, lowered_threads = done.stdout.split()
    lowered = min(int(process_niceness) + 10, 19)
    assert int(niceness) == (lowered if float(load) < int(cores) else int(process_niceness))
    # NumPy's BLAS threads, if it starts any (not with OMP_NUM_THREADS=1, nor on one core):
    assert int(threads) >= 1 and int(lowered_threads) == 0
