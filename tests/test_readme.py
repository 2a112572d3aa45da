"""Every command of the README, in the README's order, as a new user runs them: in a fresh
folder holding the examples, without any hpo or Ray settings, with a local Ray."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import user_environment

ROOT = Path(__file__).resolve().parent.parent
# Commands of the README that this test does not run, each with the reason. A new command
# in the README runs here, or is added to this table with its reason.
NOT_RUN = {
    "pip install torch==2.13.0 -e '.[dev,gp]' && scripts/fetch_k8s_tools.sh": "the suite itself",
    "hpo server --db postgresql://user@dbhost/hpo": "needs that PostgreSQL server",
    "HPO_ADDRESS=127.0.0.1:50051 python examples/quickstart.py": "needs the server above "
    "(tests/test_examples.py runs the quickstart)",
    "hpo studies list --coordinator 127.0.0.1:50051": "needs the server above",
    "hpo dashboard": "serves until stopped (tests/test_dashboard.py)",
    "hpo importance digits": "needs 2 completed trials, which the small sweep above may not "
    "leave (tests/test_insight.py)",
    "hpo sweep examples/digits_sgd.py:objective --study digits-gpu --direction maximize --trials 200": "a cluster's sweep: [options] are placeholders",
    "hpo server --host 0.0.0.0 --tls-cert server.pem": "needs certificates (test_security.py)",
    "export HPO_ADDRESS=hpo.example:50051": "a remote coordinator",
    "node examples/node-trainer/trainer.js": "a remote coordinator (test_node_trainer.py)",
    "hpo sweep ... --warm-start": "a synopsis: ... stands for a sweep's arguments "
    "(tests/workers/test_warm_start_sweep.py)",
    "hpo studies show digits-v2": "a study of the warm-start walkthrough, not made here",
}
# The first command's sweep, made small: the README's 60 trials of 30 epochs become 6 of 4.
SMALLER = {"--trials 60": "--trials 6"}


def readme_commands() -> list[str]:
    """Each command of the README's bash blocks, continuation lines joined, comments gone."""
    text = (ROOT / "README.md").read_text()
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            command = re.sub(r"\s+", " ", line.split("  #")[0]).strip()
            if command:
                commands.append(command)
    return commands


def test_every_readme_command_works_in_order_on_a_fresh_folder(tmp_path) -> None:
    folder = tmp_path / "clone"
    shutil.copytree(
        ROOT / "examples", folder / "examples", ignore=shutil.ignore_patterns("node_modules")
    )
    env = user_environment(HOME=str(tmp_path / "home"), HPO_DIGITS_EPOCHS="4")
    env.pop("RAY_AUTH_MODE", None)  # as a new user: Ray's defaults
    env.pop("HPO_CACHE_DIR", None)
    ran = []
    for command in readme_commands():
        if any(command.startswith(prefix) for prefix in NOT_RUN):
            continue
        if command.startswith("pip install -e '.[sweep]' && "):
            command = command.removeprefix("pip install -e '.[sweep]' && ")
            for old, new in SMALLER.items():
                command = command.replace(old, new)
            sweep = _run(command, folder, env)
            # A local Ray starts without its token-authentication notice.
            assert "Token authentication" not in sweep.stderr and "Traceback" not in sweep.stderr
            # Piped, the progress is plain lines with every count, never cut.
            assert re.search(
                r"^sweep digits: 6/6 trials, complete \d, pruned \d, failed 0, running 0, "
                r"best 0\.\d+, [\d.]+ trials/min, \d:\d\d:\d\d$",
                sweep.stdout,
                flags=re.MULTILINE,
            ), sweep.stdout
            again = _run(command, folder, env)  # the README's first command, run twice
            assert "study 'digits' has all 6 trials of its budget: nothing to run" in again.stdout
            ran.append("sweep twice")
            continue
        result = _run(command, folder, env)
        ran.append(command.split(" --")[0])
        if command.startswith("python -c"):
            assert "SGDClassifier" in result.stdout  # the champion model, loaded by alias
    assert len(ran) == 16, ran
    assert (folder / "mlflow.db").exists() and (folder / "tokens.txt").exists()


def _run(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    args = shlex.split(command)
    if args[0] == "hpo":
        args = [sys.executable, "-m", "hpo.cli", *args[1:]]
    elif args[0] == "python":
        args = [sys.executable, *args[1:]]
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result
