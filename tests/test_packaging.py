"""The distribution: every package of the source tree is listed (by hand); the SDK, the CLI
and the coordinator work without the extras, and say which extra a command needs."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

from conftest import user_environment

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "hpo").rglob("__init__.py")
    }
    found |= {
        "hpo.workers." + ".".join(p.parent.relative_to(ROOT / "workers").parts)
        for p in (ROOT / "workers").rglob("__init__.py")
    }
    found = {name.rstrip(".") for name in found}
    assert listed == found
    assert config["package-dir"] == {"hpo.workers": "workers"}


# -- what works without the extras -----------------------------------------------------------

BLOCKER = '''
import importlib.abc
import os
import sys


class _NotInstalled(importlib.abc.MetaPathFinder):
    """Makes the packages named in HPO_TEST_NOT_INSTALLED impossible to import."""

    def __init__(self, names):
        self.names = names

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _NotInstalled(set(os.environ["HPO_TEST_NOT_INSTALLED"].split(","))))
'''

SDK_LOOP = """
import sys

import hpo

study = hpo.create_study("plain", sampler={"name": "random", "seed": 1}, trial_budget=5)
study.optimize(lambda t: (t.suggest_float("x", -1, 1) - 0.5) ** 2, n_trials=10)
print(len(study.trials), "trials; ray imported:", "ray" in sys.modules, "sklearn:",
      "sklearn" in sys.modules)
try:
    import hpo.workers
except ImportError as e:
    print(e)
"""


def without(tmp_path: Path, *packages: str) -> dict[str, str]:
    """An environment whose Python cannot import ``packages`` (as if not installed)."""
    (tmp_path / "blocker").mkdir(exist_ok=True)
    (tmp_path / "blocker" / "sitecustomize.py").write_text(BLOCKER)
    env = user_environment(HPO_TEST_NOT_INSTALLED=",".join(packages))
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(tmp_path / "blocker"), env.get("PYTHONPATH")])
    )
    return env


def test_the_sdk_cli_and_coordinator_work_without_ray_or_scikit_learn(tmp_path, hpo_cli) -> None:
    env = without(tmp_path, "ray", "sklearn")
    (tmp_path / "loop.py").write_text(SDK_LOOP)
    loop = subprocess.run(
        [sys.executable, "loop.py"], env=env, cwd=tmp_path, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert loop.returncode == 0, loop.stderr
    assert loop.stdout.splitlines() == [
        "5 trials; ray imported: False sklearn: False",
        "the worker pool needs Ray: pip install 'hpo[sweep]'",
    ]
    listed = json.loads(hpo_cli("studies", "list", "--json", env=env).stdout)
    assert [s["name"] for s in listed] == ["plain"]

    server = subprocess.Popen(
        [sys.executable, "-m", "hpo.cli", "server", "--port", "0", "--db", "served.db"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = server.stdout.readline()
        assert "listening on" in line, server.stderr.read()
        address = line.split("listening on ")[1].split()[0]
        assert hpo_cli("studies", "list", "--coordinator", address, "--json", env=env).stdout
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)
    assert server.returncode == 0

    swept = hpo_cli("sweep", "x.py:f", "--study", "s", env=env, check=False)
    assert swept.returncode == 1
    assert swept.stderr == "error: the worker pool needs Ray: pip install 'hpo[sweep]'\n"

    # importance: the random-forest evaluators need scikit-learn; ped_anova does not
    ranked = hpo_cli("importance", "plain", env=env, check=False)
    assert ranked.returncode == 1
    assert ranked.stderr == (
        "error: importance by fanova needs scikit-learn: pip install 'hpo[plot]'\n"
    )
    assert "x" in hpo_cli("importance", "plain", "--evaluator", "ped_anova", env=env).stdout


def test_install_hints_keep_their_extras(tmp_path, hpo_cli) -> None:
    """rich markup used to print pip install 'hpo[mlflow]' as pip install 'hpo'."""
    env = without(tmp_path, "mlflow", "optuna_dashboard")
    exported = hpo_cli(
        "export", "mlflow", "--study", "s", "--tracking-uri", "sqlite:///m.db", env=env,
        check=False,
    )  # fmt: skip
    assert exported.returncode == 1
    assert exported.stderr == (
        "error: FAILED_PRECONDITION: the MLflow bridge needs mlflow: pip install 'hpo[mlflow]'\n"
    )
    dashboard = hpo_cli("dashboard", env=env, check=False)
    assert dashboard.returncode == 1
    assert dashboard.stderr == (
        "error: optuna-dashboard is not installed: pip install 'hpo[dashboard]'\n"
    )
    assert "pip install 'hpo[mlflow]'" in hpo_cli("export", "mlflow", "--help").stdout
    for output in ("p.html", "p.png"):
        plotted = hpo_cli(
            "plot", "s", "--kind", "history", "-o", output, env=without(tmp_path, "plotly", "matplotlib"),
            check=False,
        )  # fmt: skip
        assert plotted.returncode == 1
        assert plotted.stderr == (
            "error: plots need plotly and matplotlib: pip install 'hpo[plot]'\n"
        )
        assert not (tmp_path / output).exists()
    assert "pip install 'hpo[plot]'" in hpo_cli("plot", "--help").stdout


def test_ray_and_scikit_learn_are_an_extra_that_dev_includes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {re.split(r"[\[<>=!~; ]", d, maxsplit=1)[0] for d in project["dependencies"]}
    assert not names & {"ray", "scikit-learn"}
    extras = project["optional-dependencies"]
    assert set(extras["sweep"]) == {"ray[tune]>=2.40,<3", "scikit-learn>=1.4"}
    assert set(extras["sweep"]) <= set(extras["dev"])  # the tests need the worker pool
    readme = (ROOT / "README.md").read_text()
    assert "pip install -e '.[sweep]' && hpo sweep examples/digits_sgd.py:objective" in readme


_LIGHT_IMPORT = """
import sys
import hpo, hpo.cli._app, hpo.client._embedded
heavy = sorted({"optuna", "grpc", "sqlalchemy", "numpy"} & set(sys.modules))
missing = [name for name in hpo.__all__ if name not in dir(hpo)]
import hpo.client
missing += [name for name in hpo.client.__all__ if name not in dir(hpo.client)]
print(heavy, missing)
for package in (hpo, hpo.client):
    for name in package.__all__:
        getattr(package, name)  # every public name resolves
print("optuna" in sys.modules)
"""


def test_import_hpo_and_the_cli_stay_light_and_every_public_name_resolves() -> None:
    """`import hpo`, the CLI's command tree and the embedded-coordinator lookup load neither
    Optuna, gRPC, SQLAlchemy nor NumPy (`hpo --help`, and `hpo sweep` before Ray starts);
    the SDK's names are imported on first use, each of them."""
    assert _python(_LIGHT_IMPORT).splitlines() == ["[] []", "True"]


_FIRST_USE_FROM_THREADS = """
import threading
import hpo
names = ["Study", "create_study", "TrialPruned", "FrozenTrial", "registry", "load_study",
         "Trial", "TrialState", "client"]
errors = []
barrier = threading.Barrier(16)
def use(offset):
    barrier.wait()
    for name in names[offset % len(names):] + names[:offset % len(names)]:
        try:
            getattr(hpo, name)
        except Exception as e:
            errors.append(f"{name}: {type(e).__name__}: {e}")
threads = [threading.Thread(target=use, args=(i,)) for i in range(16)]
[t.start() for t in threads]
[t.join() for t in threads]
print(errors)
"""


def test_lazy_names_first_used_by_many_threads_at_once_all_resolve() -> None:
    """Optuna cannot be imported by two threads together; hpo's lazy names import it one
    thread at a time (hpo._lazy), so threads that first use them together all get them."""
    for _ in range(3):  # without the lock, most runs fail
        assert _python(_FIRST_USE_FROM_THREADS).strip() == "[]"


def _python(script: str) -> str:
    """What ``script`` printed, run by this Python in a user's environment; it must succeed."""
    command = [sys.executable, "-c", script]
    done = subprocess.run(
        command, env=user_environment(), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout
