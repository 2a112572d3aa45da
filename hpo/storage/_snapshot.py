"""A study's snapshot: its trials and attributes as of one log row, compressed.

Format 2 is columnar (one JSON list per field, each distinct distribution and parameter
set written once), so that loading decodes a few long lists of numbers instead of a dict
per trial, and builds no trial until it is read (:class:`~hpo.storage._trial_list.TrialColumns`).
Format 1 (a list per trial) is still read: databases written before hold it.
"""

from __future__ import annotations

import itertools
import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from optuna.distributions import BaseDistribution, distribution_to_json

from hpo.storage._trial_list import RawTrial, TrialColumns, distribution_of_json

FORMAT = 2


@dataclass(frozen=True)
class Snapshot:
    seq: int
    user_attrs: dict[str, Any]
    system_attrs: dict[str, Any]
    trials: TrialColumns


def encode_snapshot(
    seq: int, user_attrs: dict[str, Any], system_attrs: dict[str, Any], trials: Iterable[RawTrial]
) -> bytes:
    """Trials ``0..n-1`` (in order) and the study's attributes as of log row ``seq``."""
    texts: dict[str, int] = {}
    by_id: dict[int, int] = {}
    seen: list[BaseDistribution] = []  # alive while encoding, so that their ids stay theirs
    layouts: dict[tuple[tuple[str, int], ...], int] = {}
    states, values, starts, completes, layout_of, param_values = [], [], [], [], [], []
    iv_counts: list[int] = []
    steps: list[int] = []
    step_values: list[float] = []
    user: dict[str, Any] = {}
    system: dict[str, Any] = {}
    for n, (state, vals, start, complete, params, ivs, ua, sa) in enumerate(trials):
        key = []
        for name, dist, internal in params:
            index = by_id.get(id(dist))
            if index is None:
                index = texts.setdefault(distribution_to_json(dist), len(texts))
                by_id[id(dist)] = index
                seen.append(dist)
            key.append((name, index))
            param_values.append(internal)
        layout_of.append(layouts.setdefault(tuple(key), len(layouts)))
        states.append(state)
        values.append(vals)
        starts.append(start)
        completes.append(complete)
        iv_counts.append(len(ivs))
        for step, value in ivs:
            steps.append(step)
            step_values.append(value)
        if ua:
            user[str(n)] = ua
        if sa:
            system[str(n)] = sa
    body = {
        "format": FORMAT,
        "seq": seq,
        "ua": user_attrs,
        "sa": system_attrs,
        "dists": list(texts),
        "layouts": [list(layout) for layout in layouts],
        "states": states,
        "values": values,
        "starts": starts,
        "completes": completes,
        "layout_of": layout_of,
        "param_values": param_values,
        "iv_counts": iv_counts,
        "steps": steps,
        "step_values": step_values,
        "trial_ua": user,
        "trial_sa": system,
    }
    return zlib.compress(json.dumps(body, separators=(",", ":")).encode(), 1)


def decode_snapshot(blob: bytes, study_id: int) -> Snapshot:
    body = json.loads(zlib.decompress(blob))
    if body.get("format") != FORMAT:
        body = _columns_of_format_1(body)
    dists = [distribution_of_json(text) for text in body["dists"]]
    layouts = [[(name, dists[index]) for name, index in layout] for layout in body["layouts"]]
    sizes = [len(layout) for layout in layouts]
    columns = TrialColumns(
        study_id=study_id,
        states=body["states"],
        values=body["values"],
        starts=body["starts"],
        completes=body["completes"],
        layouts=layouts,
        layout_of=body["layout_of"],
        param_at=list(itertools.accumulate((sizes[i] for i in body["layout_of"]), initial=0)),
        param_values=body["param_values"],
        iv_at=list(itertools.accumulate(body["iv_counts"], initial=0)),
        steps=body["steps"],
        step_values=body["step_values"],
        user_attrs={int(n): attrs for n, attrs in body["trial_ua"].items()},
        system_attrs={int(n): attrs for n, attrs in body["trial_sa"].items()},
    )
    return Snapshot(body["seq"], body["ua"], body["sa"], columns)


def _columns_of_format_1(body: dict[str, Any]) -> dict[str, Any]:
    """A format-1 body (one list per trial, parameters as ``{name: [internal, dist]}``) in
    format 2's columns."""
    layouts: dict[tuple[tuple[str, int], ...], int] = {}
    columns: dict[str, Any] = {
        name: []
        for name in (
            "states values starts completes layout_of param_values iv_counts steps step_values"
        ).split()
    }
    user: dict[str, Any] = {}
    system: dict[str, Any] = {}
    for i, (n, state, vals, start, complete, params, ivs, ua, sa) in enumerate(body["trials"]):
        if n != i:
            raise ValueError(f"snapshot holds trial {n} at position {i}")
        columns["states"].append(state)
        columns["values"].append(vals)
        columns["starts"].append(start)
        columns["completes"].append(complete)
        key = tuple((name, index) for name, (_, index) in params.items())
        columns["layout_of"].append(layouts.setdefault(key, len(layouts)))
        columns["param_values"].extend(internal for internal, _ in params.values())
        columns["iv_counts"].append(len(ivs))
        for step, value in ivs:
            columns["steps"].append(int(step))
            columns["step_values"].append(value)
        if ua:
            user[str(n)] = ua
        if sa:
            system[str(n)] = sa
    return {
        **columns,
        "seq": body["seq"],
        "ua": body["ua"],
        "sa": body["sa"],
        "dists": body["dists"],
        "layouts": [list(layout) for layout in layouts],
        "trial_ua": user,
        "trial_sa": system,
    }
