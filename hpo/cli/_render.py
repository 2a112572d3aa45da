"""Tables for people, JSON for scripts: how the CLI prints studies and trials."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from google.protobuf.json_format import MessageToDict
from rich.console import Console
from rich.table import Table

from hpo._wire import value_from_pb
from hpo.errors import InvalidArgumentError
from hpo.v1 import study_pb2 as pb

_out = Console()
_STATE_NAMES = {"running", "complete", "pruned", "failed", "waiting"}


def state_from_name(name: str) -> pb.TrialState:
    key = name.strip().lower()
    if key not in _STATE_NAMES:
        raise InvalidArgumentError.for_field(
            "--state", f"{name!r} is not one of {sorted(_STATE_NAMES)}"
        )
    return pb.TrialState.Value(f"TRIAL_STATE_{key.upper()}")


def _as_json(messages: Sequence[Any]) -> None:
    print(
        json.dumps([MessageToDict(m, preserving_proto_field_name=True) for m in messages], indent=2)
    )


def _state(value: int) -> str:
    return pb.TrialState.Name(value).removeprefix("TRIAL_STATE_").lower()


def _direction(value: int) -> str:
    return pb.Direction.Name(value).removeprefix("DIRECTION_").lower()


def studies(items: Sequence[pb.Study], as_json: bool) -> None:
    if as_json:
        return _as_json(items)
    table = Table("name", "directions", "sampler", "pruner", "trials", "complete", "running")
    for s in items:
        counts = s.trial_counts
        table.add_row(
            s.name,
            ",".join(_direction(d) for d in s.directions),
            s.sampler.name,
            s.pruner.name,
            str(sum(counts.values())),
            str(counts.get("TRIAL_STATE_COMPLETE", 0)),
            str(counts.get("TRIAL_STATE_RUNNING", 0)),
        )
    _out.print(table)


def study(item: pb.Study, as_json: bool) -> None:
    if as_json:
        print(json.dumps(MessageToDict(item, preserving_proto_field_name=True), indent=2))
        return
    table = Table("field", "value", show_header=False)
    table.add_row("name", item.name)
    table.add_row("directions", ", ".join(_direction(d) for d in item.directions))
    table.add_row("sampler", f"{item.sampler.name} {item.sampler.options_json}")
    table.add_row("pruner", f"{item.pruner.name} {item.pruner.options_json}")
    table.add_row("trial budget", str(item.trial_budget or "none"))
    table.add_row("retry budget", str(item.retry_budget))
    table.add_row("lease seconds", f"{item.lease_seconds:g}")
    for state, n in sorted(item.trial_counts.items()):
        table.add_row(_state(pb.TrialState.Value(state)), str(n))
    if item.HasField("warm_start"):
        table.add_row("warm start", _warm_start_request(item.warm_start.requested))
        for source in item.warm_start.sources:
            line = f"{source.study}: {source.reason}; {source.trials} trials"
            table.add_row("  source", f"{line}; {source.status}" if source.status else line)
        if not item.warm_start.sources:
            table.add_row("  source", "none compatible: started cold")
    _out.print(table)


def _warm_start_request(requested: pb.WarmStart) -> str:
    asked = (["auto"] if requested.auto else []) + list(requested.studies)
    data = (
        f" (data {', '.join(d[:12] for d in requested.data_digests)})"
        if requested.data_digests
        else ""
    )
    return ", ".join(asked) + data


def trials(items: Sequence[pb.Trial], as_json: bool) -> None:
    if as_json:
        return _as_json(items)
    table = Table("number", "state", "values", "params", "steps")
    for t in items:
        params = ", ".join(f"{p.name}={_short(value_from_pb(p.name, p.value))}" for p in t.params)
        table.add_row(
            str(t.number),
            _state(t.state),
            ", ".join(f"{v:.6g}" for v in t.values),
            params,
            str(len(t.intermediate_values)),
        )
    _out.print(table)


def _short(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)
