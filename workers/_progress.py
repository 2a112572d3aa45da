"""Live progress of a sweep, read from the coordinator, and the closing summary table."""

from __future__ import annotations

import time
from collections.abc import Sequence

from optuna.trial import FrozenTrial
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hpo.v1 import study_pb2 as pb

STATES = {
    "complete": "TRIAL_STATE_COMPLETE",
    "pruned": "TRIAL_STATE_PRUNED",
    "failed": "TRIAL_STATE_FAILED",
    "running": "TRIAL_STATE_RUNNING",
    "waiting": "TRIAL_STATE_WAITING",
}


def state_counts(study: pb.Study) -> dict[str, int]:
    return {short: int(study.trial_counts.get(name, 0)) for short, name in STATES.items()}


class SweepProgress:
    """A progress bar over the trial budget with counts, best value and trials per minute."""

    def __init__(self, study: str, budget: int, enabled: bool = True) -> None:
        self._started = time.monotonic()
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(),
            disable=not enabled,
        )
        self._task = self._progress.add_task(f"sweep {study}", total=budget, stats="")
        self._first_done: int | None = None

    def __enter__(self) -> SweepProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def update(self, counts: dict[str, int], best: float | None) -> None:
        finished = counts["complete"] + counts["pruned"]
        if self._first_done is None:
            self._first_done = finished  # trials a resumed sweep found done
        minutes = max(time.monotonic() - self._started, 1e-9) / 60
        rate = (finished - self._first_done) / minutes
        best_text = "-" if best is None else f"{best:.6g}"
        stats = (
            f"complete {counts['complete']}  pruned {counts['pruned']}  "
            f"failed {counts['failed']}  running {counts['running']}  "
            f"best {best_text}  {rate:.1f} trials/min"
        )
        self._progress.update(self._task, completed=finished, stats=stats)


def summary_table(best: Sequence[FrozenTrial], limit: int = 10) -> Table:
    table = Table("trial", "value(s)", "params", title="best trials")
    for trial in list(best)[:limit]:
        values = ", ".join(f"{v:.6g}" for v in trial.values or [])
        params = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in trial.params.items()
        )
        table.add_row(str(trial.number), values, params)
    return table


def print_summary(console: Console, counts: dict[str, int], best: Sequence[FrozenTrial]) -> None:
    console.print(
        f"trials: {counts['complete']} complete, {counts['pruned']} pruned, "
        f"{counts['failed']} failed"
    )
    if best:
        console.print(summary_table(best))
