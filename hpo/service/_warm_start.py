"""Warm start: which earlier studies inform a new study, chosen once at creation.

:func:`choose_sources` validates what CreateStudy asked for and picks the sources (named
ones, and with ``auto`` those of the same data first, then the same search space on other
data); the choice is stored with the study (:data:`WARM_START_ATTR`), so any coordinator
that loads the study later uses the same sources and the same trials of each
(:func:`load_sources`). How the sampler uses them is :mod:`hpo.service._warm_start_sampler`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from optuna.distributions import BaseDistribution, check_distribution_compatibility
from optuna.study import StudyDirection
from optuna.trial import TrialState

from hpo.errors import InvalidArgumentError, StudyNotFoundError
from hpo.service._access import may_access, require_access
from hpo.service._config import CONFIG_ATTR, StudyConfig
from hpo.service._warm_start_sampler import SourceTrials
from hpo.storage import Storage
from hpo.storage._studies import StudyGoneError, StudyRow

_logger = logging.getLogger(__name__)

#: Study system attribute holding the warm start (visible in optuna-dashboard too).
WARM_START_ATTR = "hpo:warm_start"
MAX_NAMED_SOURCES = 5
MAX_AUTO_SOURCES = 3
#: Completed trials a study needs before ``auto`` considers it.
MIN_AUTO_TRIALS = 5
MAX_DATA_DIGESTS = 16
#: Samplers that cannot take a warm start, and why.
REFUSING_SAMPLERS = {"grid": "the grid sampler runs a fixed grid"}


@dataclass(frozen=True)
class WarmStartRequest:
    """What CreateStudy asked for; validated on construction."""

    auto: bool = False
    studies: tuple[str, ...] = ()
    data_digests: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        from hpo.service._tracking import validate_digest  # (it imports the service)

        if len(self.studies) > MAX_NAMED_SOURCES:
            raise InvalidArgumentError.for_field(
                "warm_start.studies", f"at most {MAX_NAMED_SOURCES} studies"
            )
        for i, name in enumerate(self.studies):
            if not name:
                raise InvalidArgumentError.for_field(
                    f"warm_start.studies[{i}]", "must be non-empty"
                )
            if name in self.studies[:i]:
                raise InvalidArgumentError.for_field(
                    f"warm_start.studies[{i}]", f"{name!r} is named twice"
                )
        if len(self.data_digests) > MAX_DATA_DIGESTS:
            raise InvalidArgumentError.for_field(
                "warm_start.data_digests", f"at most {MAX_DATA_DIGESTS} digests"
            )
        for i, digest in enumerate(self.data_digests):
            validate_digest(f"warm_start.data_digests[{i}]", digest)
        if self.data_digests and not self.auto:
            raise InvalidArgumentError.for_field(
                "warm_start.data_digests", "only auto uses them: set auto too"
            )

    @property
    def empty(self) -> bool:
        return not self.auto and not self.studies

    def to_json(self) -> dict[str, Any]:
        return {
            "auto": self.auto,
            "studies": list(self.studies),
            "data_digests": list(self.data_digests),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WarmStartRequest:
        return cls(
            bool(data.get("auto", False)),
            tuple(data.get("studies", ())),
            tuple(data.get("data_digests", ())),
        )


@dataclass(frozen=True)
class ChosenSource:
    """One source as stored with the study: trials numbered below ``upto`` inform it."""

    study: str
    study_id: int
    reason: str
    trials: int
    upto: int

    def to_json(self) -> dict[str, Any]:
        return {
            "study": self.study,
            "study_id": self.study_id,
            "reason": self.reason,
            "trials": self.trials,
            "upto": self.upto,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChosenSource:
        return cls(
            str(data["study"]),
            int(data["study_id"]),
            str(data["reason"]),
            int(data["trials"]),
            int(data["upto"]),
        )


@dataclass(frozen=True)
class WarmStartRecord:
    """A study's warm start: the request and the sources chosen for it."""

    requested: WarmStartRequest
    sources: tuple[ChosenSource, ...] = ()
    #: Per source name, how the sampler uses it now (filled in for a loaded study).
    status: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "requested": self.requested.to_json(),
            "sources": [s.to_json() for s in self.sources],
        }

    @classmethod
    def from_attrs(cls, system_attrs: Mapping[str, Any]) -> WarmStartRecord | None:
        """The record stored with a study, or None when it asked for no warm start."""
        data = system_attrs.get(WARM_START_ATTR)
        if not isinstance(data, Mapping):
            return None
        return cls(
            WarmStartRequest.from_json(data.get("requested", {})),
            tuple(ChosenSource.from_json(s) for s in data.get("sources", ())),
        )


# -- choosing, at creation -------------------------------------------------------------------


def choose_sources(
    storage: Storage,
    request: WarmStartRequest,
    directions: Sequence[StudyDirection],
    config: StudyConfig,
) -> WarmStartRecord:
    """The sources for a new study, or the error that names the offending field. Reads
    only; the caller stores the record with the study."""
    refusal = REFUSING_SAMPLERS.get(config.sampler.name)
    if refusal is not None:
        raise InvalidArgumentError.for_field(
            "warm_start", f"{refusal}; warm start needs another sampler"
        )
    chosen = [
        _named(storage, f"warm_start.studies[{i}]", name, directions, config.search_space)
        for i, name in enumerate(request.studies)
    ]
    if request.auto:
        taken = {c.study_id for c in chosen}
        chosen += _auto(storage, request, directions, config.search_space, taken)
    return WarmStartRecord(request, tuple(chosen))


def _named(
    storage: Storage,
    field_name: str,
    name: str,
    directions: Sequence[StudyDirection],
    space: Mapping[str, BaseDistribution],
) -> ChosenSource:
    row = storage.studies.find(name)
    if row is None:
        raise StudyNotFoundError(f"{field_name}: no study named {name!r}")
    require_access("study", name, _owner(row))
    if list(row.directions) != list(directions):
        raise InvalidArgumentError.for_field(
            field_name,
            f"study {name!r} has directions {_names(row.directions)}, this study "
            f"{_names(directions)}",
        )
    source_space = _space_of(storage, row)
    if space:
        problem = _incompatibility(space, source_space)
        if problem:
            raise InvalidArgumentError.for_field(field_name, f"study {name!r}: {problem}")
    complete = row.trial_counts.get(TrialState.COMPLETE.name, 0)
    if not complete:
        raise InvalidArgumentError.for_field(
            field_name, f"study {name!r} has no completed trial to learn from"
        )
    reason = "named" if space else "named; matched parameter by parameter (define-by-run)"
    return _chosen(row, reason)


def _auto(
    storage: Storage,
    request: WarmStartRequest,
    directions: Sequence[StudyDirection],
    space: Mapping[str, BaseDistribution],
    taken: set[int],
) -> list[ChosenSource]:
    same_data = storage.lineage.studies_with_data(request.data_digests)
    ranked: list[tuple[tuple[int, int], ChosenSource]] = []
    for row in storage.studies.rows():
        if row.study_id in taken or list(row.directions) != list(directions):
            continue
        if row.trial_counts.get(TrialState.COMPLETE.name, 0) < MIN_AUTO_TRIALS:
            continue
        if not may_access(_owner(row)):
            continue
        data = "same data" if row.study_id in same_data else "other data"
        if not request.data_digests:
            data = "data not given"
        if space:
            source_space = _space_of(storage, row)
            if _incompatibility(space, source_space):
                continue
            identical = dict(source_space) == dict(space)
            shape = "same search space" if identical else "compatible search space"
            tier = (0 if data == "same data" else 2) + (0 if identical else 1)
        else:
            shape = "parameters matched as this study's trials name them"
            tier = 0 if data == "same data" else 2
        # Most relevant first; among equals the most recent study.
        ranked.append(((tier, -row.study_id), _chosen(row, f"auto: {data}, {shape}")))
    ranked.sort(key=lambda item: item[0])
    return [source for _, source in ranked[:MAX_AUTO_SOURCES]]


def _chosen(row: StudyRow, reason: str) -> ChosenSource:
    return ChosenSource(
        study=row.name,
        study_id=row.study_id,
        reason=reason,
        trials=row.trial_counts.get(TrialState.COMPLETE.name, 0),
        upto=sum(row.trial_counts.values()),
    )


def _space_of(storage: Storage, row: StudyRow) -> dict[str, BaseDistribution]:
    """The source's parameters: its declared space, else those its trials used."""
    declared = _config(row).search_space
    if declared:
        return dict(declared)
    try:
        return dict(storage.studies.current(row.study_id).param_distributions)
    except StudyGoneError:
        return {}


def _incompatibility(
    space: Mapping[str, BaseDistribution], source: Mapping[str, BaseDistribution]
) -> str:
    """Why a source's parameters cannot inform ``space`` ("" when they can)."""
    if set(space) != set(source):
        missing = sorted(set(space) - set(source))
        extra = sorted(set(source) - set(space))
        parts = [f"lacks {missing}" if missing else "", f"has also {extra}" if extra else ""]
        return "its parameters differ: it " + " and ".join(p for p in parts if p)
    for name, distribution in sorted(space.items()):
        try:
            check_distribution_compatibility(source[name], distribution)
        except ValueError as e:
            return f"parameter {name!r} was {source[name]}, here {distribution} ({e})"
    return ""


def _config(row: StudyRow) -> StudyConfig:
    try:
        return StudyConfig.from_json(row.system_attrs.get(CONFIG_ATTR))
    except Exception:  # a study whose configuration is unreadable informs nothing
        return StudyConfig(created_at=0.0)


def _owner(row: StudyRow) -> str:
    stored = row.system_attrs.get(CONFIG_ATTR)
    return str(stored.get("owner", "")) if isinstance(stored, Mapping) else ""


def _names(directions: Sequence[StudyDirection]) -> str:
    return "[" + ", ".join(d.name.lower() for d in directions) + "]"


# -- loading, for the sampler ----------------------------------------------------------------


def load_sources(storage: Storage, record: WarmStartRecord | None) -> list[SourceTrials]:
    """The recorded sources' completed trials among those that existed at the study's
    creation (numbered below ``upto``). A source deleted since is left out (the study goes
    on with the others, or cold)."""
    if record is None:
        return []
    loaded = []
    for source in record.sources:
        try:
            model = storage.studies.current(source.study_id)
        except StudyGoneError:
            _logger.warning("warm-start source %r is gone; left out", source.study)
            continue
        trials = [t for t in model.trials[: source.upto] if t.state == TrialState.COMPLETE]
        loaded.append(SourceTrials(source.study, trials))
    return loaded


__all__ = [
    "WARM_START_ATTR",
    "ChosenSource",
    "WarmStartRecord",
    "WarmStartRequest",
    "choose_sources",
    "load_sources",
]
