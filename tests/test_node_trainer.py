"""A Node.js trainer that shares no code with the SDK, against a live coordinator."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

import hpo
from hpo.server import Coordinator


def node(trainer: Path, *args: str) -> dict:
    result = subprocess.run(
        ["node", "trainer.js", *args], cwd=trainer, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_node_trainer_runs_a_study_with_pruning(node_trainer, sqlite_coordinator: Coordinator):
    address = sqlite_coordinator.address
    out = node(node_trainer, "--coordinator", address, "--study", "node", "--trials", "14")
    assert [t["number"] for t in out["trials"]] == list(range(14))

    study = hpo.load_study("node", address=address)
    trials = study.trials
    assert len(trials) == 14
    assert all(t.intermediate_values for t in trials)
    states = {t.state for t in trials}
    assert states == {hpo.TrialState.COMPLETE, hpo.TrialState.PRUNED}
    complete = [t for t in trials if t.state == hpo.TrialState.COMPLETE]
    best = study.best_trial
    assert best.value == min(t.value for t in complete)
    assert best.value == best.intermediate_values[max(best.intermediate_values)]
    assert all(("momentum" in t.params) == (t.params["optimizer"] == "momentum") for t in trials)
    assert all(t.system_attrs.get("hpo:client_id", "") == "" for t in trials)  # finished: no lease


def test_node_bad_input_gets_invalid_argument_naming_the_field(node_trainer, sqlite_coordinator):
    address = sqlite_coordinator.address
    out = node(node_trainer, "--coordinator", address, "--study", "bad", "--check-errors")
    fields = {
        "low_above_high": "distribution.float_distribution",
        "no_distribution": "distribution",
        "empty_choices": "distribution.categorical_distribution.choices",
        "missing_name": "name",
        "missing_directions": "directions",
        "nan_value": "value",
        "negative_step": "step",
        "wrong_value_count": "values",
        "unknown_sampler": "sampler.name",
        "bad_options_json": "sampler.options_json",
    }
    for case, field in fields.items():
        assert out[case]["code"] == "INVALID_ARGUMENT", (case, out[case])
        assert out[case]["details"].startswith(field), (case, out[case])
    names = [s.study_name for s in [hpo.load_study("bad-errors", address=address)]]
    assert names == ["bad-errors"]  # the refused CreateStudy calls created nothing
    with pytest.raises(hpo.NotFoundError):
        hpo.load_study("bad-errors-x", address=address)
    trial = hpo.load_study("bad-errors", address=address).trials[0]
    assert trial.params == {} and trial.intermediate_values == {} and trial.values is None


def test_node_trainer_with_tls_and_a_token(node_trainer, sqlite_url, tmp_path) -> None:
    from cryptography.hazmat.primitives import serialization
    from test_security import _cert, _key  # the same throwaway PKI helpers

    from hpo.server import ServerSecurity, add_token

    ca_key, server_key = _key(), _key()
    ca = _cert("ca", ca_key, ca=True)
    server = _cert("server", server_key, ca, ca_key, server=True)
    files = {
        "ca.pem": ca.public_bytes(serialization.Encoding.PEM),
        "server.pem": server.public_bytes(serialization.Encoding.PEM),
        "server.key": server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    token = add_token(tmp_path / "tokens", "node")
    security = ServerSecurity(
        str(tmp_path / "server.pem"),
        str(tmp_path / "server.key"),
        token_file=str(tmp_path / "tokens"),
    )
    with Coordinator(sqlite_url, port=0, security=security) as coordinator:
        address = f"localhost:{coordinator.port}"
        out = node(
            node_trainer,
            "--coordinator",
            address,
            "--study",
            "tls",
            "--trials",
            "3",
            "--tls-ca",
            str(tmp_path / "ca.pem"),
            "--token",
            token,
        )
        assert len(out["trials"]) == 3
        refused = subprocess.run(
            [
                "node",
                "trainer.js",
                "--coordinator",
                address,
                "--study",
                "tls",
                "--tls-ca",
                str(tmp_path / "ca.pem"),
            ],
            cwd=node_trainer,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert refused.returncode == 1 and "UNAUTHENTICATED" in refused.stderr
