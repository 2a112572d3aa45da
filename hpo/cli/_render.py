"""Tables for people, JSON for scripts: how the CLI prints studies, trials and models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hpo.cli import _json
from hpo.v1 import registry_pb2 as reg
from hpo.v1 import study_pb2 as pb

out = Console()
# hpo._wire (and through it Optuna) is imported by the functions that use it, as in _json.


def state_filter(names: Sequence[str]) -> list[pb.TrialState]:
    """``--state`` values (any case) as wire states."""
    from hpo._wire import STATE_TO_PB, state_from_name

    return [STATE_TO_PB[state_from_name("--state", name)] for name in names]


def _direction(value: int) -> str:
    return pb.Direction.Name(value).removeprefix("DIRECTION_").lower()


def studies(items: Sequence[pb.Study], as_json: bool) -> None:
    from hpo._wire import state_counts

    if as_json:
        return _json.dump([_json.study(s) for s in items])
    table = Table("name", "directions", "sampler", "pruner", "trials", "complete", "running")
    for s in items:
        counts = state_counts(s.trial_counts)
        table.add_row(
            escape(s.name),
            ",".join(_direction(d) for d in s.directions),
            s.sampler.name,
            s.pruner.name,
            str(sum(counts.values())),
            str(counts["complete"]),
            str(counts["running"]),
        )
    out.print(table)


def study(item: pb.Study, as_json: bool) -> None:
    from hpo._wire import state_counts

    if as_json:
        return _json.dump(_json.study(item))
    table = Table("field", "value", show_header=False)
    table.add_row("name", escape(item.name))
    table.add_row("directions", ", ".join(_direction(d) for d in item.directions))
    table.add_row("sampler", escape(f"{item.sampler.name} {item.sampler.options_json}"))
    table.add_row("pruner", escape(f"{item.pruner.name} {item.pruner.options_json}"))
    table.add_row("trial budget", str(item.trial_budget or "none"))
    table.add_row("retry budget", str(item.retry_budget))
    table.add_row("lease seconds", f"{item.lease_seconds:g}")
    for name, n in state_counts(item.trial_counts).items():
        if n:
            table.add_row(name, str(n))
    if item.HasField("warm_start"):
        table.add_row("warm start", _warm_start_request(item.warm_start.requested))
        for source in item.warm_start.sources:
            line = f"{source.study}: {source.reason}; {source.trials} trials"
            table.add_row("  source", f"{line}; {source.status}" if source.status else line)
        if not item.warm_start.sources:
            table.add_row("  source", "none compatible: started cold")
    out.print(table)


def _warm_start_request(requested: pb.WarmStart) -> str:
    asked = (["auto"] if requested.auto else []) + list(requested.studies)
    data = (
        f" (data {', '.join(d[:12] for d in requested.data_digests)})"
        if requested.data_digests
        else ""
    )
    return ", ".join(asked) + data


def trials(items: Sequence[pb.Trial], as_json: bool) -> None:
    from hpo._wire import state_name, value_from_pb

    if as_json:
        return _json.dump(_json.trials(items))
    table = Table("number", "state", "values", "params", "steps")
    for t in items:
        params = ", ".join(f"{p.name}={_short(value_from_pb(p.name, p.value))}" for p in t.params)
        table.add_row(
            str(t.number),
            state_name(t.state),
            ", ".join(f"{v:.6g}" for v in t.values),
            escape(params),
            str(len(t.intermediate_values)),
        )
    out.print(table)


def versions(items: Sequence[reg.ModelVersion], as_json: bool) -> None:
    if as_json:
        return _json.dump([_json.plain(v) for v in items])
    table = Table("model", "version", "aliases", "study", "trial", "artifact", "digest")
    for v in items:
        table.add_row(
            escape(v.name),
            str(v.version),
            ", ".join(v.aliases),
            escape(v.study),
            str(v.trial_number),
            escape(v.artifact.name),
            v.artifact.digest[:16] + "…",
        )
    out.print(table)


def _short(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)
