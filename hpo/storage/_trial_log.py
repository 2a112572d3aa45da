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
import json
from collections.abc import Collection, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from optuna.distributions import BaseDistribution, distribution_to_json
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from hpo.storage._snapshot import decode_snapshot, encode_snapshot
from hpo.storage._trial_list import (
    _NUMBER_BITS,
    MAX_TRIALS_PER_STUDY,
    TrialList,
    trial_id_of,
)
from hpo.storage._trial_list import distribution_of_json as _distribution
from hpo.storage._trial_list import moment as _moment
from hpo.storage._trial_list import timestamp as _timestamp

Op = dict[str, Any]


def split_trial_id(trial_id: int) -> tuple[int, int]:
    """(study id, trial number) of a trial id."""
    return trial_id >> _NUMBER_BITS, trial_id & (MAX_TRIALS_PER_STUDY - 1)


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
        params={name: distributions[name].to_external_repr(x) for name, (x, _) in op["p"].items()},
        distributions=distributions,
        user_attrs=op["ua"],
        system_attrs=op["sa"],
        intermediate_values={int(step): value for step, value in op["iv"]},
        trial_id=trial_id_of(study_id, op["n"]),
    )


def writable_copy(trial: FrozenTrial) -> FrozenTrial:
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
    trials: TrialList = field(default_factory=TrialList)
    seq: int = -1
    deleted: bool = False
    #: Set when changes installed in it were not committed after all (a failed group
    #: commit): it must not be built on again; the study is loaded anew.
    lost: bool = False
    #: Trials by state name, kept up to date as changes are installed.
    counts: dict[str, int] = field(default_factory=dict)
    #: The distribution each parameter name has in this study (they must stay compatible).
    param_distributions: dict[str, BaseDistribution] = field(default_factory=dict)
    #: Numbers of the COMPLETE trials, in the order this model learned of them. Only ever
    #: appended to (a finished trial never changes), so a reader may remember how far it
    #: read; a reloaded study is a new model with a new list.
    completed: list[int] = field(default_factory=list)

    def apply_rows(self, rows: Iterable[tuple[int, str]]) -> None:
        """Apply log rows ``(seq, payload)`` in order; rows already applied are skipped."""
        draft = Draft(self)
        last = self.seq
        for seq, payload in rows:
            if seq <= last:
                continue
            if seq != last + 1:
                if DELETED_OP in json.loads(payload):  # deleting removed the rows in between
                    self.deleted = True
                    return
                raise ValueError(f"study {self.study_id}: log row {seq} follows {last}")
            for op in json.loads(payload):
                draft.apply(op)
            last = seq
        draft.install(last)

    def __post_init__(self) -> None:
        if not isinstance(self.trials, TrialList):
            self.trials = TrialList(added=self.trials)

    def snapshot(self) -> bytes:
        """The trials (and study attributes) as of ``seq``, compressed (see
        :mod:`hpo.storage._snapshot`); the snapshot's trials nobody read stay unbuilt."""
        return encode_snapshot(self.seq, self.user_attrs, self.system_attrs, self.trials.raw())

    def restore(self, snapshot: bytes) -> None:
        """Become the study of ``snapshot``; its trials are built when first read."""
        body = decode_snapshot(snapshot, self.study_id)
        self.user_attrs = body.user_attrs
        self.system_attrs = body.system_attrs
        self.trials = TrialList(body.trials)
        self.seq = body.seq
        self.completed = list(body.trials.numbers_in(TrialState.COMPLETE))
        self.counts = {}
        for state in TrialState:
            count = len(body.trials.numbers_in(state))
            if count:
                self.counts[state.name] = count
        for layout in body.trials.layouts:  # in the order of the trials that first had each
            for name, distribution in layout:
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

    def trials(self, states: Container[TrialState] | None = None) -> list[FrozenTrial]:
        """The trials (those in ``states`` only, when given: the others stay unbuilt)."""
        if states is not None:
            chosen = self.model.trials.select(states, self._changed)
            return chosen + [t for t in self._new if t.state in states]
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

    def completing(self) -> list[int]:
        """Numbers of the trials this draft makes COMPLETE (not yet in the model's
        ``completed``)."""
        committed = self.model.trials
        changed = [
            n
            for n, trial in self._changed.items()
            if trial.state == TrialState.COMPLETE and committed[n].state != TrialState.COMPLETE
        ]
        return sorted(changed) + [t.number for t in self._new if t.state == TrialState.COMPLETE]

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

    def drop_params(self, number: int, names: Collection[str]) -> None:
        """Take the parameters ``names`` of trial ``number`` back out of this draft (their
        operations too); every other change stays."""
        names = set(names)
        if not names:
            return
        self.ops = [
            op
            for op in self.ops
            if not (op["o"] == "param" and op["n"] == number and op["k"] in names)
        ]
        trial = self._writable(number)
        trial.params = {k: v for k, v in trial.params.items() if k not in names}
        trial.distributions = {k: v for k, v in trial.distributions.items() if k not in names}

    def install(self, seq: int) -> None:
        """Make the changes part of the model, as of log row ``seq``."""
        model = self.model
        model.counts = self.counts()
        for trial in (*self._changed.values(), *self._new):
            for name, distribution in trial.distributions.items():
                model.param_distributions.setdefault(name, distribution)
        completing = self.completing()
        if self._changed or self._new:
            # One assignment: readers see the old or the new list.
            model.trials = model.trials.with_changes(self._changed, self._new)
        model.completed.extend(completing)  # after the trials they name
        if self._user_attrs is not None:
            model.user_attrs = self._user_attrs
        if self._system_attrs is not None:
            model.system_attrs = self._system_attrs
        model.seq = seq

    def _writable(self, number: int) -> FrozenTrial:
        """A fresh copy of the trial that replaces it in this draft. Every change copies, as
        Optuna's own storages do: a list of trials read earlier keeps the values it had."""
        trial = writable_copy(self.trial(number))
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
    return {
        "o": "param",
        "n": number,
        "k": name,
        "x": internal,
        "d": distribution_to_json(distribution),
    }


def state_op(number: int, state: TrialState, values: Sequence[float] | None, ts: float) -> Op:
    return {
        "o": "state",
        "n": number,
        "s": state.value,
        "v": None if values is None else list(values),
        "t": ts,
    }


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
