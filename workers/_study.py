"""The study a sweep works on: created with the settings given, or an existing one that keeps
its own (the coordinator names each setting given that differs)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hpo.workers._progress import state_counts
from rich.console import Console
from rich.markup import escape

from hpo._defaults import DEFAULT_SWEEP_TRIALS
from hpo.client import Study, create_study, load_study
from hpo.errors import FailedPreconditionError, NotFoundError, StudyNotFoundError

_NEW_STUDY_RETRY_BUDGET = 2
_NEW_STUDY_LEASE_SECONDS = 60.0


@dataclass(frozen=True)
class SweepSettings:
    """The study settings a sweep was given; None where left out."""

    n_trials: int | None
    directions: Sequence[str] | None
    sampler: Any
    pruner: Any
    retry_budget: int | None
    lease_seconds: float | None
    #: Earlier studies that inform a new study's sampler (ignored when it exists already).
    warm_start: str | Sequence[str] | None = None
    warm_start_data: Any = None


def open_study(
    address: str, name: str, given: SweepSettings, resume: bool, console: Console | None
) -> Study:
    """The study, created with ``given`` (defaults filled in) when new; when it exists, the
    coordinator checks that ``given`` matches it and nothing left out is sent."""
    try:
        existing: Study | None = load_study(name, address=address)
    except NotFoundError:
        existing = None
    if existing is None and resume:
        raise StudyNotFoundError(f"study {name!r} does not exist: leave out --resume to start it")
    if existing is None:
        handle = create_study(
            name,
            directions=list(given.directions or ["minimize"]),
            sampler=given.sampler,
            pruner=given.pruner,
            trial_budget=given.n_trials or DEFAULT_SWEEP_TRIALS,
            retry_budget=_or(given.retry_budget, _NEW_STUDY_RETRY_BUDGET),
            lease_seconds=_or(given.lease_seconds, _NEW_STUDY_LEASE_SECONDS),
            load_if_exists=True,  # another sweep starting it now with the same settings is fine
            address=address,
            warm_start=given.warm_start,
            warm_start_data=given.warm_start_data,
        )
    else:
        handle = create_study(
            name,
            directions=list(given.directions) if given.directions else None,
            sampler=given.sampler,
            pruner=given.pruner,
            trial_budget=given.n_trials or 0,
            retry_budget=given.retry_budget or 0,
            lease_seconds=given.lease_seconds or 0.0,
            load_if_exists=True,
            address=address,
        )
    info = handle.info()
    if not info.trial_budget:
        raise FailedPreconditionError(
            f"study {name!r} has no trial budget; a sweep needs one to know when to stop"
        )
    if existing is not None and console is not None:
        counts = state_counts(info)
        done = counts["complete"] + counts["pruned"]
        if done >= info.trial_budget:
            console.print(
                escape(
                    f"study {name!r} has all {info.trial_budget} trials of its budget: "
                    "nothing to run (choose another --study to start a new one)"
                ),
                soft_wrap=True,
            )
        else:
            console.print(
                escape(
                    f"study {name!r} exists: going on to its budget of "
                    f"{info.trial_budget} trials ({done} done)"
                ),
                soft_wrap=True,
            )
    return handle


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value
