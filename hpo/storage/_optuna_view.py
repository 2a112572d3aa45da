"""Optuna's view of an hpo database: a :class:`~optuna.storages.BaseStorage`.

Samplers, pruners, ``optuna.load_study`` and optuna-dashboard read and write studies through
it, using only Optuna's public storage interface. Two ways to hold one:

- :func:`OptunaStorage.standalone`: every write is its own unit of work (what plain Optuna
  and the dashboard get from :func:`hpo.storage.optuna_storage`).
- :meth:`OptunaStorage.within` a :class:`~hpo.storage._studies.Unit`: writes join that unit
  and reads see it, so a service can make an Optuna call part of its own transaction.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import json
import uuid
from collections.abc import Container, Iterator, Sequence
from typing import Any

from optuna.distributions import BaseDistribution, check_distribution_compatibility
from optuna.exceptions import DuplicatedStudyError, UpdateFinishedTrialError
from optuna.storages import BaseStorage
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from hpo._optuna_adapter import FrozenStudy
from hpo.storage._engine import DuplicateKeyError, create_engine
from hpo.storage._sql import RawSql, Statement
from hpo.storage._studies import StudyGoneError, StudyLog
from hpo.storage._trial_log import (
    attr_op,
    intermediate_op,
    param_op,
    split_trial_id,
    trial_id_of,
    trial_op,
    writable_copy,
)
from hpo.storage._unit import Unit

_STUDY_ATTR_COLUMN = {"ua": "user_attrs", "sa": "system_attrs"}


class OptunaStorage(BaseStorage):
    """An Optuna storage on a :class:`StudyLog`, standalone or within one unit of work."""

    def __init__(self, log: StudyLog, unit: Unit | None = None) -> None:
        self.log = log
        self._unit = unit

    def __getstate__(self) -> dict[str, Any]:
        # Pickled (e.g. to a worker process) as its URL; the copy opens its own engine.
        if self._unit is not None:
            raise TypeError("a storage within a unit of work cannot leave its process")
        return {"url": self.log.sql.url}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.log = StudyLog(RawSql(create_engine(state["url"])))
        self._unit = None

    @classmethod
    def standalone(cls, log: StudyLog) -> OptunaStorage:
        return cls(log)

    def within(self, unit: Unit) -> OptunaStorage:
        """This storage seen from inside ``unit``: writes join it, reads see them."""
        return OptunaStorage(self.log, unit)

    # -- units ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _writing(self, study_id: int) -> Iterator[Unit]:
        if self._unit is not None:
            if self._unit.study_id != study_id:
                raise KeyError(f"study {study_id} is outside this unit of work")
            yield self._unit
        else:
            with self.log.transaction(study_id) as unit:
                yield unit

    def _trials(
        self, study_id: int, states: Container[TrialState] | None = None
    ) -> list[FrozenTrial]:
        """The study's trials (those in ``states`` only: the others are not even built)."""
        if self._unit is not None and self._unit.study_id == study_id:
            return self._unit.draft.trials(states)
        trials = self.log.current(study_id).trials
        return list(trials) if states is None else trials.select(states)

    def _may_hold(self, study_id: int, states: Container[TrialState]) -> bool:
        """False when the unit's draft counts no trial in ``states``. Optuna's ask looks for
        WAITING trials on every call; this spares that call a scan of the whole study."""
        if self._unit is None or self._unit.study_id != study_id:
            return True  # the counts would cost a second catch-up query
        counts = self._unit.draft.counts()
        return any(counts.get(state.name) for state in TrialState if state in states)

    def _trial(self, trial_id: int) -> FrozenTrial:
        study_id, number = split_trial_id(trial_id)
        if self._unit is not None and self._unit.study_id == study_id:
            return self._unit.draft.trial(number)
        trials = self.log.current(study_id).trials
        if number >= len(trials):
            raise KeyError(f"no trial with id {trial_id}")
        return trials[number]

    # -- studies ----------------------------------------------------------------------------

    def create_new_study(
        self, directions: Sequence[StudyDirection], study_name: str | None = None
    ) -> int:
        name = f"no-name-{uuid.uuid4()}" if study_name is None else study_name
        try:
            return self.log.create(name, list(directions))
        except DuplicateKeyError:
            raise DuplicatedStudyError(f"a study named {name!r} exists already") from None

    def delete_study(self, study_id: int) -> None:
        self.log.delete(study_id)

    def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
        self._set_study_attr("ua", study_id, key, value)

    def set_study_system_attr(self, study_id: int, key: str, value: Any) -> None:
        self._set_study_attr("sa", study_id, key, value)

    def _set_study_attr(self, kind: str, study_id: int, key: str, value: Any) -> None:
        with self._writing(study_id) as unit:
            unit.record(attr_op(kind, None, key, value))
            attrs = unit.draft.user_attrs if kind == "ua" else unit.draft.system_attrs
            column = _STUDY_ATTR_COLUMN[kind]
            unit.execute(
                Statement(
                    f"UPDATE hpo_studies SET {column} = ? WHERE study_id = ?",
                    (json.dumps(attrs), study_id),
                )
            )

    def get_study_id_from_name(self, study_name: str) -> int:
        if self._unit is not None and self._unit.draft.model.name == study_name:
            return self._unit.study_id
        row = self.log.find(study_name)
        if row is None:
            raise KeyError(f"no study named {study_name!r}")
        return row.study_id

    def get_study_name_from_id(self, study_id: int) -> str:
        return self._study(study_id).name

    def get_study_directions(self, study_id: int) -> list[StudyDirection]:
        return list(self._study(study_id).directions)

    def get_study_user_attrs(self, study_id: int) -> dict[str, Any]:
        if self._unit is not None and self._unit.study_id == study_id:
            return dict(self._unit.draft.user_attrs)
        return self._study(study_id).user_attrs

    def get_study_system_attrs(self, study_id: int) -> dict[str, Any]:
        if self._unit is not None and self._unit.study_id == study_id:
            return dict(self._unit.draft.system_attrs)
        return self._study(study_id).system_attrs

    def get_all_studies(self) -> list[FrozenStudy]:
        return [
            FrozenStudy(
                study_name=row.name,
                direction=None,
                directions=row.directions,
                user_attrs=row.user_attrs,
                system_attrs=row.system_attrs,
                study_id=row.study_id,
            )
            for row in self.log.rows()
        ]

    def _study(self, study_id: int) -> Any:
        if self._unit is not None and self._unit.study_id == study_id:
            return self._unit.draft.model
        row = self.log.row(study_id)
        if row is None:
            raise StudyGoneError(study_id)
        return row

    # -- trials: writes ---------------------------------------------------------------------

    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        if template_trial is None:
            template_trial = FrozenTrial(
                number=-1,
                state=TrialState.RUNNING,
                value=None,
                values=None,
                datetime_start=datetime.datetime.now(),
                datetime_complete=None,
                params={},
                distributions={},
                user_attrs={},
                system_attrs={},
                intermediate_values={},
                trial_id=-1,
            )
        with self._writing(study_id) as unit:
            for name, distribution in template_trial.distributions.items():
                self._check_compatible(unit, name, distribution)
            number = unit.add_trial(trial_op(template_trial))
        return trial_id_of(study_id, number)

    def set_trial_param(
        self,
        trial_id: int,
        param_name: str,
        param_value_internal: float,
        distribution: BaseDistribution,
    ) -> None:
        study_id, number = split_trial_id(trial_id)
        with self._writing(study_id) as unit:
            self._updatable(unit, number)
            self._check_compatible(unit, param_name, distribution)
            unit.record(param_op(number, param_name, param_value_internal, distribution))

    def set_trial_state_values(
        self, trial_id: int, state: TrialState, values: Sequence[float] | None = None
    ) -> bool:
        study_id, number = split_trial_id(trial_id)
        with self._writing(study_id) as unit:
            trial = self._updatable(unit, number)
            if state == TrialState.RUNNING and trial.state != TrialState.WAITING:
                return False
            unit.set_state(number, state, values)
        return True

    def set_trial_intermediate_value(
        self, trial_id: int, step: int, intermediate_value: float
    ) -> None:
        study_id, number = split_trial_id(trial_id)
        with self._writing(study_id) as unit:
            self._updatable(unit, number)
            unit.record(intermediate_op(number, step, intermediate_value))

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        self._set_trial_attr("ua", trial_id, key, value)

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        self._set_trial_attr("sa", trial_id, key, value)

    def _set_trial_attr(self, kind: str, trial_id: int, key: str, value: Any) -> None:
        study_id, number = split_trial_id(trial_id)
        with self._writing(study_id) as unit:
            self._updatable(unit, number)
            unit.record(attr_op(kind, number, key, value))

    @staticmethod
    def _updatable(unit: Unit, number: int) -> FrozenTrial:
        try:
            trial = unit.draft.trial(number)
        except KeyError:
            raise KeyError(f"no trial {number} in study {unit.study_id}") from None
        if trial.state.is_finished():
            raise UpdateFinishedTrialError(
                f"trial {number} is {trial.state.name} and cannot be updated"
            )
        return trial

    @staticmethod
    def _check_compatible(unit: Unit, name: str, distribution: BaseDistribution) -> None:
        """As Optuna's storages: a parameter keeps a compatible distribution study-wide."""
        known = unit.draft.distribution_of(name)
        if known is not None:
            check_distribution_compatibility(known, distribution)

    # -- trials: reads ----------------------------------------------------------------------

    def get_trial_id_from_study_id_trial_number(self, study_id: int, trial_number: int) -> int:
        n_trials = (
            self._unit.draft.n_trials
            if self._unit is not None and self._unit.study_id == study_id
            else len(self.log.current(study_id).trials)
        )
        if not 0 <= trial_number < n_trials:
            raise KeyError(f"study {study_id} has no trial {trial_number}")
        return trial_id_of(study_id, trial_number)

    def get_trial_number_from_id(self, trial_id: int) -> int:
        return self._trial(trial_id).number

    def get_trial(self, trial_id: int) -> FrozenTrial:
        # A copy, as Optuna's own storages hand out: Optuna's Trial changes the one it gets
        # (its cache of suggested values), which must never reach the study's model.
        return writable_copy(self._trial(trial_id))

    def get_all_trials(
        self,
        study_id: int,
        deepcopy: bool = True,
        states: Container[TrialState] | None = None,
    ) -> list[FrozenTrial]:
        if states is not None and not self._may_hold(study_id, states):
            return []
        trials = self._trials(study_id, states)
        return copy.deepcopy(trials) if deepcopy else trials
