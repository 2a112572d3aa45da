"""The ``--json`` output of every command: one stable shape per record, as scripts want it.

Numbers are JSON numbers, enum values their names without prefix in upper case
(``"COMPLETE"``, ``"MAXIMIZE"``), times ISO 8601 strings in UTC (null when unset), a field
without a value null; parameters are their values. The shapes are documented in the
README ("JSON output") and tested; add fields, never rename or remove them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from hpo.v1 import study_pb2 as pb

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

# hpo._wire and Optuna (a quarter of a second to import) are imported by the functions that
# use them: every command imports this module, and `hpo --help` or `hpo sweep` before Ray
# starts need neither.


def dump(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout."""
    print(json.dumps(value, indent=2))


def study(message: pb.Study) -> dict[str, Any]:
    """A study: configuration and trial counts per state."""
    from hpo._wire import distribution_from_pb, state_counts

    return {
        "name": message.name,
        "directions": [_enum_name(pb.Direction, d) for d in message.directions],
        "sampler": _algorithm(message.sampler),
        "pruner": _algorithm(message.pruner),
        "search_space": {
            name: distribution(distribution_from_pb(name, d))
            for name, d in sorted(message.search_space.params.items())
        },
        "trial_budget": message.trial_budget,
        "retry_budget": message.retry_budget,
        "lease_seconds": message.lease_seconds,
        "create_time": _time(message.create_time) if message.HasField("create_time") else None,
        "trial_counts": {name.upper(): n for name, n in state_counts(message.trial_counts).items()},
    }


def trial(message: pb.Trial) -> dict[str, Any]:
    """A trial: state, values, parameters by name with their values."""
    from hpo._wire import distribution_from_pb, state_name, value_from_pb

    return {
        "study": message.study,
        "number": message.number,
        "state": state_name(message.state).upper(),
        "values": list(message.values),
        "params": {p.name: value_from_pb(p.name, p.value) for p in message.params},
        "distributions": {
            p.name: distribution(distribution_from_pb(p.name, p.distribution))
            for p in message.params
        },
        "intermediate_values": [
            {"step": iv.step, "value": iv.value} for iv in message.intermediate_values
        ],
        "user_attrs": {k: json.loads(v) for k, v in message.user_attrs.items()},
        "client_id": message.client_id,
        "fail_reason": message.fail_reason,
        "retry_of": message.retry_of if message.HasField("retry_of") else None,
        "start_time": _time(message.start_time) if message.HasField("start_time") else None,
        "complete_time": (
            _time(message.complete_time) if message.HasField("complete_time") else None
        ),
    }


def trials(messages: Iterable[pb.Trial]) -> list[dict[str, Any]]:
    return [trial(m) for m in messages]


def distribution(d: BaseDistribution) -> dict[str, Any]:
    """``{"type": "float", "low": ..., "high": ..., "log": ..., "step": ...}``, ``"int"``
    likewise, or ``{"type": "categorical", "choices": [...]}``."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if isinstance(d, FloatDistribution):
        return {"type": "float", "low": d.low, "high": d.high, "log": d.log, "step": d.step}
    if isinstance(d, IntDistribution):
        return {"type": "int", "low": d.low, "high": d.high, "log": d.log, "step": d.step}
    assert isinstance(d, CategoricalDistribution)
    return {"type": "categorical", "choices": list(d.choices)}


def plain(message: Message) -> dict[str, Any]:
    """Any other message (model versions, lineage) by the same rules: every field, by its
    proto name, unset optional fields as null."""
    result: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        value = getattr(message, field.name)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            result[field.name] = {k: _scalar(value_field, v) for k, v in sorted(value.items())}
        elif field.is_repeated:
            result[field.name] = [_scalar(field, v) for v in value]
        elif field.has_presence and not message.HasField(field.name):
            result[field.name] = None
        else:
            result[field.name] = _scalar(field, value)
    return result


def _scalar(field: Any, value: Any) -> Any:
    if isinstance(value, Timestamp):
        return _time(value)
    if isinstance(value, Message):
        return plain(value)
    if field.enum_type is not None:
        return _enum_name(field.enum_type, value)
    return value


def _enum_name(enum: Any, value: int) -> str:
    """``TRIAL_STATE_COMPLETE`` -> ``COMPLETE``: the enum type's name is its values' prefix."""
    descriptor = getattr(enum, "DESCRIPTOR", enum)
    prefix = re.sub(r"(?<!^)(?=[A-Z])", "_", descriptor.name).upper() + "_"
    return str(descriptor.values_by_number[value].name).removeprefix(prefix)


def _algorithm(spec: pb.AlgorithmSpec) -> dict[str, Any]:
    return {"name": spec.name, "options": json.loads(spec.options_json or "{}")}


def _time(stamp: Timestamp) -> str:
    return stamp.ToDatetime().isoformat() + "Z"
