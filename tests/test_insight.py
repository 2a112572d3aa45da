"""Parameter importance and plots of a study on a coordinator: SDK calls and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest

import hpo
from hpo.server import Coordinator


def objective(trial: hpo.Trial) -> float:
    """x matters far more than y; four reported steps."""
    x = trial.suggest_float("x", -4, 4)
    y = trial.suggest_int("y", 0, 3)
    for step in range(4):
        trial.report((x - 1) ** 2 + 0.01 * y + 1 / (step + 1), step)
    return (x - 1) ** 2 + 0.01 * y


@pytest.fixture
def plots(tmp_path: Path) -> Path:
    """Where plots go (the coordinator's database lives in tmp_path too)."""
    folder = tmp_path / "plots"
    folder.mkdir()
    return folder


@pytest.fixture
def study(sqlite_coordinator: Coordinator) -> hpo.Study:
    created = hpo.create_study(
        "insight",
        sampler={"name": "random", "seed": 0},
        pruner="none",
        address=sqlite_coordinator.address,
    )
    created.optimize(objective, n_trials=16)
    return created


@pytest.fixture
def two_objectives(sqlite_coordinator: Coordinator) -> hpo.Study:
    created = hpo.create_study(
        "front",
        directions=["maximize", "minimize"],
        sampler={"name": "random", "seed": 0},
        address=sqlite_coordinator.address,
    )
    created.optimize(lambda t: (t.suggest_float("a", 0, 1), t.suggest_float("b", 0, 1)), n_trials=8)
    return created


def test_importance_ranks_the_parameter_that_matters_first_and_is_deterministic(study) -> None:
    importances = study.importance()
    assert list(importances) == ["x", "y"]
    assert importances["x"] > 0.9
    assert sum(importances.values()) == pytest.approx(1.0)
    assert study.importance() == importances
    assert list(study.importance(evaluator="mean_decrease_impurity"))[0] == "x"


@pytest.mark.parametrize("kind", ["history", "intermediate", "parallel", "contour", "importance"])
def test_every_kind_renders_html_and_png(study, kind: str, plots: Path) -> None:
    html = study.plot(kind, plots / f"{kind}.html")
    assert "plotly" in html.read_text()
    png = study.plot(kind, plots / f"{kind}.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in plots.iterdir()) == [f"{kind}.html", f"{kind}.png"]


def test_a_study_with_two_objectives_plots_its_front_and_one_objective_at_a_time(
    two_objectives, plots: Path
) -> None:
    assert two_objectives.plot("pareto", plots / "front.html").exists()
    assert two_objectives.plot("history", plots / "b.png", objective=1).exists()
    assert set(two_objectives.importance(objective=0)) == {"a", "b"}
    with pytest.raises(hpo.InvalidArgumentError, match="^kind: history: the study has 2"):
        two_objectives.plot("history", plots / "a.html")
    with pytest.raises(hpo.InvalidArgumentError, match="^objective: 2 is out of range"):
        two_objectives.plot("history", plots / "c.html", objective=2)
    assert sorted(p.name for p in plots.iterdir()) == ["b.png", "front.html"]


def test_what_a_study_cannot_show_is_one_error_naming_the_kind_and_writes_nothing(
    sqlite_coordinator: Coordinator, study, plots: Path
) -> None:
    one_param = hpo.create_study("one", address=sqlite_coordinator.address)
    one_param.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    cases = [
        (study, "pareto", "kind: pareto: a Pareto front needs 2 or 3 objectives"),
        (one_param, "contour", "kind: contour: a contour plot needs at least two parameters"),
        (one_param, "importance", "kind: importance: importance needs at least 2 completed"),
        (one_param, "intermediate", "kind: intermediate: no trial reported intermediate values"),
        (study, "scatter", "kind: 'scatter' is not one of history, intermediate"),
    ]
    for handle, kind, message in cases:
        with pytest.raises(hpo.InvalidArgumentError) as error:
            handle.plot(kind, plots / "out.html")
        assert error.value.message.startswith(message)
    with pytest.raises(hpo.InvalidArgumentError, match="^study: importance needs at least 2"):
        one_param.importance()
    with pytest.raises(hpo.InvalidArgumentError, match="^path: .* must end in .html or .png"):
        study.plot("history", plots / "out.svg")
    with pytest.raises(hpo.InvalidArgumentError, match="^evaluator: 'shap' is not one of"):
        study.importance(evaluator="shap")
    assert list(plots.iterdir()) == []


def test_cli_importance_and_plot_against_a_remote_coordinator(
    sqlite_coordinator: Coordinator, study, plots: Path, hpo_cli
) -> None:
    address = sqlite_coordinator.address
    result = hpo_cli("importance", "insight", "--json", "--coordinator", address)
    assert json.loads(result.stdout) == pytest.approx(study.importance())
    table = hpo_cli("importance", "insight", "--coordinator", address)
    assert "x" in table.stdout and "fanova" in table.stdout

    out = plots / "history.png"
    written = hpo_cli(
        "plot", "insight", "--kind", "history", "-o", str(out), "--coordinator", address
    )
    assert written.stdout == f"wrote {out}\n"
    assert out.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["plot", "insight", "--kind", "pareto", "-o", "{out}/p.html"], "error: --kind: pareto:"),
        (["plot", "insight", "--kind", "history", "-o", "{out}/p.pdf"], "error: -o: "),
        (["plot", "nope", "--kind", "history", "-o", "{out}/p.html"], "error: NOT_FOUND: "),
        (["importance", "insight", "--evaluator", "shap"], "error: --evaluator: 'shap'"),
        (["importance", "insight", "--objective", "1"], "error: --objective: 1 is out of"),
    ],
)
def test_cli_errors_are_one_line_naming_the_option_and_write_nothing(
    sqlite_coordinator: Coordinator, study, plots: Path, hpo_cli, args: list[str], line: str
) -> None:
    argv = [a.replace("{out}", str(plots)) for a in args]
    result = hpo_cli(*argv, "--coordinator", sqlite_coordinator.address, check=False)
    assert result.returncode == 1
    assert result.stderr.startswith(line), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert list(plots.iterdir()) == []


def test_the_in_memory_copy_leaves_optunas_logging_as_it_was(study, plots: Path) -> None:
    before = optuna.logging.get_verbosity()
    study.plot("history", plots / "h.html")
    assert optuna.logging.get_verbosity() == before
