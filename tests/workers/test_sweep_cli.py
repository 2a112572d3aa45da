"""`hpo sweep` as a user runs it, in a fresh folder: interrupted with Ctrl-C and run again to
exactly its budget; a failed start that creates nothing; settings that differ from the
stored study's named, never silently chosen; progress that fits a terminal."""

from __future__ import annotations

import os
import pty
import re
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import hpo

from .conftest import OBJECTIVES, objective

HPO = [sys.executable, "-m", "hpo.cli"]


def sweep_env(ray_cluster: str) -> dict[str, str]:
    env = {**os.environ, "RAY_ADDRESS": ray_cluster, "RAY_AUTH_MODE": "disabled"}
    for name in ("HPO_ADDRESS", "HPO_DB", "HPO_STORAGE"):
        env.pop(name, None)
    return env


def hpo_sweep(ray_cluster: str, folder: Path, *args: str) -> subprocess.CompletedProcess:
    """``hpo sweep ARGS`` run to its end in ``folder``, joining the test's Ray cluster."""
    return subprocess.run(
        [*HPO, "sweep", *args],
        env=sweep_env(ray_cluster),
        capture_output=True,
        text=True,
        cwd=folder,
        timeout=300,
    )


def test_interrupted_sweep_goes_on_to_exactly_its_budget(ray_cluster, tmp_path) -> None:
    storage = f"sqlite:///{tmp_path / 'sweep.db'}"
    env = sweep_env(ray_cluster)
    command = [
        *HPO,
        "sweep",
        objective("sleepy_objective"),
        "--study",
        "resumable",
        "--trials",
        "12",
        "--workers",
        "2",
        "--db",
        storage,
        "--sampler",
        "random",
        "--pruner",
        "none",
    ]
    first = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path
    )
    give_up = time.monotonic() + 120
    while time.monotonic() < give_up:
        done = [t for t in _trials(storage) if t.state == hpo.TrialState.COMPLETE]
        if len(done) >= 3:
            break
        time.sleep(0.2)
    first.send_signal(signal.SIGINT)
    _, err = first.communicate(timeout=120)
    assert first.returncode == 130, err
    assert "run the same command again" in err, err
    interrupted = _trials(storage)
    assert 3 <= sum(t.state == hpo.TrialState.COMPLETE for t in interrupted) < 12
    assert not [t for t in interrupted if t.state == hpo.TrialState.RUNNING]

    # The same command again goes on with the study (its settings are the same).
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "study 'resumable' exists: going on to its budget of 12 trials" in again.stdout
    assert "best trials" in again.stdout
    final = _trials(storage)
    assert sum(t.state == hpo.TrialState.COMPLETE for t in final) == 12
    assert [t.number for t in final] == list(range(len(final)))
    # --resume with the settings left out: the stored ones; the budget is spent already,
    # which the sweep reads from its database before it would start or join Ray: it joins
    # none (nothing listens at this Ray address).
    resumed = subprocess.run(
        [*HPO, "sweep", objective("sleepy_objective"), "--study", "resumable", "--db", storage,
         "--resume"],
        env={**env, "RAY_ADDRESS": "127.0.0.1:9"}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert "has all 12 trials of its budget: nothing to run" in resumed.stdout
    assert len(_trials(storage)) == len(final)


def test_settings_that_differ_from_the_stored_study_are_named(ray_cluster, tmp_path) -> None:
    """A study created minimizing, resumed with --direction maximize --trials 3: an error
    naming both settings, and not one trial more (it used to optimize the stored direction)."""
    env = sweep_env(ray_cluster)
    base = [*HPO, "sweep", objective("sleepy_objective"), "--study", "acc", "--workers", "1"]
    first = subprocess.run(
        [*base, "--trials", "2", "--pruner", "none"],
        env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    resumed = subprocess.run(
        [*base, "--direction", "maximize", "--trials", "3", "--pruner", "none", "--resume"],
        env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert resumed.returncode == 1
    assert resumed.stderr == (
        "error: FAILED_PRECONDITION: study 'acc' exists with other settings: directions: "
        "stored minimize, requested maximize; trial_budget: stored 2, requested 3 (leave a "
        "setting out to keep the stored one, or choose another study name)\n"
    )
    study = hpo.load_study("acc", storage=f"sqlite:///{tmp_path / 'hpo.db'}")
    assert len(study.trials) == 2 and study.direction.name == "MINIMIZE"
    missing = subprocess.run(
        [*base, "--study", "nosuch", "--resume"],
        env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert missing.returncode == 1
    assert "study 'nosuch' does not exist: leave out --resume to start it" in missing.stderr


def test_a_failed_start_creates_nothing_and_the_fixed_command_just_works(
    ray_cluster, tmp_path
) -> None:
    env = sweep_env(ray_cluster)
    (tmp_path / "broken.py").write_text("import os\n\ndef objective(trial)\n    return 1.0\n")
    (tmp_path / "needs.py").write_text("import no_such_module_here\n")
    common = ["--study", "first", "--trials", "2", "--workers", "1", "--pruner", "none"]
    mistakes = {
        f"{OBJECTIVES}:sleepy_objectiv": "error: objective: "
        f"{OBJECTIVES} has no function 'sleepy_objectiv' (did you mean 'sleepy_objective'?)",
        "broken.py:objective": "error: broken.py, line 3: SyntaxError: expected ':'",
        "needs.py:objective": "error: needs.py, line 1: ModuleNotFoundError: No module named "
        "'no_such_module_here'",
        "missing.py:objective": "error: objective: there is no file 'missing.py'",
    }
    for spec, message in mistakes.items():
        failed = subprocess.run(
            [*HPO, "sweep", spec, *common],
            env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path,
        )  # fmt: skip
        assert failed.returncode == 1, failed.stdout
        assert failed.stderr == message + "\n"
    no_workers = subprocess.run(
        [*HPO, "sweep", objective("sleepy_objective"), *common, "--workers", "0"],
        env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert no_workers.returncode == 1 and no_workers.stderr == "error: workers: must be >= 1\n"
    assert not (tmp_path / "hpo.db").exists()  # nothing was created, not even the database

    # A study left with no trial by a start that failed later (Ray, say): the same command
    # now simply runs it.
    hpo.create_study(
        "first", trial_budget=2, pruner="none", retry_budget=2, lease_seconds=60,
        storage=f"sqlite:///{tmp_path / 'hpo.db'}",
    )  # fmt: skip
    fixed = subprocess.run(
        [*HPO, "sweep", objective("sleepy_objective"), *common],
        env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert fixed.returncode == 0, fixed.stderr
    assert "trials: 2 complete" in fixed.stdout


def test_progress_fits_a_100_column_terminal(ray_cluster, tmp_path) -> None:
    """On a terminal: one line redrawn in place, at most 100 columns, numbers whole."""
    env = {**sweep_env(ray_cluster), "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "40"}
    command = [
        *HPO, "sweep", objective("sleepy_objective"), "--study", "a-study-with-a-long-name",
        "--trials", "6", "--workers", "2", "--pruner", "none",
    ]  # fmt: skip
    output = _run_in_terminal(command, env, tmp_path, columns=100)
    frames = [
        line for chunk in re.split(r"[\r\n]", _without_escapes(output)) if (line := chunk.rstrip())
    ]
    progress = [line for line in frames if "/6" in line and "complete" in line]
    assert progress, output
    for line in frames:
        assert len(line) <= 100, line
    assert "…" not in output
    assert re.search(r"6/6 +complete \d+ +pruned 0 +failed 0 +running 0 +best \d", progress[-1])


def _run_in_terminal(command: list[str], env: dict[str, str], cwd: Path, columns: int) -> str:
    import fcntl
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=follower, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process is gone
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=300)
    os.close(leader)
    assert proc.returncode == 0, b"".join(chunks).decode(errors="replace")
    return b"".join(chunks).decode(errors="replace")


def _without_escapes(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07", "", text)


def _trials(storage: str, study: str = "resumable") -> list:
    import optuna

    from hpo.storage import optuna_storage

    try:
        return optuna.load_study(study_name=study, storage=optuna_storage(storage)).trials
    except KeyError:
        return []


def test_an_objective_that_always_fails_stops_the_sweep(ray_cluster, tmp_path) -> None:
    """Failed trials do not count against the budget: without a limit a broken objective
    would run forever. By default the sweep stops once more trials failed than its budget,
    and says why the last one failed."""
    (tmp_path / "boom.py").write_text(
        "def objective(trial):\n    trial.suggest_float('x', 0, 1)\n    return 1 / 0\n"
    )
    storage = f"sqlite:///{tmp_path / 'boom.db'}"
    done = hpo_sweep(
        ray_cluster, tmp_path, "boom.py:objective", "--study", "boom", "--trials", "3",
        "--workers", "2", "--db", storage,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "sweep stopped: more than 3 trials failed" in done.stdout, done.stdout
    assert "ZeroDivisionError" in done.stdout.split("sweep stopped:")[1], done.stdout
    failed = [t for t in _trials(storage, "boom") if t.state == hpo.TrialState.FAIL]
    # The driver checks twice a second: trials that fail in a millisecond overshoot the
    # limit by what the workers ran meanwhile (without a limit it never stops at all).
    assert 3 < len(failed) < 1_000


def test_a_module_objective_is_found_in_the_folder_hpo_sweep_runs_in(ray_cluster, tmp_path) -> None:
    """MODULE:FUNCTION is looked for where the command runs, as `python -m` would (the
    console script's own folder is on its path, the user's is not); a missing module is one
    line naming it."""
    (tmp_path / "mypkg").mkdir()
    (tmp_path / "mypkg" / "__init__.py").write_text("")
    (tmp_path / "mypkg" / "train.py").write_text(
        "def objective(trial):\n    return trial.suggest_float('x', 0, 1)\n"
    )
    storage = f"sqlite:///{tmp_path / 'module.db'}"
    settings = ("--study", "module", "--trials", "2", "--db", storage)
    found = hpo_sweep(ray_cluster, tmp_path, "mypkg.train:objective", *settings)
    assert found.returncode == 0, found.stdout + found.stderr
    complete = [t for t in _trials(storage, "module") if t.state == hpo.TrialState.COMPLETE]
    assert len(complete) == 2
    missing = hpo_sweep(ray_cluster, tmp_path, "mypkg.trian:objective", *settings)
    assert missing.returncode == 1
    lines = missing.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), missing.stderr
    assert f"objective: there is no module 'mypkg.trian' (looked in {tmp_path} " in lines[0]


def test_every_line_the_objective_prints_is_in_the_sweeps_output(ray_cluster, tmp_path) -> None:
    """The sweep leaves Ray once what its workers printed has reached the terminal (sooner
    than Ray's exit hook, which waits half a second for it): the very last lines of the very
    last trials are there, every time."""
    storage = f"sqlite:///{tmp_path / 'chatty.db'}"
    for attempt in range(3):
        done = subprocess.run(
            [*HPO, "sweep", objective("chatty_objective"), "--study", f"chatty-{attempt}"]
            + ["--trials", "30", "--workers", "2", "--db", storage, "--pruner", "none"],
            env={**sweep_env(ray_cluster), "RAY_DEDUP_LOGS": "0"},  # each line, not a count
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        said = set(re.findall(r"trial (\d+) says (\d)", done.stdout + done.stderr))
        missing = {(str(n), str(i)) for n in range(30) for i in range(3)} - said
        assert not missing, f"attempt {attempt}: lines lost: {sorted(missing)}"


def test_a_sweep_short_of_its_budget_because_others_hold_trials_says_so(
    ray_cluster, tmp_path
) -> None:
    """Every worker is told the budget is spent while another client still holds a trial
    (another sweep, or one killed moments ago whose lease has not run out): the sweep does
    not end as if it were done, it says why it is short and how to finish."""
    storage = f"sqlite:///{tmp_path / 'held.db'}"
    study = hpo.create_study("held", storage=storage, trial_budget=3, pruner="none")
    held = study.ask()  # this process beats its lease: a live client elsewhere
    done = hpo_sweep(
        ray_cluster, tmp_path, objective("steady_objective"), "--study", "held",
        "--workers", "2", "--db", storage,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "sweep stopped: 1 trial(s) still RUNNING under other clients' leases" in " ".join(
        done.stdout.split()
    ), done.stdout
    assert "run the sweep again" in " ".join(done.stdout.split())
    states = [t.state for t in _trials(storage, "held")]
    assert states.count(hpo.TrialState.COMPLETE) == 2 and states.count(hpo.TrialState.RUNNING) == 1
    study.tell(held, 1.0)
    again = hpo_sweep(ray_cluster, tmp_path, objective("steady_objective"), "--study", "held",
                      "--db", storage)  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
