"""hpo's storage and algorithms against the oldest Optuna that pyproject.toml allows.

The suite itself runs against the Optuna installed (the newest the range allows on a fresh
install); this test installs the lower bound beside it (``pip --target``) and runs the
storage conformance and equivalence tests again with it first on the path.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent


def lowest_optuna() -> str:
    pyproject = (ROOT / "pyproject.toml").read_text()
    match = re.search(r'"optuna>=([0-9.]+),<[0-9.]+"', pyproject)
    assert match, "pyproject.toml must declare optuna as a range: optuna>=X,<Y"
    return match.group(1)


def test_storage_and_algorithms_pass_on_the_oldest_optuna(tmp_path) -> None:
    version = lowest_optuna()
    target = tmp_path / "optuna-lowest"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
         f"optuna=={version}"],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(target)}
    probe = subprocess.run(
        [sys.executable, "-c", "import optuna; print(optuna.__version__)"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert Version(probe.stdout.strip()) == Version(version)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/test_storage_conformance.py", "tests/test_equivalence.py",
         "tests/test_optuna_adapter.py"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "skipped" not in run.stdout
