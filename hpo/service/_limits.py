"""Every size, count and stream limit of the coordinator, and the small checks that apply
them at the boundary. The README's security section states the same numbers.

A count or shape a client chose badly is INVALID_ARGUMENT; growth past a cap that the
stored data would cross (a trial's size, a stream too many) is RESOURCE_EXHAUSTED. Each
check raises before anything is written.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from optuna.distributions import BaseDistribution, distribution_to_json
from optuna.trial import FrozenTrial

from hpo._defaults import MAX_MESSAGE_BYTES
from hpo.errors import InvalidArgumentError, ResourceExhaustedError

__all__ = [
    "MAX_FAIL_REASON",
    "MAX_JSON_DEPTH",
    "MAX_MESSAGE_BYTES",
    "MAX_NAME_LENGTH",
    "MAX_PAGE_BYTES",
    "MAX_PARAMS_PER_TRIAL",
    "MAX_TRIAL_BYTES",
    "INTERMEDIATE_VALUE_BYTES",
    "ServerLimits",
    "attr_bytes",
    "check_name",
    "check_params",
    "check_trial_growth",
    "decode_json",
    "enqueued_trial_bytes",
    "new_trial_bytes",
    "param_bytes",
    "trial_bytes",
    "user_attr_growth",
]

#: Names of studies, parameters, user attribute keys, metrics, data sets and artifacts.
MAX_NAME_LENGTH = 256
#: A caller's id (client_id, request_id): room for a study's name and more (a sweep's worker
#: ids are the study's name, a worker number and a run id).
MAX_ID_LENGTH = 1024
#: Parameters of one trial, and of one declared, asked or enqueued search space.
MAX_PARAMS_PER_TRIAL = 1_000
#: Nesting of JSON a client sends (sampler/pruner options, user attribute values).
MAX_JSON_DEPTH = 32
#: A trial as stored (parameters with their distributions, reported values, user attributes,
#: fail reason), estimated from above; well under a message, so every trial stays readable.
MAX_TRIAL_BYTES = 4 * 1024 * 1024
#: A ListTrials page stops before this many bytes (next_page_token continues it).
MAX_PAGE_BYTES = 8 * 1024 * 1024
#: A failed trial's reason is kept up to this many characters.
MAX_FAIL_REASON = 16_000
#: Bytes a reported (step, value) pair takes in a stored trial and on the wire, at most.
INTERMEDIATE_VALUE_BYTES = 24
_TRIAL_OVERHEAD_BYTES = 1024


@dataclass(frozen=True)
class ServerLimits:
    """Limits of one coordinator process that an operator may tune (``hpo server`` options).

    Streams (UploadArtifact, DownloadArtifact) each hold a server thread while they run, so
    together they may hold at most ``streams_total`` (default: half the threads) and each
    caller at most ``streams_per_caller``; a stream with no message for ``stream_idle_seconds``
    is ended. Health watches hold no thread, only memory: ``watches_*`` bound them.
    """

    max_artifact_bytes: int = 2 * 1024**3
    streams_per_caller: int = 4
    streams_total: int | None = None
    stream_idle_seconds: float = 30.0
    watches_per_caller: int = 16
    watches_total: int = 1024
    #: Calls with a missing or unknown token, per client address: bursts of this many ...
    bad_token_burst: int = 10
    #: ... then this many per second (RESOURCE_EXHAUSTED beyond).
    bad_token_rate: float = 1.0

    def __post_init__(self) -> None:
        if self.max_artifact_bytes <= 0:
            raise ValueError("--max-artifact-bytes must be positive")
        if self.streams_per_caller <= 0 or (self.streams_total or 1) <= 0:
            raise ValueError("stream limits must be positive")
        if not self.stream_idle_seconds > 0:
            raise ValueError("--stream-idle-seconds must be positive")

    def total_streams(self, threads: int) -> int:
        """Streams allowed at once on a server with ``threads`` threads: unary calls keep
        the rest."""
        return self.streams_total or max(1, threads // 2)


# -- names and counts --------------------------------------------------------------------------


def check_name(field: str, name: str, *, printable: bool = False) -> None:
    """A name is 1-MAX_NAME_LENGTH characters (and printable, where it is shown to people)."""
    if not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidArgumentError.for_field(field, f"must be 1-{MAX_NAME_LENGTH} characters")
    if printable and not name.isprintable():
        raise InvalidArgumentError.for_field(field, "must contain only printable characters")


def check_id(field: str, value: str) -> None:
    """A caller's id (a client id, a request id) is empty or at most MAX_ID_LENGTH
    characters: it is stored with what it names."""
    if len(value) > MAX_ID_LENGTH:
        raise InvalidArgumentError.for_field(
            field, f"at most {MAX_ID_LENGTH} characters; got {len(value)}"
        )


def check_params(field: str, names: Iterable[str]) -> None:
    """A search space or a set of parameter values: at most MAX_PARAMS_PER_TRIAL names,
    each a valid name."""
    names = list(names)
    if len(names) > MAX_PARAMS_PER_TRIAL:
        raise InvalidArgumentError.for_field(
            field, f"at most {MAX_PARAMS_PER_TRIAL} parameters; got {len(names)}"
        )
    for name in names:
        if not name or len(name) > MAX_NAME_LENGTH:
            raise InvalidArgumentError.for_field(
                field, f"parameter names must be 1-{MAX_NAME_LENGTH} characters"
            )


# -- JSON from clients --------------------------------------------------------------------------


def decode_json(field: str, text: str) -> Any:
    """``text`` parsed as JSON nested at most MAX_JSON_DEPTH levels deep."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidArgumentError.for_field(field, f"not valid JSON ({e.msg})") from None
    except ValueError:  # an integer of more digits than Python converts
        raise InvalidArgumentError.for_field(field, "not valid JSON (a number too long)") from None
    except RecursionError:
        value = None
        depth = MAX_JSON_DEPTH + 1
    else:
        depth = _json_depth(value)
    if depth > MAX_JSON_DEPTH:
        raise InvalidArgumentError.for_field(
            field, f"JSON nested more than {MAX_JSON_DEPTH} levels deep"
        )
    return value


def _json_depth(value: Any) -> int:
    """Levels of arrays and objects; stops counting past MAX_JSON_DEPTH (no recursion)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, level)
            if level > MAX_JSON_DEPTH:
                break
            stack.extend((child, level + 1) for child in item)
    return deepest


# -- a trial's size ------------------------------------------------------------------------------


def attr_bytes(key: str, value: Any) -> int:
    """A user attribute as sent on the wire (JSON text under its key), with framing."""
    return len(key.encode()) + len(json.dumps(value, default=str).encode()) + 8


def param_bytes(name: str, distribution: BaseDistribution | None) -> int:
    """A parameter with its distribution (all categorical choices) and value, with framing."""
    described = _distribution_bytes(distribution) if distribution is not None else 0
    return len(name.encode()) + described + 32


@functools.lru_cache(maxsize=4096)  # a study uses few distributions, over and over
def _distribution_bytes(distribution: BaseDistribution) -> int:
    return len(distribution_to_json(distribution).encode())


def trial_bytes(trial: FrozenTrial) -> int:
    """An upper estimate of the trial's size as stored and as a Trial message."""
    return (
        _TRIAL_OVERHEAD_BYTES
        + sum(param_bytes(n, d) for n, d in trial.distributions.items())
        + len(trial.intermediate_values) * INTERMEDIATE_VALUE_BYTES
        + sum(attr_bytes(k, v) for k, v in trial.user_attrs.items())
        + len(json.dumps(trial.system_attrs, default=str).encode())
    )


def user_attr_growth(trial: FrozenTrial, key: str, value: Any) -> int:
    """How much setting ``key`` to ``value`` changes the trial's size (it may replace one)."""
    old = attr_bytes(key, trial.user_attrs[key]) if key in trial.user_attrs else 0
    return attr_bytes(key, value) - old


def check_trial_growth(field: str, trial: FrozenTrial | None, added: int) -> None:
    """Refuse a change that would make a trial (``None``: a new one) larger than
    MAX_TRIAL_BYTES: such a trial could no longer be read back."""
    size = (trial_bytes(trial) if trial is not None else _TRIAL_OVERHEAD_BYTES) + added
    if added > 0 and size > MAX_TRIAL_BYTES:
        which = f"trial {trial.number}" if trial is not None else "the trial"
        raise ResourceExhaustedError(
            f"{field}: {which} would take about {size:,} bytes; a trial may take at most "
            f"{MAX_TRIAL_BYTES:,} (parameters, reported values and user attributes together)"
        )


def new_trial_bytes(
    distributions: Mapping[str, BaseDistribution], user_attrs: Mapping[str, Any]
) -> int:
    """The size a trial created with these parameters and user attributes starts at."""
    return sum(param_bytes(n, d) for n, d in distributions.items()) + sum(
        attr_bytes(k, v) for k, v in user_attrs.items()
    )


def enqueued_trial_bytes(params: Mapping[str, Any], user_attrs: Mapping[str, Any]) -> int:
    """An enqueued trial's size: its fixed values are kept twice (as given, then as params)."""
    values = sum(attr_bytes(k, v) + param_bytes(k, None) for k, v in params.items())
    return values + new_trial_bytes({}, user_attrs)
