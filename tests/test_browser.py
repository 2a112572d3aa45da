"""What a person sees: a rendered plot and the dashboard of a study, in a real headless
Chromium (Debian's chromium and chromium-driver, driven by Selenium), with screenshots."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import optuna
import pytest

import hpo
from hpo.server import Coordinator
from hpo.storage import optuna_storage

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
)
N_TRIALS = 5


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    assert CHROMIUM.exists() and CHROMEDRIVER.exists(), (
        "needs Debian's chromium and chromium-driver: apt-get install -y chromium chromium-driver"
    )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def objective(trial: hpo.Trial) -> float:
    x = trial.suggest_float("x", -2, 2)
    trial.log_data(np.arange(16) * (trial.number + 1), name="train")
    for step in range(3):
        trial.report(x * x + 1 / (step + 1), step)
    return x * x


@pytest.fixture
def study(sqlite_coordinator: Coordinator) -> hpo.Study:
    created = hpo.create_study(
        "looked-at", sampler={"name": "random", "seed": 0}, address=sqlite_coordinator.address
    )
    created.optimize(objective, n_trials=N_TRIALS)
    return created


def _body_text(driver) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "body").text


def _wait(driver, condition, seconds: float = 60) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, seconds).until(condition)


def _screenshot(driver, path: Path) -> None:
    assert driver.save_screenshot(str(path))
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_a_rendered_history_plot_shows_every_trial(
    browser, study: hpo.Study, sqlite_coordinator: Coordinator, tmp_path: Path
) -> None:
    page = tmp_path / "history.html"
    subprocess.run(
        [sys.executable, "-m", "hpo.cli", "plot", "looked-at", "--kind", "history", "-o", str(page),
         "--coordinator", sqlite_coordinator.address],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    browser.get(page.as_uri())
    _wait(browser, lambda d: d.execute_script("return !!document.querySelector('.js-plotly-plot')"))
    traces = browser.execute_script(
        "return document.querySelector('.js-plotly-plot').data.map(t => [t.name, t.x, t.y])"
    )
    by_name = {name: (list(x), list(y)) for name, x, y in traces}
    xs, ys = by_name["Objective Value"]
    assert xs == [t.number for t in study.trials]
    assert ys == pytest.approx([t.value for t in study.trials])
    drawn = browser.execute_script(
        "return document.querySelectorAll('.js-plotly-plot .scatterlayer .point').length"
    )
    assert drawn >= N_TRIALS
    _screenshot(browser, tmp_path / "history-screenshot.png")


@pytest.fixture
def dashboard(sqlite_url: str, study: hpo.Study) -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "hpo.cli", "dashboard", "--db", sqlite_url, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert "optuna-dashboard on http://" in line, proc.stderr.read()
        yield line.split(" on ", 1)[1].strip()
    finally:
        proc.kill()
        proc.wait()


def test_the_dashboard_shows_the_trials_with_their_lineage(
    browser, dashboard: str, study: hpo.Study, sqlite_url: str, tmp_path: Path
) -> None:
    with urllib.request.urlopen(f"{dashboard}/api/studies") as reply:
        [summary] = json.load(reply)["study_summaries"]
    browser.get(f"{dashboard}/dashboard/studies/{summary['study_id']}/trials")
    _wait(browser, lambda d: "lineage.data.train" in _body_text(d))
    text = _body_text(browser)
    for trial in study.trials:
        assert f"Trial {trial.number}" in text
    first = study.lineage(0)
    assert f"ndarray {first.data[0].digest[:16]}" in text  # the shown trial's data hash
    code = first.lineage.code
    assert (f"lineage.code.commit {code.commit}" if code.has_git else "lineage.code no git") in text
    _screenshot(browser, tmp_path / "dashboard-screenshot.png")
    # the lineage was shown, not written: the study's own trials have no such attributes
    stored = optuna.load_study(study_name="looked-at", storage=optuna_storage(sqlite_url))
    assert all(not any(k.startswith("lineage.") for k in t.user_attrs) for t in stored.trials)
