"""The study service: every rule of the coordinator (budgets, leases, idempotency, state
changes), with Optuna as the algorithm library. It knows nothing of gRPC."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import math
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from optuna.distributions import BaseDistribution
from optuna.exceptions import DuplicatedStudyError, UpdateFinishedTrialError
from optuna.storages.journal._storage import JournalOperation
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from hpo.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    PermissionDeniedError,
    ResourceExhaustedError,
    StudyNotFoundError,
    TrialFinishedError,
)
from hpo.service import _limits as limits
from hpo.service._access import current_caller, require_access
from hpo.service._algorithms import check_sampler_param
from hpo.service._config import CONFIG_ATTR, StudyConfig, validate_study_name
from hpo.service._leases import LeaseExpiry
from hpo.service._rules import (
    contains,
    request_digest,
    suggest_param,
    validate_tell,
)
from hpo.service._runtime import StudyRuntime
from hpo.service._views import (
    FAIL_REASON_ATTR,
    AskOutcome,
    StudyView,
    TrialPage,
    TrialRef,
    TrialView,
)
from hpo.storage import ConditionFailedError, DuplicateKeyError, Statement, Storage

_logger = logging.getLogger(__name__)

SET_STATE = JournalOperation.SET_TRIAL_STATE_VALUES
SET_INTERMEDIATE = JournalOperation.SET_TRIAL_INTERMEDIATE_VALUE
CREATE_TRIAL = JournalOperation.CREATE_TRIAL


_F = TypeVar("_F", bound=Callable[..., Any])


def _one_sync(method: _F) -> _F:
    """Serve the call's reads from one sync of the journal (see SnapshotJournalStorage)."""

    @functools.wraps(method)
    def wrapper(self: StudyService, *args: Any, **kwargs: Any) -> Any:
        with self._storage.optuna.consistent_reads():
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


class StudyService(LeaseExpiry):
    """Creates and loads studies, hands out trials, records results.

    Thread-safe: the coordinator calls it from many gRPC threads at once. Calls on one
    study that touch its sampler or a trial's state are serialized by the study's lock.
    """

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._runtimes: dict[str, StudyRuntime] = {}
        self._runtimes_lock = threading.Lock()
        self._create_lock = threading.Lock()

    @property
    def storage(self) -> Storage:
        return self._storage

    # -- studies ---------------------------------------------------------------------------

    @_one_sync
    def create_study(
        self,
        name: str,
        directions: Sequence[StudyDirection],
        config: StudyConfig,
        load_if_exists: bool = False,
    ) -> StudyView:
        validate_study_name(name)
        caller = current_caller()
        if caller is not None:
            config = dataclasses.replace(config, owner=caller.name)
        if not directions:
            raise InvalidArgumentError.for_field("directions", "at least one direction is required")
        with self._create_lock:
            # Look first: the journal would record (and then ignore) a duplicate creation.
            study_id = self._study_id_or_none(name)
            if study_id is None:
                try:
                    study_id = self._storage.optuna.create_new_study(list(directions), name)
                except DuplicatedStudyError:  # another coordinator created it meanwhile
                    study_id = self._storage.optuna.get_study_id_from_name(name)
                else:
                    load_if_exists = True
            if not load_if_exists:
                raise AlreadyExistsError(f"name: study {name!r} already exists")
            if CONFIG_ATTR in self._storage.optuna.get_study_system_attrs(study_id):
                return self.get_study(name)
            # Also completes a creation that died between these two writes.
            self._storage.optuna.set_study_system_attr(study_id, CONFIG_ATTR, config.to_json())
        return self.get_study(name)

    @_one_sync
    def get_study(self, name: str) -> StudyView:
        runtime = self._runtime(name)
        trials = self._storage.optuna.get_all_trials(runtime.study_id, deepcopy=False)
        return StudyView(
            name=name,
            directions=runtime.study.directions,
            config=runtime.config,
            trial_counts=dict(Counter(t.state.name for t in trials)),
        )

    @_one_sync
    def list_studies(self) -> list[StudyView]:
        names = sorted(s.study_name for s in self._storage.optuna.get_all_studies())
        views = []
        for name in names:
            try:
                views.append(self.get_study(name))
            except (StudyNotFoundError, PermissionDeniedError):  # deleted meanwhile; not ours
                continue
        return views

    @_one_sync
    def delete_study(self, name: str) -> None:
        runtime = self._runtime(name)
        with runtime.lock:
            self._storage.optuna.delete_study(runtime.study_id)
            self._storage.leases.delete_study(runtime.study_id)
            self._storage.requests.delete_study(runtime.study_id)
            self._storage.budgets.delete_study(runtime.study_id)
            self._storage.lineage.delete_study(runtime.study_id)
        with self._runtimes_lock:
            self._runtimes.pop(name, None)

    # -- the trial loop --------------------------------------------------------------------

    @_one_sync
    def ask(
        self,
        study: str,
        client_id: str = "",
        search_space: Mapping[str, BaseDistribution] | None = None,
        lineage: str = "",
    ) -> AskOutcome:
        runtime = self._runtime(study)
        space = runtime.config.search_space if search_space is None else search_space
        for name, distribution in space.items():
            runtime.check_compatible(f"search_space.{name}", name, distribution)
            check_sampler_param(runtime.config.sampler, f"search_space.{name}", name)
        heartbeat = runtime.config.heartbeat_seconds
        with runtime.lock:
            if client_id:
                held = self._held_trial(runtime, client_id)
                if held is not None:
                    return AskOutcome(TrialView(study, held, client_id), False, heartbeat)
            if runtime.sampler_exhausted and not self._waiting(runtime):
                return AskOutcome(None, True, heartbeat)
            take = self._budget_take(runtime)
            try:
                # A new trial takes a unit of the budget in the transaction that creates it.
                with self._storage.optuna.backend.attach(
                    take, CREATE_TRIAL, study_id=runtime.study_id
                ):
                    trial = runtime.study.ask(dict(space))
            except ConditionFailedError:
                return AskOutcome(None, True, heartbeat)
            trial_id = trial._trial_id
            if client_id:  # without one, the lease runs from the trial's start until a Heartbeat
                self._storage.leases.grant(runtime.study_id, trial_id, client_id)
            if lineage:  # the caller's code version and environment, as Lineage JSON
                self._storage.lineage.record_lineage(runtime.study_id, trial_id, lineage)
            runtime.running[trial_id] = trial
            runtime.known_distributions.update(space)
            frozen = self._storage.optuna.get_trial(trial_id)
        return AskOutcome(TrialView(study, frozen, client_id), False, heartbeat)

    @_one_sync
    def suggest(self, study: str, number: int, name: str, distribution: BaseDistribution) -> Any:
        if not name:
            raise InvalidArgumentError.for_field("name", "must be non-empty")
        runtime = self._runtime(study)
        with runtime.lock:
            frozen = runtime.running_trial(number)
            if name in frozen.distributions:
                if frozen.distributions[name] != distribution:
                    raise InvalidArgumentError.for_field(
                        "distribution",
                        f"trial {number} already has {name!r} from {frozen.distributions[name]}",
                    )
                return frozen.params[name]
            if len(frozen.distributions) >= limits.MAX_PARAMS_PER_TRIAL:
                raise ResourceExhaustedError(
                    f"name: trial {number} has {limits.MAX_PARAMS_PER_TRIAL} parameters, the most allowed"
                )
            runtime.check_compatible("distribution", name, distribution)
            check_sampler_param(runtime.config.sampler, "name", name)
            limits.check_trial_growth("name", frozen, limits.param_bytes(name, distribution))
            trial = runtime.optuna_trial(frozen._trial_id)
            # Let the sampler see the study as of now, as in-process Optuna does after ask().
            runtime.study._thread_local.cached_all_trials = None
            value = suggest_param(trial, name, distribution)
            runtime.known_distributions.setdefault(name, distribution)
        return value

    @_one_sync
    def report(
        self, study: str, number: int, step: int, value: float, request_id: str = ""
    ) -> bool:
        if step < 0:
            raise InvalidArgumentError.for_field("step", "must be >= 0")
        if math.isnan(value):
            raise InvalidArgumentError.for_field("value", "must not be NaN")
        runtime = self._runtime(study)
        if runtime.n_objectives > 1:
            raise FailedPreconditionError(
                f"study: {study!r} has several directions; Optuna's pruners and Report support one"
            )
        digest = request_digest("report", number, step, value)
        frozen = runtime.frozen(number)
        if request_id and (frozen.state.is_finished() or step in frozen.intermediate_values):
            if self._replayed(runtime, request_id, digest):
                return self._should_prune(runtime, number)
        frozen = runtime.running_trial(number)
        if step not in frozen.intermediate_values:  # as Optuna: the first value of a step wins
            limits.check_trial_growth("step", frozen, limits.INTERMEDIATE_VALUE_BYTES)
            self._with_records(
                runtime,
                frozen._trial_id,
                SET_INTERMEDIATE,
                request_id,
                "report",
                digest,
                [],
                lambda: self._storage.optuna.set_trial_intermediate_value(
                    frozen._trial_id, step, value
                ),
            )
        return self._should_prune(runtime, number)

    @_one_sync
    def tell(
        self,
        study: str,
        number: int,
        state: TrialState,
        values: Sequence[float] = (),
        request_id: str = "",
        fail_reason: str = "",
    ) -> TrialView:
        runtime = self._runtime(study)
        values = validate_tell(state, list(values), runtime.n_objectives)
        digest = request_digest("tell", number, state.name, values, fail_reason)
        with runtime.lock:
            frozen = runtime.frozen(number)
            # A finished trial may be this very request, retried: the ledger knows.
            if frozen.state.is_finished() and request_id:
                if self._replayed(runtime, request_id, digest):
                    return TrialView(study, frozen)
            frozen = runtime.running_trial(number)
            self._finish(runtime, frozen, state, values, fail_reason, request_id, digest)
            return TrialView(study, runtime.frozen(number))

    @_one_sync
    def heartbeat(self, study: str, number: int) -> float:
        runtime = self._runtime(study)
        frozen = runtime.running_trial(number)
        self._storage.leases.renew(runtime.study_id, frozen._trial_id)
        return runtime.config.lease_seconds

    @_one_sync
    def set_trial_user_attr(self, study: str, number: int, key: str, value: Any) -> None:
        if not key:
            raise InvalidArgumentError.for_field("key", "must be non-empty")
        runtime = self._runtime(study)
        frozen = runtime.running_trial(number)
        limits.check_trial_growth("value_json", frozen, limits.user_attr_growth(frozen, key, value))
        self._storage.optuna.set_trial_user_attr(frozen._trial_id, key, value)

    @_one_sync
    def enqueue_trial(
        self, study: str, params: Mapping[str, Any], user_attrs: Mapping[str, Any] | None = None
    ) -> TrialView:
        runtime = self._runtime(study)
        for name, value in params.items():
            distribution = runtime.config.search_space.get(name) or runtime.known_distributions.get(
                name
            )
            if distribution is not None and not contains(distribution, value):
                raise InvalidArgumentError.for_field(
                    f"params.{name}", f"{value!r} is outside {distribution}"
                )
        statements = (
            [self._storage.budgets.add_statement(runtime.study_id)]
            if runtime.config.trial_budget
            else []
        )
        with (
            runtime.lock,
            self._storage.optuna.backend.attach(
                statements, CREATE_TRIAL, study_id=runtime.study_id
            ),
        ):
            runtime.study.enqueue_trial(dict(params), dict(user_attrs or {}))
            waiting = self._storage.optuna.get_all_trials(
                runtime.study_id, deepcopy=False, states=(TrialState.WAITING,)
            )
        return TrialView(study, waiting[-1])

    # -- for the tracking and registry services ---------------------------------------------

    @contextlib.contextmanager
    def running_trial(self, study: str, number: int) -> Iterator[TrialRef]:
        """The trial, which must be RUNNING and stays so inside the block (its lineage may
        change only while it runs: FAILED_PRECONDITION after)."""
        runtime = self._runtime(study)
        with runtime.lock:
            frozen = runtime.running_trial(number)
            yield TrialRef(runtime.name, runtime.study_id, frozen)

    @_one_sync
    def trial_ref(self, study: str, number: int | None = None) -> TrialRef:
        """A trial in any state; ``number=None`` means the best trial (one direction only)."""
        runtime = self._runtime(study)
        if number is None:
            best = self.best_trials(study)
            if runtime.n_objectives > 1:
                raise InvalidArgumentError.for_field(
                    "trial_number", f"study {study!r} has several directions: name the trial"
                )
            if not best:
                raise FailedPreconditionError(f"study: {study!r} has no completed trial yet")
            return TrialRef(runtime.name, runtime.study_id, best[0].trial)
        return TrialRef(runtime.name, runtime.study_id, runtime.frozen(number))

    # -- reading trials --------------------------------------------------------------------

    @_one_sync
    def get_trial(self, study: str, number: int) -> TrialView:
        runtime = self._runtime(study)
        return self._view(runtime, runtime.frozen(number))

    @_one_sync
    def list_trials(
        self, study: str, states: Sequence[TrialState] = (), offset: int = 0, limit: int = 1000
    ) -> TrialPage:
        runtime = self._runtime(study)
        trials = self._storage.optuna.get_all_trials(
            runtime.study_id, deepcopy=False, states=tuple(states) or None
        )
        page = trials[offset : offset + limit]
        more = offset + limit < len(trials)
        leases = self._storage.leases.all_for_study(runtime.study_id) if page else {}
        views = [
            TrialView(study, t, leases[t._trial_id].client_id if t._trial_id in leases else "")
            for t in page
        ]
        return TrialPage(views, offset + limit if more else None)

    @_one_sync
    def best_trials(self, study: str) -> list[TrialView]:
        runtime = self._runtime(study)
        if not self._storage.optuna.get_all_trials(
            runtime.study_id, deepcopy=False, states=(TrialState.COMPLETE,)
        ):
            return []
        if runtime.n_objectives > 1:
            best = runtime.study.best_trials
        else:
            best = [runtime.study.best_trial]
        return [TrialView(study, t) for t in best]

    # -- internals -------------------------------------------------------------------------

    def _study_id_or_none(self, name: str) -> int | None:
        try:
            return self._storage.optuna.get_study_id_from_name(name)
        except KeyError:
            return None

    def _runtime(self, name: str) -> StudyRuntime:
        study_id = self._study_id_or_none(name)
        if study_id is None:
            raise StudyNotFoundError(f"study: no study named {name!r}")
        with self._runtimes_lock:
            runtime = self._runtimes.get(name)
            if runtime is None or runtime.study_id != study_id:
                runtime = StudyRuntime.load(self._storage, name, study_id)
                if runtime.config.trial_budget:
                    self._storage.budgets.ensure(study_id, issued=self._issued(runtime))
                self._runtimes[name] = runtime
        require_access("study", name, runtime.config.owner)
        return runtime

    def _issued(self, runtime: StudyRuntime) -> int:
        """Trials holding a unit of the budget: all but the failed ones."""
        trials = self._storage.optuna.get_all_trials(runtime.study_id, deepcopy=False)
        return sum(t.state != TrialState.FAIL for t in trials)

    def _view(self, runtime: StudyRuntime, trial: FrozenTrial) -> TrialView:
        lease = (
            self._storage.leases.get(trial._trial_id) if trial.state == TrialState.RUNNING else None
        )
        return TrialView(runtime.name, trial, lease.client_id if lease else "")

    def _held_trial(self, runtime: StudyRuntime, client_id: str) -> FrozenTrial | None:
        for trial_id in self._storage.leases.held_by(runtime.study_id, client_id):
            trial = self._storage.optuna.get_trial(trial_id)
            if trial.state == TrialState.RUNNING:
                self._storage.leases.renew(runtime.study_id, trial_id)
                return trial
            self._storage.leases.release(trial_id)
        return None

    def _waiting(self, runtime: StudyRuntime) -> bool:
        return bool(
            self._storage.optuna.get_all_trials(
                runtime.study_id, deepcopy=False, states=(TrialState.WAITING,)
            )
        )

    def _budget_take(self, runtime: StudyRuntime) -> list[Statement]:
        budget = runtime.config.trial_budget
        return [self._storage.budgets.take_statement(runtime.study_id, budget)] if budget else []

    def _should_prune(self, runtime: StudyRuntime, number: int) -> bool:
        with runtime.prune_lock:
            return bool(runtime.study.pruner.prune(runtime.study, runtime.frozen(number)))

    def _replayed(self, runtime: StudyRuntime, request_id: str, digest: str) -> bool:
        """True when this request id was applied already with the same payload."""
        recorded = self._storage.requests.lookup(runtime.study_id, request_id)
        if recorded is None:
            return False
        if recorded.digest != digest:
            raise InvalidArgumentError.for_field(
                "request_id", f"{request_id!r} was already used for a different {recorded.method}"
            )
        return True

    def _finish(
        self,
        runtime: StudyRuntime,
        frozen: FrozenTrial,
        state: TrialState,
        values: list[float],
        fail_reason: str,
        request_id: str = "",
        digest: str = "",
        keep_budget: bool = False,
    ) -> None:
        """Finish a running trial. In the same transaction as its final state: its lease
        ends, its request id is recorded, and a failed trial returns its unit of the budget
        (unless ``keep_budget``: a retry takes it over)."""
        trial_id = frozen._trial_id
        extra = []
        if state == TrialState.FAIL and runtime.config.trial_budget and not keep_budget:
            extra.append(self._storage.budgets.give_back_statement(runtime.study_id))
        try:
            if state == TrialState.FAIL and fail_reason:
                self._storage.optuna.set_trial_system_attr(
                    trial_id, FAIL_REASON_ATTR, fail_reason[: limits.MAX_FAIL_REASON]
                )
            self._with_records(
                runtime,
                trial_id,
                SET_STATE,
                request_id,
                "tell",
                digest,
                extra,
                lambda: runtime.tell(frozen.number, values or None, state),
            )
        except UpdateFinishedTrialError:
            raise TrialFinishedError(
                f"trial_number: trial {frozen.number} of study {runtime.name!r} is already finished"
            ) from None
        finally:
            runtime.forget(trial_id)

    def _with_records(
        self,
        runtime: StudyRuntime,
        trial_id: int,
        op_code: int,
        request_id: str,
        method: str,
        digest: str,
        extra: list[Statement],
        write: Callable[[], Any],
    ) -> None:
        """Run ``write``; its journal log for ``trial_id`` commits together with ``extra``,
        the request id (if any) and, for a final state, the end of the trial's lease."""
        statements = list(extra)
        if op_code == SET_STATE:
            statements.append(self._storage.leases.release_statement(trial_id))
        if request_id:
            statements.append(
                self._storage.requests.record_statement(
                    runtime.study_id, request_id, method, digest
                )
            )
        try:
            with self._storage.optuna.backend.attach(statements, op_code, trial_id=trial_id):
                write()
        except DuplicateKeyError:
            # The request id is taken and nothing was written: by a concurrent retry of this
            # very request (its effect stands) or by another request (refused).
            if self._replayed(runtime, request_id, digest):
                return
            raise InvalidArgumentError.for_field(
                "request_id", f"{request_id!r} was already used for another request"
            ) from None
