"""The SDK's side of warm start: what ``create_study(warm_start=...)`` sends, and what
``Study.warm_start`` reads back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hpo.tracking import hash_data
from hpo.v1 import study_pb2 as pb

#: ``warm_start=``: "auto", a study's name, or a list of names (which may include "auto").
WarmStartLike = str | Sequence[str] | None
AUTO = "auto"


@dataclass(frozen=True)
class WarmStartSource:
    """An earlier study that informs a study's sampler."""

    #: The earlier study's name.
    study: str
    #: Why it was chosen ("named", "auto: same data, same search space", ...).
    reason: str
    #: Its completed trials that inform the study (those that existed at creation).
    trials: int
    #: How the sampler uses it now ("in use (...)", "set aside: ...", ...).
    status: str


def warm_start_to_pb(warm_start: WarmStartLike, data: Any = None) -> pb.WarmStart | None:
    """The request for ``warm_start`` (and the data the new study's trials will read, hashed
    here as ``trial.log_data`` hashes it, so that ``auto`` prefers studies of the same
    data). None when no warm start is asked for."""
    if warm_start is None:
        if data is not None:
            raise ValueError("warm_start_data= is for warm_start='auto'")
        return None
    names = [warm_start] if isinstance(warm_start, str) else list(warm_start)
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"warm_start= takes study names or 'auto', not {type(name).__name__}")
    auto = AUTO in names
    if data is not None and not auto:
        raise ValueError("warm_start_data= is for warm_start='auto'")
    items = [] if data is None else list(data) if isinstance(data, (list, tuple)) else [data]
    return pb.WarmStart(
        auto=auto,
        studies=[n for n in names if n != AUTO],
        data_digests=[hash_data(item).digest for item in items],
    )


def warm_start_from_pb(message: pb.Study) -> list[WarmStartSource]:
    return [
        WarmStartSource(s.study, s.reason, int(s.trials), s.status)
        for s in message.warm_start.sources
    ]
