"""One study's trials in memory, and the operations that change them.

Each study has its own log in SQL (``hpo_study_log``): one row per unit of work, holding the
operations that unit made, numbered densely per study. A coordinator rebuilds a study by
applying a snapshot and then the rows after it, and catches up by applying the rows it has
not seen. Everything here is pure: no SQL, no threads.

:class:`~optuna.trial.FrozenTrial` objects are never changed in place: every change copies
the trial first (:class:`Draft`), so a reader holding a trial or a list of trials keeps a
consistent view while another thread commits, and within a unit of work a list read before
a change keeps what it had (as with Optuna's own storages; pruners rely on it).
"""

from __future__ import annotations

import copy
import datetime
import functools
import json
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from optuna.distributions import BaseDistribution, distribution_to_json, json_to_distribution
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

# Trial ids are unique across studies without a sequence shared by all studies: the study id
# in the high bits, the trial number in the low 32.
_NUMBER_BITS = 32
MAX_TRIALS_PER_STUDY = 2**_NUMBER_BITS

Op = dict[str, Any]


def trial_id_of(study_id: int, number: int) -> int:
    return (study_id << _NUMBER_BITS) | number


def split_trial_id(trial_id: int) -> tuple[int, int]:
    """(study id, trial number) of a trial id."""
    return trial_id >> _NUMBER_BITS, trial_id & (MAX_TRIALS_PER_STUDY - 1)


@functools.lru_cache(maxsize=4096)
def _distribution(text: str) -> BaseDistribution:
    # Trials of one study share a handful of distributions: parse each text once.
    return json_to_distribution(text)


def _timestamp(moment: datetime.datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def _moment(ts: float | None) -> datetime.datetime | None:
    return None if ts is None else datetime.datetime.fromtimestamp(ts)


def trial_op(trial: FrozenTrial) -> Op:
    """The whole trial as one operation (a created trial; a trial in a snapshot)."""
    return {
        "o": "trial",
        "n": trial.number,
        "s": trial.state.value,
        "v": trial.values,
        "t": _timestamp(trial.datetime_start),
        "tc": _timestamp(trial.datetime_complete),
        "p": {
            name: [dist.to_internal_repr(trial.params[name]), distribution_to_json(dist)]
            for name, dist in trial.distributions.items()
        },
        "iv": [[step, value] for step, value in trial.intermediate_values.items()],
        "ua": trial.user_attrs,
        "sa": trial.system_attrs,
    }


def _trial_from_op(study_id: int, op: Op) -> FrozenTrial:
    distributions = {name: _distribution(d) for name, (_, d) in op["p"].items()}
    values = op["v"]
    return FrozenTrial(
        number=op["n"],
        state=TrialState(op["s"]),
        value=None,
        values=values,
        datetime_start=_moment(op["t"]),
        datetime_complete=_moment(op["tc"]),
        params={
            name: distributions[name].to_external_repr(x) for name, (x, _) in op["p"].items()
        },
        distributions=distributions,
        user_attrs=op["ua"],
        system_attrs=op["sa"],
        intermediate_values={int(step): value for step, value in op["iv"]},
        trial_id=trial_id_of(study_id, op["n"]),
    )


def _writable_copy(trial: FrozenTrial) -> FrozenTrial:
    """A copy whose containers may be changed without touching ``trial``."""
    clone = copy.copy(trial)
    clone.params = dict(trial.params)
    clone.distributions = dict(trial.distributions)
    clone.user_attrs = dict(trial.user_attrs)
    clone.system_attrs = dict(trial.system_attrs)
    clone.intermediate_values = dict(trial.intermediate_values)
    return clone


@dataclass
class StudyModel:
    """A study as of log row ``seq`` (-1: no row applied yet)."""

    study_id: int
    name: str
    directions: list[StudyDirection]
    user_attrs: dict[str, Any] = field(default_factory=dict)
    system_attrs: dict[str, Any] = field(default_factory=dict)
    trials: list[FrozenTrial] = field(default_factory=list)
    seq: int = -1
    deleted: bool = False
    #: Trials by state name, kept up to date as changes are installed.
    counts: dict[str, int] = field(default_factory=dict)
    #: The distribution each parameter name has in this study (they must stay compatible).
    param_distributions: dict[str, BaseDistribution] = field(default_factory=dict)

    def apply_rows(self, rows: Iterable[tuple[int, str]]) -> None:
        """Apply log rows ``(seq, payload)`` in order; rows already applied are skipped."""
        draft = Draft(self)
        last = self.seq
        for seq, payload in rows:
            if seq <= last:
                continue
            if seq != last + 1:
                raise ValueError(f"study {self.study_id}: log row {seq} follows {last}")
            for op in json.loads(payload):
                draft.apply(op)
            last = seq
        draft.install(last)

    def snapshot(self) -> bytes:
        """The trials (and study attributes) as of ``seq``, compressed. Compact: each trial
        a list, each distinct distribution written once."""
        dists: dict[str, int] = {}
        rows = []
        for t in self.trials:
            params = {}
            for name, dist in t.distributions.items():
                index = dists.setdefault(distribution_to_json(dist), len(dists))
                params[name] = [dist.to_internal_repr(t.params[name]), index]
            rows.append(
                [
                    t.number,
                    t.state.value,
                    t.values,
                    _timestamp(t.datetime_start),
                    _timestamp(t.datetime_complete),
                    params,
                    [[step, value] for step, value in t.intermediate_values.items()],
                    t.user_attrs,
                    t.system_attrs,
                ]
            )
        body = {
            "seq": self.seq,
            "ua": self.user_attrs,
            "sa": self.system_attrs,
            "dists": list(dists),
            "trials": rows,
        }
        return zlib.compress(json.dumps(body, separators=(",", ":")).encode(), 1)

    def restore(self, snapshot: bytes) -> None:
        body = json.loads(zlib.decompress(snapshot))
        self.user_attrs = body["ua"]
        self.system_attrs = body["sa"]
        dists = body["dists"]
        self.trials = [
            _trial_from_op(
                self.study_id,
                {
                    "n": n,
                    "s": state,
                    "v": values,
                    "t": start,
                    "tc": complete,
                    "p": {name: [x, dists[i]] for name, (x, i) in params.items()},
                    "iv": iv,
                    "ua": ua,
                    "sa": sa,
                },
            )
            for n, state, values, start, complete, params, iv, ua, sa in body["trials"]
        ]
        self.seq = body["seq"]
        self.counts = {}
        for trial in self.trials:
            self.counts[trial.state.name] = self.counts.get(trial.state.name, 0) + 1
            for name, distribution in trial.distributions.items():
                self.param_distributions.setdefault(name, distribution)


class Draft:
    """Changes to a :class:`StudyModel` not yet committed: reads see them, the model does
    not until :meth:`install`. Every change is an operation (``ops``) for the study's log."""

    def __init__(self, model: StudyModel) -> None:
        self.model = model
        self.ops: list[Op] = []
        self._changed: dict[int, FrozenTrial] = {}
        self._new: list[FrozenTrial] = []
        self._user_attrs: dict[str, Any] | None = None
        self._system_attrs: dict[str, Any] | None = None

    # -- reads ------------------------------------------------------------------------------

    @property
    def n_trials(self) -> int:
        return len(self.model.trials) + len(self._new)

    def trial(self, number: int) -> FrozenTrial:
        """The trial as this draft sees it; ``KeyError`` when there is none."""
        if not 0 <= number < self.n_trials:
            raise KeyError(number)
        committed = len(self.model.trials)
        if number >= committed:
            return self._new[number - committed]
        return self._changed.get(number) or self.model.trials[number]

    def trials(self) -> list[FrozenTrial]:
        if not self._changed and not self._new:
            return list(self.model.trials)
        merged = list(self.model.trials)
        for number, trial in self._changed.items():
            merged[number] = trial
        return merged + self._new

    @property
    def user_attrs(self) -> dict[str, Any]:
        return self.model.user_attrs if self._user_attrs is None else self._user_attrs

    @property
    def system_attrs(self) -> dict[str, Any]:
        return self.model.system_attrs if self._system_attrs is None else self._system_attrs

    def distribution_of(self, name: str) -> BaseDistribution | None:
        """The distribution ``name`` has in the study, as this draft sees it."""
        known = self.model.param_distributions.get(name)
        if known is None:
            for trial in (*self._changed.values(), *self._new):
                if name in trial.distributions:
                    return trial.distributions[name]
        return known

    def counts(self) -> dict[str, int]:
        """Trials by state name, as this draft sees them."""
        counts = dict(self.model.counts)
        for number, trial in self._changed.items():
            old = self.model.trials[number].state.name
            counts[old] -= 1
            counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
        for trial in self._new:
            counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
        return {state: n for state, n in counts.items() if n}

    # -- changes ----------------------------------------------------------------------------

    def record(self, op: Op) -> None:
        """Apply ``op`` and keep it for the log."""
        self.apply(op)
        self.ops.append(op)

    def apply(self, op: Op) -> None:
        kind = op["o"]
        if kind == "trial":
            if op["n"] != self.n_trials:
                raise ValueError(f"trial {op['n']} created as number {self.n_trials}")
            self._new.append(_trial_from_op(self.model.study_id, op))
        elif kind == "study_ua":
            self._user_attrs = {**self.user_attrs, op["k"]: op["x"]}
        elif kind == "study_sa":
            self._system_attrs = {**self.system_attrs, op["k"]: op["x"]}
        elif kind == "deleted":
            self.model.deleted = True
        else:
            _TRIAL_CHANGES[kind](self._writable(op["n"]), op)

    def install(self, seq: int) -> None:
        """Make the changes part of the model, as of log row ``seq``."""
        model = self.model
        model.counts = self.counts()
        for trial in (*self._changed.values(), *self._new):
            for name, distribution in trial.distributions.items():
                model.param_distributions.setdefault(name, distribution)
        if self._changed or self._new:
            trials = list(model.trials)
            for number, trial in self._changed.items():
                trials[number] = trial
            trials.extend(self._new)
            model.trials = trials  # one assignment: readers see the old or the new list
        if self._user_attrs is not None:
            model.user_attrs = self._user_attrs
        if self._system_attrs is not None:
            model.system_attrs = self._system_attrs
        model.seq = seq

    def _writable(self, number: int) -> FrozenTrial:
        """A fresh copy of the trial that replaces it in this draft. Every change copies, as
        Optuna's own storages do: a list of trials read earlier keeps the values it had."""
        trial = _writable_copy(self.trial(number))
        committed = len(self.model.trials)
        if number >= committed:
            self._new[number - committed] = trial
        else:
            self._changed[number] = trial
        return trial


def _set_param(trial: FrozenTrial, op: Op) -> None:
    distribution = _distribution(op["d"])
    trial.distributions[op["k"]] = distribution
    trial.params[op["k"]] = distribution.to_external_repr(op["x"])


def _set_state(trial: FrozenTrial, op: Op) -> None:
    trial.state = TrialState(op["s"])
    if op["v"] is not None:
        trial.values = op["v"]
    if trial.state == TrialState.RUNNING:
        trial.datetime_start = _moment(op["t"])
    elif trial.state.is_finished():
        trial.datetime_complete = _moment(op["t"])


def _set_intermediate(trial: FrozenTrial, op: Op) -> None:
    trial.intermediate_values[int(op["k"])] = op["x"]


def _set_user_attr(trial: FrozenTrial, op: Op) -> None:
    trial.user_attrs[op["k"]] = op["x"]


def _set_system_attr(trial: FrozenTrial, op: Op) -> None:
    trial.system_attrs[op["k"]] = op["x"]


_TRIAL_CHANGES = {
    "param": _set_param,
    "state": _set_state,
    "iv": _set_intermediate,
    "ua": _set_user_attr,
    "sa": _set_system_attr,
}


def param_op(number: int, name: str, internal: float, distribution: BaseDistribution) -> Op:
    return {"o": "param", "n": number, "k": name, "x": internal, "d": distribution_to_json(distribution)}


def state_op(number: int, state: TrialState, values: Sequence[float] | None, ts: float) -> Op:
    return {"o": "state", "n": number, "s": state.value, "v": None if values is None else list(values), "t": ts}


def intermediate_op(number: int, step: int, value: float) -> Op:
    return {"o": "iv", "n": number, "k": step, "x": value}


def attr_op(kind: str, number: int | None, key: str, value: Any) -> Op:
    """A user (``"ua"``) or system (``"sa"``) attribute of a trial, or of the study when
    ``number`` is None."""
    if number is None:
        return {"o": f"study_{kind}", "k": key, "x": value}
    return {"o": kind, "n": number, "k": key, "x": value}


DELETED_OP: Op = {"o": "deleted"}


def encode_ops(ops: Sequence[Op]) -> str:
    """A log row's payload. Fails (``ValueError``/``TypeError``) on values JSON cannot hold."""
    return json.dumps(list(ops), separators=(",", ":"))


def directions_from_json(text: str) -> list[StudyDirection]:
    return [StudyDirection[name] for name in json.loads(text)]


def directions_to_json(directions: Sequence[StudyDirection]) -> str:
    return json.dumps([d.name for d in directions])


def json_dict(text: str | None) -> Mapping[str, Any]:
    return json.loads(text) if text else {}
