"""Live progress of a sweep, read from the coordinator, and the closing summary table.

On a terminal the progress is one line redrawn in place, fitted to the terminal's width by
dropping its least useful parts first (the bar, the elapsed time, the rate...), never by
cutting a number. Anywhere else (a pipe, a log file) it is a plain line every
``PLAIN_LINE_SECONDS`` and one at the end, never wrapped.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from optuna.trial import FrozenTrial
from rich.console import Console, ConsoleOptions
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from hpo._wire import state_counts as _state_counts
from hpo.v1 import study_pb2 as pb

PLAIN_LINE_SECONDS = 10.0
_BAR_MIN, _BAR_MAX = 10, 40
_SEPARATOR = "  "


def state_counts(study: pb.Study) -> dict[str, int]:
    """Trials per state name (complete, pruned, failed, running, waiting)."""
    return _state_counts(study.trial_counts)


@dataclass(frozen=True)
class SweepStats:
    """What the progress line shows."""

    study: str
    budget: int
    counts: dict[str, int]
    best: float | None
    trials_per_minute: float
    seconds: float

    @property
    def finished(self) -> int:
        return self.counts["complete"] + self.counts["pruned"]

    def parts(self) -> list[tuple[int, str]]:
        """(priority, text) in display order; the lowest priority goes first when space is
        short. The count of finished trials has the highest and always stays."""
        best = "-" if self.best is None else f"{self.best:.6g}"
        minutes, seconds = divmod(int(self.seconds), 60)
        return [
            (1, f"sweep {self.study}"),
            (9, f"{self.finished}/{self.budget}"),
            (7, f"complete {self.counts['complete']}"),
            (6, f"pruned {self.counts['pruned']}"),
            (5, f"failed {self.counts['failed']}"),
            (4, f"running {self.counts['running']}"),
            (8, f"best {best}"),
            (3, f"{self.trials_per_minute:.1f} trials/min"),
            (2, f"{minutes // 60}:{minutes % 60:02d}:{seconds:02d}"),
        ]

    def plain_line(self) -> str:
        """Every part, for logs: ``sweep digits: 12/60 trials, complete 10, ...``."""
        name, count, *rest = (text for _, text in self.parts())
        return f"{name}: {count} trials, " + ", ".join(rest)


def fit_line(stats: SweepStats, width: int) -> str:
    """The progress line in at most ``width`` columns: the least useful parts are dropped
    until the rest fits, then a bar fills the room left (when there is enough for one).
    Numbers are never cut; a terminal narrower than the count alone gets the count."""
    parts = stats.parts()
    kept = list(parts)

    def length(items: Sequence[tuple[int, str]]) -> int:
        return len(_SEPARATOR.join(text for _, text in items))

    while length(kept) > width and len(kept) > 1:
        kept.remove(min(kept, key=lambda part: part[0]))
    texts = [text for _, text in kept]
    room = width - length(kept) - len(_SEPARATOR)
    if room >= _BAR_MIN:
        bar = min(room, _BAR_MAX)
        done = round(bar * min(stats.finished / stats.budget, 1.0)) if stats.budget else 0
        at = 1 if kept[0] == parts[0] else 0  # after the name, when it is shown
        texts.insert(at, "━" * done + "─" * (bar - done))
    return _SEPARATOR.join(texts)


class _FittedLine:
    """A renderable that fits the current stats to the width rich offers at each refresh."""

    def __init__(self) -> None:
        self.stats: SweepStats | None = None

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Text]:
        if self.stats is not None:
            yield Text(fit_line(self.stats, options.max_width), no_wrap=True, overflow="ignore")


class SweepProgress:
    """The sweep's progress: counts per state, best value, trials per minute, elapsed time."""

    def __init__(
        self,
        study: str,
        budget: int,
        console: Console,
        enabled: bool = True,
        every: float = PLAIN_LINE_SECONDS,
    ) -> None:
        self._study = study
        self._budget = budget
        self._console = console
        self._enabled = enabled
        self._every = every
        self._started = time.monotonic()
        self._first_done: int | None = None
        self._stats: SweepStats | None = None
        self._printed_at = self._started
        self._line = _FittedLine()
        self._live: Live | None = None

    def __enter__(self) -> SweepProgress:
        if self._enabled and self._console.is_terminal:
            self._live = Live(self._line, console=self._console, refresh_per_second=4)
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()
        elif self._enabled and self._stats is not None:
            self._print_plain()

    def update(self, counts: dict[str, int], best: float | None) -> None:
        finished = counts["complete"] + counts["pruned"]
        if self._first_done is None:
            self._first_done = finished  # trials a resumed sweep found done
        seconds = time.monotonic() - self._started
        rate = (finished - self._first_done) / max(seconds / 60, 1e-9)
        self._stats = SweepStats(self._study, self._budget, counts, best, rate, seconds)
        self._line.stats = self._stats
        if self._live is None and self._enabled:
            if time.monotonic() - self._printed_at >= self._every:
                self._print_plain()

    def _print_plain(self) -> None:
        assert self._stats is not None
        self._console.print(self._stats.plain_line(), markup=False, soft_wrap=True)
        self._printed_at = time.monotonic()


def summary_table(best: Sequence[FrozenTrial], limit: int = 10) -> Table:
    table = Table("trial", "value(s)", "params", title="best trials")
    for trial in list(best)[:limit]:
        values = ", ".join(f"{v:.6g}" for v in trial.values or [])
        params = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in trial.params.items()
        )
        table.add_row(str(trial.number), values, escape(params))
    return table


def print_summary(console: Console, counts: dict[str, int], best: Sequence[FrozenTrial]) -> None:
    console.print(
        f"trials: {counts['complete']} complete, {counts['pruned']} pruned, "
        f"{counts['failed']} failed",
        soft_wrap=True,
    )
    if best:
        console.print(summary_table(best))
