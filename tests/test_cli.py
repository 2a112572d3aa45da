"""The `hpo` command as a user runs it: a real process in a fresh folder. A server that drains
on SIGTERM, the inspection commands and their JSON, one name per concept, one-line errors."""

from __future__ import annotations

import json
import os
import pickle
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

import hpo
from tests.conftest import user_environment

HPO = [sys.executable, "-m", "hpo.cli"]


@pytest.fixture
def server(sqlite_url: str, tmp_path) -> Iterator[tuple[subprocess.Popen, str]]:
    proc = subprocess.Popen(
        [*HPO, "server", "--db", sqlite_url, "--port", "0", "--grace", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    line = proc.stdout.readline()
    assert "listening on" in line, proc.stderr.read()
    address = line.split("listening on ")[1].split()[0]
    yield proc, address
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_server_drains_and_exits_cleanly_on_sigterm(server, sqlite_url) -> None:
    proc, address = server
    study = hpo.create_study("kept", address=address)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    os.kill(proc.pid, signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped" in out
    # nothing was lost: a new coordinator on the same file sees every trial
    assert len(hpo.load_study("kept", storage=sqlite_url).trials) == 3


def test_inspection_commands(server, hpo_cli) -> None:
    _, address = server
    study = hpo.create_study("cli", sampler="random", address=address)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=4)
    at = ("--coordinator", address)

    assert "random" in hpo_cli("studies", "show", "cli", *at).stdout
    table = hpo_cli("trials", "list", "cli", "--state", "COMPLETE", *at).stdout
    assert "complete" in table and "x=" in table
    missing = hpo_cli("studies", "show", "nope", *at, check=False)
    assert missing.returncode == 1 and "NOT_FOUND" in missing.stderr
    assert "Traceback" not in missing.stderr
    bad_state = hpo_cli("trials", "list", "cli", "--state", "done", *at, check=False)
    assert bad_state.returncode == 1 and "--state: 'done' is not a trial state" in bad_state.stderr

    hpo_cli("studies", "delete", "cli", "--yes", *at)
    assert json.loads(hpo_cli("studies", "list", *at, "--json").stdout) == []


def test_json_is_the_shape_scripts_want_on_every_command(server, hpo_cli, tmp_path) -> None:
    """Numbers as numbers, states and directions by name, parameters as values: the same
    trial shape from `trials list`, `best` and `trials show`; models likewise."""
    _, address = server
    at = ("--coordinator", address)
    study = hpo.create_study("js", direction="maximize", trial_budget=3, address=address)
    for _ in range(3):
        trial = study.ask()
        x = trial.suggest_float("x", 0, 1)
        trial.suggest_categorical("kind", ["a", "b"])
        trial.report(x / 2, 0)
        model = tmp_path / "model.pkl"
        model.write_bytes(pickle.dumps(x))
        trial.log_artifact(model)
        study.tell(trial, x)

    [listed] = json.loads(hpo_cli("studies", "list", *at, "--json").stdout)
    assert listed == json.loads(hpo_cli("studies", "show", "js", *at, "--json").stdout)
    assert listed["directions"] == ["MAXIMIZE"] and listed["trial_budget"] == 3
    assert listed["trial_counts"] == {
        "RUNNING": 0,
        "COMPLETE": 3,
        "PRUNED": 0,
        "FAILED": 0,
        "WAITING": 0,
    }
    assert listed["sampler"] == {"name": "tpe", "options": {}}

    trials = json.loads(hpo_cli("trials", "list", "js", *at, "--json").stdout)
    assert [t["number"] for t in trials] == [0, 1, 2]
    first = trials[0]
    assert first["state"] == "COMPLETE" and isinstance(first["values"][0], float)
    assert first["params"]["kind"] in ("a", "b") and 0 <= first["params"]["x"] <= 1
    assert first["values"] == [first["params"]["x"]]
    assert first["distributions"]["x"] == {
        "type": "float",
        "low": 0.0,
        "high": 1.0,
        "log": False,
        "step": None,
    }
    assert first["intermediate_values"] == [{"step": 0, "value": first["params"]["x"] / 2}]
    assert first["retry_of"] is None and first["start_time"].endswith("Z")

    [best] = json.loads(hpo_cli("best", "js", *at, "--json").stdout)
    assert best == max(trials, key=lambda t: t["values"][0])
    shown = json.loads(hpo_cli("trials", "show", "js", "0", *at, "--json").stdout)
    assert shown["trial"] == first
    assert shown["lineage"]["artifacts"][0]["size_bytes"] == model.stat().st_size
    assert shown["lineage"]["lineage"]["seed"] is None

    [version] = json.loads(
        hpo_cli("models", "register", "js-model", "--study", "js", *at, "--json").stdout
    )
    assert (version["name"], version["version"], version["trial_number"]) == (
        "js-model",
        1,
        best["number"],
    )
    assert json.loads(hpo_cli("models", "list", *at, "--json").stdout) == [version]
    assert json.loads(hpo_cli("models", "show", "js-model", *at, "--json").stdout) == [version]


def test_an_unknown_model_is_not_found(hpo_cli) -> None:
    shown = hpo_cli("models", "show", "nosuch", check=False)
    assert shown.returncode == 1
    assert shown.stderr.strip() == "error: NOT_FOUND: name: no model named 'nosuch'"
    assert shown.stdout == ""


def test_one_name_per_concept_and_old_spellings_say_what_replaced_them(hpo_cli) -> None:
    for command in (
        ("studies", "list"),
        ("trials", "list", "s"),
        ("best", "s"),
        ("models", "list"),
        ("export", "mlflow"),
    ):
        usage = hpo_cli(*command, "--help").stdout
        assert "--coordinator" in usage and "HPO_ADDRESS" in usage and "--db" in usage
        assert "--address" not in usage and "--storage" not in usage
    assert "--db" in hpo_cli("server", "--help").stdout
    sweep_usage = hpo_cli("sweep", "--help").stdout
    assert "--ray-address" in sweep_usage and "--coordinator" in sweep_usage
    assert "RAY_AUTH_MODE=token" in sweep_usage  # how a cluster's Ray authentication is set

    old = hpo_cli("studies", "list", "--storage", "old.db", "--json")
    assert old.stderr.splitlines() == ["note: --storage is deprecated: use --db"]
    assert json.loads(old.stdout) == []
    env = {**os.environ, "HPO_STORAGE": "sqlite:///env.db"}
    env.pop("HPO_DB", None)
    env.pop("HPO_ADDRESS", None)
    from_env = hpo_cli("studies", "list", "--json", env=env)
    assert from_env.stderr.splitlines() == ["HPO_STORAGE is deprecated: use HPO_DB"]
    gone = hpo_cli("studies", "list", "--address", "127.0.0.1:9", "--db", "x.db", check=False)
    assert gone.stderr.splitlines()[0] == "note: --address is deprecated: use --coordinator"
    swept = hpo_cli("sweep", "nope.py:f", "--study", "s", "--address", "auto", check=False)
    assert swept.stderr.splitlines()[0] == "note: --address is deprecated: use --ray-address"


def test_a_sqlite_file_in_a_missing_folder_is_named_not_retried(hpo_cli, tmp_path) -> None:
    served = hpo_cli("server", "--db", "sqlite:///no/such/hpo.db", "--port", "0", check=False)
    assert served.returncode == 1
    folder = tmp_path / "no" / "such"
    assert served.stderr.splitlines()[-1] == (
        f"error: database: the folder {folder} does not exist (sqlite:///no/such/hpo.db)"
    )
    listed = hpo_cli("studies", "list", "--db", "no/such/hpo.db", check=False)
    assert listed.returncode == 1
    assert listed.stderr == (
        f"error: INVALID_ARGUMENT: database: the folder {folder} does not exist "
        "(sqlite:///no/such/hpo.db)\n"
    )
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("notascheme://x", "notascheme://x: no database driver for 'notascheme' here"),
        ("mysql://u@127.0.0.1:1/x", "mysql://u@127.0.0.1:1/x: no database driver for 'mysql'"),
        ("postgresql://u:secret@h:port/x", "not a database URL (invalid literal for int()"),
    ],
)
def test_a_database_url_hpo_cannot_open_is_one_line_before_anything_starts(
    hpo_cli, tmp_path, url: str, said: str
) -> None:
    """An unknown database, a missing driver, a URL that does not parse: one line from every
    command (a sweep says it before it starts Ray), never a password, nothing written."""
    (tmp_path / "o.py").write_text("def f(trial):\n    return 0.0\n")
    for command in (
        ["studies", "list", "--db", url],
        ["server", "--db", url, "--port", "0"],
        ["sweep", "o.py:f", "--study", "s", "--trials", "1", "--db", url],
    ):
        # A Ray nobody can reach: a sweep that went to Ray first would fail on it instead.
        env = user_environment(RAY_ADDRESS="127.0.0.1:1")
        result = hpo_cli(*command, check=False, env=env)
        assert result.returncode == 1, result.stdout + result.stderr
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and said in lines[0] and "database:" in lines[0], lines
        assert "secret" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.py"]


def test_a_busy_port_is_one_line_and_touches_no_database(hpo_cli, tmp_path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = hpo_cli("server", "--db", "busy.db", "--port", str(port), check=False)
    assert result.returncode == 1
    assert result.stderr == f"error: port {port} is in use on 127.0.0.1\n"
    assert not (tmp_path / "busy.db").exists()  # no migrations ran


def test_a_database_that_cannot_be_reached_is_one_line_saying_why(hpo_cli) -> None:
    url = "postgresql://postgres@127.0.0.1:1/hpo"  # nothing listens on port 1
    result = hpo_cli("studies", "list", "--db", url, check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("error: UNAVAILABLE: database unavailable; retry later (")
    assert "port 1 failed: Connection refused)\n" in result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr  # no driver's warning above it


def test_errors_stay_on_one_line_however_long(hpo_cli) -> None:
    name = "a-study-name-long-enough-to-wrap-" * 4
    shown = hpo_cli("studies", "show", name, check=False)
    assert shown.returncode == 1
    assert shown.stderr == f"error: NOT_FOUND: study: no study named '{name}'\n"


def test_markup_in_user_text_is_printed_as_typed(hpo_cli) -> None:
    shown = hpo_cli("studies", "show", "[bold]x[/bold]", check=False)
    assert shown.stderr == "error: NOT_FOUND: study: no study named '[bold]x[/bold]'\n"


def test_trials_show_says_why_a_trial_failed(server, hpo_cli) -> None:
    _, address = server
    study = hpo.create_study("failing", address=address)
    trial = study.ask()
    reason = 'Traceback (most recent call last):\n  File "obj.py", line 3\nZeroDivisionError: division by zero\n'
    study.tell(trial, state="fail", fail_reason=reason)
    shown = hpo_cli("trials", "show", "failing", "0", "--coordinator", address).stdout
    assert "fail_reason" in shown and "ZeroDivisionError: division by zero" in shown


def test_version_is_the_installed_package_s(hpo_cli) -> None:
    from importlib.metadata import version

    assert hpo_cli("--version").stdout == f"hpo {version('hpo')}\n"
