"""A study's trials as an immutable sequence, with those of a snapshot built only when read.

Loading a big study is mostly building :class:`~optuna.trial.FrozenTrial` objects, and most
calls read a handful of trials (the one asked, told or reported). So a snapshot is decoded
into columns (:class:`TrialColumns`) and a trial is built from them the first time somebody
reads it, then kept. :class:`TrialList` is the model's list of trials: the snapshot's columns,
the trials changed since, and the trials added since; every change makes a new list (the old
one stays as it was for the readers holding it).
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable, Container, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from optuna.distributions import BaseDistribution, FloatDistribution, json_to_distribution
from optuna.trial import FrozenTrial, TrialState

# Trial ids are unique across studies without a sequence shared by all studies: the study id
# in the high bits, the trial number in the low 32.
_NUMBER_BITS = 32
MAX_TRIALS_PER_STUDY = 2**_NUMBER_BITS


def trial_id_of(study_id: int, number: int) -> int:
    return (study_id << _NUMBER_BITS) | number


@functools.lru_cache(maxsize=4096)
def distribution_of_json(text: str) -> BaseDistribution:
    # Trials of one study share a handful of distributions: parse each text once.
    return json_to_distribution(text)


def moment(ts: float | None) -> datetime.datetime | None:
    return None if ts is None else datetime.datetime.fromtimestamp(ts)


def timestamp(at: datetime.datetime | None) -> float | None:
    return None if at is None else at.timestamp()


#: One trial as stored: state value, values, start and complete timestamps, parameters as
#: (name, distribution, internal value), intermediate values as (step, value), user and
#: system attributes.
RawTrial = tuple[
    int,
    "list[float] | None",
    "float | None",
    "float | None",
    "list[tuple[str, BaseDistribution, float]]",
    "list[tuple[int, float]]",
    "dict[str, Any]",
    "dict[str, Any]",
]


def raw_of(trial: FrozenTrial) -> RawTrial:
    return (
        trial.state.value,
        trial.values,
        timestamp(trial.datetime_start),
        timestamp(trial.datetime_complete),
        [
            (name, dist, dist.to_internal_repr(trial.params[name]))
            for name, dist in trial.distributions.items()
        ],
        list(trial.intermediate_values.items()),
        trial.user_attrs,
        trial.system_attrs,
    )


_STATES = {state.value: state for state in TrialState}
# A parameter set ready to build trials: names, distributions by name, and each value's
# external form (None: every value is its own, as a float distribution's are).
_Layout = tuple[tuple[str, ...], dict[str, BaseDistribution], "list[Callable[[float], Any]] | None"]


@dataclass
class TrialColumns:
    """Trials ``0..n-1`` of a study, column by column, as a snapshot holds them.

    ``layouts`` are the distinct parameter sets ((name, distribution) in order); trial ``i``
    has layout ``layout_of[i]`` and its internal values at ``param_values[param_at[i]:]``.
    Its intermediate values are ``steps``/``step_values`` from ``iv_at[i]`` to ``iv_at[i+1]``.
    """

    study_id: int
    states: list[int]
    values: list[list[float] | None]
    starts: list[float | None]
    completes: list[float | None]
    layouts: list[list[tuple[str, BaseDistribution]]]
    layout_of: list[int]
    param_at: list[int]
    param_values: list[float]
    iv_at: list[int]
    steps: list[int]
    step_values: list[float]
    user_attrs: Mapping[int, dict[str, Any]] = field(default_factory=dict)
    system_attrs: Mapping[int, dict[str, Any]] = field(default_factory=dict)
    _built: list[FrozenTrial | None] = field(init=False, repr=False)
    _by_state: dict[int, list[int]] = field(init=False, repr=False)
    _layouts: dict[int, _Layout] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._built = [None] * len(self.states)
        self._by_state = {}
        self._layouts = {}
        for number, state in enumerate(self.states):
            self._by_state.setdefault(state, []).append(number)

    def __len__(self) -> int:
        return len(self.states)

    def numbers_in(self, state: TrialState) -> list[int]:
        return self._by_state.get(state.value, [])

    def trial(self, i: int) -> FrozenTrial:
        """Trial ``i``, built on first read (two threads may both build it: equal trials)."""
        trial = self._built[i]
        if trial is None:
            trial = self._built[i] = self._build(i)
        return trial

    def intermediate_values(self, i: int) -> list[tuple[int, float]]:
        """Trial ``i``'s (step, value) pairs, read from the columns (the trial is not built)."""
        iv_from, iv_to = self.iv_at[i], self.iv_at[i + 1]
        return list(zip(self.steps[iv_from:iv_to], self.step_values[iv_from:iv_to], strict=True))

    def raw(self, i: int) -> RawTrial:
        at = self.param_at[i]
        layout = self.layouts[self.layout_of[i]]
        iv_from, iv_to = self.iv_at[i], self.iv_at[i + 1]
        return (
            self.states[i],
            self.values[i],
            self.starts[i],
            self.completes[i],
            [(name, dist, self.param_values[at + k]) for k, (name, dist) in enumerate(layout)],
            list(zip(self.steps[iv_from:iv_to], self.step_values[iv_from:iv_to], strict=True)),
            self.user_attrs.get(i, {}),
            self.system_attrs.get(i, {}),
        )

    def _build(self, i: int) -> FrozenTrial:
        at = self.param_at[i]
        names, distributions, externals = self._layout(self.layout_of[i])
        internals = self.param_values[at : at + len(names)]
        if externals is None:  # float parameters: the internal value is the value
            params = dict(zip(names, internals, strict=True))
        else:
            params = {n: ext(x) for n, ext, x in zip(names, externals, internals, strict=True)}
        iv_from, iv_to = self.iv_at[i], self.iv_at[i + 1]
        user_attrs = self.user_attrs.get(i)
        system_attrs = self.system_attrs.get(i)
        return FrozenTrial(
            number=i,
            state=_STATES[self.states[i]],
            value=None,
            values=self.values[i],
            datetime_start=moment(self.starts[i]),
            datetime_complete=moment(self.completes[i]),
            params=params,
            distributions=dict(distributions),
            user_attrs={} if user_attrs is None else dict(user_attrs),
            system_attrs={} if system_attrs is None else dict(system_attrs),
            intermediate_values=dict(
                zip(self.steps[iv_from:iv_to], self.step_values[iv_from:iv_to], strict=True)
            ),
            trial_id=trial_id_of(self.study_id, i),
        )

    def _layout(self, index: int) -> _Layout:
        layout = self._layouts.get(index)
        if layout is None:
            pairs = self.layouts[index]
            externals: list[Callable[[float], Any]] | None = None
            if any(type(dist) is not FloatDistribution for _, dist in pairs):
                externals = [dist.to_external_repr for _, dist in pairs]
            layout = (tuple(name for name, _ in pairs), dict(pairs), externals)
            self._layouts[index] = layout
        return layout


class TrialList(Sequence[FrozenTrial]):
    """A study's trials by number, never changed in place (:meth:`with_changes` makes a new
    list): a snapshot's trials (``base``), those of them changed since, those added since."""

    __slots__ = ("_added", "_base", "_changed")

    def __init__(
        self,
        base: TrialColumns | None = None,
        changed: dict[int, FrozenTrial] | None = None,
        added: Sequence[FrozenTrial] = (),
    ) -> None:
        self._base = base
        self._changed = changed or {}
        self._added = list(added)

    def with_changes(
        self, changed: Mapping[int, FrozenTrial], added: Sequence[FrozenTrial]
    ) -> TrialList:
        """A new list: trials ``changed`` by number, ``added`` after the last one."""
        n_base = self._n_base
        mine = dict(self._changed)
        more = list(self._added)
        for number, trial in changed.items():
            if number < n_base:
                mine[number] = trial
            else:
                more[number - n_base] = trial
        more.extend(added)
        return TrialList(self._base, mine, more)

    @property
    def _n_base(self) -> int:
        return 0 if self._base is None else len(self._base)

    def __len__(self) -> int:
        return self._n_base + len(self._added)

    @overload
    def __getitem__(self, index: int) -> FrozenTrial: ...

    @overload
    def __getitem__(self, index: slice) -> list[FrozenTrial]: ...

    def __getitem__(self, index: int | slice) -> FrozenTrial | list[FrozenTrial]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        n_base = self._n_base
        if index >= n_base:
            if index - n_base >= len(self._added):
                raise IndexError(index)
            return self._added[index - n_base]
        if index < 0:
            raise IndexError(index)
        trial = self._changed.get(index)
        if trial is None:
            assert self._base is not None
            return self._base.trial(index)
        return trial

    def intermediate_values(self, number: int) -> list[tuple[int, float]]:
        """Trial ``number``'s (step, value) pairs; a snapshot's trial nobody read stays unbuilt."""
        base = self._base
        if base is not None and number < len(base) and number not in self._changed:
            return base.intermediate_values(number)
        return list(self[number].intermediate_values.items())

    def __iter__(self) -> Iterator[FrozenTrial]:
        if self._base is None:
            return iter(self._added)
        return self._each()

    def _each(self) -> Iterator[FrozenTrial]:
        assert self._base is not None
        changed, base = self._changed, self._base
        for i in range(len(base)):
            yield changed.get(i) or base.trial(i)
        yield from self._added

    def raw(self) -> Iterator[RawTrial]:
        """Every trial as stored, without building the snapshot's unread trials."""
        if self._base is not None:
            for i in range(len(self._base)):
                trial = self._changed.get(i)
                yield self._base.raw(i) if trial is None else raw_of(trial)
        for trial in self._added:
            yield raw_of(trial)

    def select(
        self, states: Container[TrialState], replaced: Mapping[int, FrozenTrial] | None = None
    ) -> list[FrozenTrial]:
        """The trials in ``states``, by number, building only those; ``replaced`` trials
        (by number) stand in for this list's own."""
        replaced = replaced or {}
        wanted = [state for state in TrialState if state in states]
        n_base = self._n_base
        numbers: list[int] = []
        if self._base is not None:
            for state in wanted:
                numbers.extend(
                    n
                    for n in self._base.numbers_in(state)
                    if n not in self._changed and n not in replaced
                )
        numbers.extend(
            n for n, t in self._changed.items() if t.state in states and n not in replaced
        )
        numbers.extend(n for n, t in replaced.items() if n < n_base and t.state in states)
        numbers.sort()
        chosen = [replaced.get(n) or self[n] for n in numbers]
        added = self._added
        if any(n >= n_base for n in replaced):
            added = list(added)
            for n, trial in replaced.items():
                if n >= n_base:
                    added[n - n_base] = trial
        chosen.extend(trial for trial in added if trial.state in states)
        return chosen
