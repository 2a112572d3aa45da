"""The sweep's progress line fits the terminal by dropping parts, never by cutting numbers."""

from __future__ import annotations

import pytest
from hpo.workers._progress import SweepStats, fit_line

COUNTS = {"complete": 1234, "pruned": 567, "failed": 89, "running": 12, "waiting": 0}
STATS = SweepStats("digits-sgd", 5000, COUNTS, 0.9711234, 73.84, 4000.0)
NUMBERS = ("1801/5000", "complete 1234", "pruned 567", "failed 89", "running 12", "best 0.971123")


@pytest.mark.parametrize("width", [20, 40, 60, 80, 100, 120, 200])
def test_the_line_fits_and_keeps_whole_numbers(width: int) -> None:
    line = fit_line(STATS, width)
    assert len(line) <= width
    assert "…" not in line
    assert "1801/5000" in line  # the count always stays
    for part in line.split("  "):  # every part shown is whole
        assert (
            part in NUMBERS
            or part.startswith(("sweep", "━", "─"))
            or part
            in (
                "73.8 trials/min",
                "1:06:40",
            )
        ), part


def test_what_goes_first_when_space_is_short() -> None:
    wide = fit_line(STATS, 200)
    assert all(n in wide for n in NUMBERS) and "sweep digits-sgd" in wide and "━" in wide
    assert "73.8 trials/min" in wide and "1:06:40" in wide
    at_100 = fit_line(STATS, 100)
    assert all(n in at_100 for n in NUMBERS)  # the bar and the name give way first
    at_60 = fit_line(STATS, 60)
    assert "1801/5000" in at_60 and "best 0.971123" in at_60 and "complete 1234" in at_60
    assert fit_line(STATS, 5) == "1801/5000"  # narrower than the count: the count, uncut


def test_the_plain_line_for_logs_has_every_part() -> None:
    assert STATS.plain_line() == (
        "sweep digits-sgd: 1801/5000 trials, complete 1234, pruned 567, failed 89, "
        "running 12, best 0.971123, 73.8 trials/min, 1:06:40"
    )


def test_off_a_terminal_progress_is_plain_lines_never_cut() -> None:
    import io

    from hpo.workers._progress import SweepProgress
    from rich.console import Console

    out = io.StringIO()
    console = Console(file=out, width=40)  # a pipe: no terminal, and a narrow default width
    with SweepProgress("a-study-with-a-long-name", 60, console, every=0) as progress:
        for done in (10, 20):
            progress.update({**COUNTS, "complete": done, "pruned": 0}, 0.5)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3  # one per update (every=0), one at the end
    assert lines[-1].startswith("sweep a-study-with-a-long-name: 20/60 trials, complete 20, ")
    assert lines[-1].endswith(" trials/min, 0:00:00") and "…" not in out.getvalue()
