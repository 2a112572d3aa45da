"""The examples run as a new user would run them (small sizes where they take options)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, cwd: Path, **env: str) -> str:
    environment = {**os.environ, **env}
    environment.pop("HPO_ADDRESS", None)
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_quickstart(tmp_path) -> None:
    out = run_example("quickstart.py", tmp_path)
    assert "40 trials" in out and "best trial" in out
    assert (tmp_path / "hpo.db").exists()


def test_torch_mlp_on_the_cpu(tmp_path) -> None:
    out = run_example("torch_mlp.py", tmp_path, HPO_MLP_SAMPLES="2000", HPO_MLP_EPOCHS="2")
    assert "best:" in out
