"""Handing out trials and recording how they ended: Ask, Tell, and both in one unit of work
(the :class:`StudyService` mixin for a client's trial loop)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import FrozenTrial, TrialState

from hpo._optuna_adapter import trial_id
from hpo.errors import TrialFinishedError
from hpo.service import _limits as limits
from hpo.service._proposals import ParamChoice, propose, record_used
from hpo.service._rules import request_digest, validate_tell
from hpo.service._runtime import StudyRuntime, fresh_study
from hpo.service._views import FAIL_REASON_ATTR, AskOutcome, TrialView
from hpo.storage._engine import DuplicateKeyError
from hpo.storage._sql import ConditionFailedError
from hpo.storage._trial_log import state_op

if TYPE_CHECKING:
    from hpo.storage import Storage
    from hpo.storage._unit import Unit


@dataclass(frozen=True)
class TellPayload:
    """How a client says trial ``number`` ended (the fields of a Tell)."""

    number: int
    state: TrialState
    values: Sequence[float] = ()
    request_id: str = ""
    fail_reason: str = ""
    #: Proposals from Ask the trial used, recorded before the rest of the Tell.
    used: Sequence[ParamChoice] = ()


@dataclass(frozen=True)
class _Telling:
    """A Tell checked against its study: its values validated, its request's digest."""

    payload: TellPayload
    values: list[float]
    digest: str


class TrialLoop:
    """Ask, Tell and TellAndAsk (a mixin of :class:`StudyService`: it uses the service's
    ``_runtime``, ``_turn``, ``_unit``, ``_current``, lease and request-ledger methods)."""

    # Provided by StudyService (declared here for readers and type checkers).
    _storage: Storage
    _runtime: Callable[..., StudyRuntime]
    _turn: Callable[[StudyRuntime], contextlib.AbstractContextManager[None]]
    _unit: Callable[[StudyRuntime], contextlib.AbstractContextManager[Unit]]
    _current: Callable[[StudyRuntime], Any]
    _held_trial: Callable[[Unit, str], FrozenTrial | None]
    expire_study_leases: Callable[..., list[int]]
    _replayed: Callable[..., bool]
    _record_request: Callable[[Unit, str, str, str], None]
    _conflicting_request: Callable[[StudyRuntime, str, str], None]

    # -- Ask -------------------------------------------------------------------------------

    @fresh_study
    def ask(
        self,
        study: str,
        client_id: str = "",
        search_space: Mapping[str, BaseDistribution] | None = None,
        lineage: str = "",
    ) -> AskOutcome:
        """A trial for ``client_id`` (the one it holds, if it holds one), or budget spent.
        ``search_space`` replaces the study's declared one; ``lineage`` (Lineage JSON) is
        recorded with a new trial."""
        limits.check_id("client_id", client_id)
        outcome = self._ask(study, client_id, search_space, lineage)
        return self._ask_again_if_spent(study, outcome, client_id, search_space, lineage)

    def _ask_again_if_spent(
        self,
        study: str,
        outcome: AskOutcome,
        client_id: str,
        search_space: Mapping[str, BaseDistribution] | None,
        lineage: str,
    ) -> AskOutcome:
        # Trials whose leases ran out hold budget until the reaper's next round: a client
        # that would be told "spent" fails them first (a killed sweep's rerun needs them).
        if outcome.budget_spent and self.expire_study_leases(study):
            return self._ask(study, client_id, search_space, lineage)
        return outcome

    def _ask(
        self,
        study: str,
        client_id: str,
        search_space: Mapping[str, BaseDistribution] | None,
        lineage: str,
    ) -> AskOutcome:
        runtime = self._runtime(study)
        with self._turn(runtime):
            try:
                with self._unit(runtime) as unit:
                    outcome, trial = self._ask_in(runtime, unit, client_id, search_space, lineage)
            except ConditionFailedError:
                return _spent(runtime)
            if trial is not None:
                runtime.running[trial.number] = trial
        return outcome

    def _ask_in(
        self,
        runtime: StudyRuntime,
        unit: Unit,
        client_id: str,
        search_space: Mapping[str, BaseDistribution] | None,
        lineage: str,
    ) -> tuple[AskOutcome, optuna.Trial | None]:
        """Ask within ``unit``: the answer, and the new trial's Optuna object (kept while it
        runs). Raises ConditionFailedError when it would take budget that is spent."""
        space = runtime.config.search_space if search_space is None else search_space
        heartbeat = runtime.config.heartbeat_seconds
        runtime.check_space(unit.draft.model, space)  # as of the unit's catch-up
        if client_id:
            held = self._held_trial(unit, client_id)
            if held is not None:
                return AskOutcome(TrialView(runtime.name, held, client_id), False, heartbeat), None
        optuna_study = runtime.study(self._storage.optuna.within(unit))
        if runtime.sampler_exhausted(optuna_study) and not _waiting(unit):
            return _spent(runtime), None
        budget = runtime.config.trial_budget
        if budget:  # a trial that starts takes a unit of the budget
            unit.execute(self._storage.budgets.take_statement(runtime.study_id, budget))
        trial = optuna_study.ask(dict(space))
        if client_id:  # without one, the lease runs until a Heartbeat renews it
            unit.defer(
                self._storage.leases.grant_statement(runtime.study_id, trial_id(trial), client_id)
            )
        if lineage:  # the caller's code version and environment, as Lineage JSON
            unit.defer(
                self._storage.lineage.lineage_statement(runtime.study_id, trial_id(trial), lineage)
            )
        proposals = propose(runtime, unit, optuna_study, trial)
        frozen = unit.draft.trial(trial.number)
        view = TrialView(runtime.name, frozen, client_id)
        return AskOutcome(view, False, heartbeat, proposals), trial

    # -- Tell ------------------------------------------------------------------------------

    @fresh_study
    def tell(
        self,
        study: str,
        number: int,
        state: TrialState,
        values: Sequence[float] = (),
        request_id: str = "",
        fail_reason: str = "",
        study_id: int = 0,
        used: Sequence[ParamChoice] = (),
    ) -> TrialView:
        """Finish running trial ``number``; a retry with the same ``request_id`` has one
        effect (its answer is the trial as that first call left it)."""
        runtime = self._runtime(study, study_id)
        payload = TellPayload(number, state, values, request_id, fail_reason, used)
        return self._tell(runtime, _checked(runtime, payload))

    def _tell(self, runtime: StudyRuntime, telling: _Telling) -> TrialView:
        with self._turn(runtime):
            try:
                with self._unit(runtime) as unit:
                    return self._tell_in(runtime, unit, telling)
            except DuplicateKeyError:
                return self._told_by_a_twin(runtime, telling)
            finally:
                runtime.running.pop(telling.payload.number, None)

    def _tell_in(self, runtime: StudyRuntime, unit: Unit, telling: _Telling) -> TrialView:
        payload = telling.payload
        frozen = runtime.frozen(unit.draft, payload.number)
        # A finished trial may be this very request, retried: the ledger knows.
        if frozen.state.is_finished() and payload.request_id:
            if self._replayed(runtime, payload.request_id, telling.digest, unit):
                return TrialView(runtime.name, frozen)
        frozen = runtime.require_running(unit.draft, payload.number)
        view = self._storage.optuna.within(unit)
        frozen = record_used(unit, view, frozen, payload.used)
        self._record_request(unit, payload.request_id, "tell", telling.digest)
        self._finish(runtime, unit, frozen, payload.state, telling.values, payload.fail_reason)
        return TrialView(runtime.name, unit.draft.trial(payload.number))

    def _told_by_a_twin(self, runtime: StudyRuntime, telling: _Telling) -> TrialView:
        """The Tell's request id was taken at its commit (nothing of it was written): by a
        concurrent retry of it, whose effect stands, or by another request (refused)."""
        self._conflicting_request(runtime, telling.payload.request_id, telling.digest)
        return TrialView(
            runtime.name, runtime.frozen(self._current(runtime), telling.payload.number)
        )

    def _finish(
        self,
        runtime: StudyRuntime,
        unit: Unit,
        frozen: FrozenTrial,
        state: TrialState,
        values: list[float],
        fail_reason: str,
    ) -> None:
        """Finish a running trial within ``unit``: its lease ends with it (the storage's
        rule), and a failed trial gives its unit of the budget back."""
        view = self._storage.optuna.within(unit)
        if state == TrialState.FAIL:
            if runtime.config.trial_budget:
                unit.defer(self._storage.budgets.give_back_statement(runtime.study_id))
            if fail_reason:
                view.set_trial_system_attr(
                    trial_id(frozen), FAIL_REASON_ATTR, fail_reason[: limits.MAX_FAIL_REASON]
                )
        # Optuna's tell takes no values with PRUNED (it uses the last reported one); the
        # contract lets a client give its own, so they replace Optuna's in the same unit.
        given = values if state == TrialState.PRUNED else []
        try:
            runtime.study(view).tell(frozen.number, None if given else (values or None), state)
            if given:
                unit.record(state_op(frozen.number, state, given, unit.now))
        except UpdateFinishedTrialError:
            raise TrialFinishedError(
                f"trial_number: trial {frozen.number} of study {runtime.name!r} is already finished"
            ) from None

    # -- both ------------------------------------------------------------------------------

    @fresh_study
    def tell_and_ask(
        self,
        study: str,
        payload: TellPayload,
        client_id: str,
        search_space: Mapping[str, BaseDistribution] | None = None,
        lineage: str = "",
        study_id: int = 0,
    ) -> tuple[TrialView, AskOutcome]:
        """:meth:`tell`, then :meth:`ask` for ``client_id``, in one unit of work: one commit,
        and an error in either part writes nothing. When the Ask finds the budget spent, or
        the Tell's request id is taken at the commit, nothing was written and each part runs
        again alone (the Tell then the Ask, with their own rules)."""
        limits.check_id("client_id", client_id)
        runtime = self._runtime(study, study_id)
        telling = _checked(runtime, payload)
        with self._turn(runtime):
            try:
                with self._unit(runtime) as unit:
                    told = self._tell_in(runtime, unit, telling)
                    outcome, trial = self._ask_in(runtime, unit, client_id, search_space, lineage)
            except (ConditionFailedError, DuplicateKeyError):
                outcome = None
            finally:
                runtime.running.pop(payload.number, None)
            if outcome is not None and trial is not None:
                runtime.running[trial.number] = trial
        if outcome is None:  # nothing was written: each part alone
            told = self._tell(runtime, telling)
            outcome = self._ask(study, client_id, search_space, lineage)
        return told, self._ask_again_if_spent(study, outcome, client_id, search_space, lineage)


def _checked(runtime: StudyRuntime, payload: TellPayload) -> _Telling:
    limits.check_id("request_id", payload.request_id)
    values = validate_tell(payload.state, list(payload.values), runtime.n_objectives)
    digest = request_digest("tell", payload.number, payload.state.name, values, payload.fail_reason)
    return _Telling(payload, values, digest)


def _spent(runtime: StudyRuntime) -> AskOutcome:
    return AskOutcome(None, True, runtime.config.heartbeat_seconds)


def _waiting(unit: Unit) -> bool:
    return unit.draft.counts().get("WAITING", 0) > 0
