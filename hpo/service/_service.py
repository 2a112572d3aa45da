"""The study service: every rule of the coordinator (budgets, leases, idempotency, state
changes), with Optuna as the algorithm library. It knows nothing of gRPC.

Each call that changes a study runs in one unit of work (``Storage.studies.transaction``):
the trial change Optuna makes, the lease, the budget and the request id commit together or
not at all, so a call that answers an error has written nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from optuna.distributions import BaseDistribution
from optuna.study import StudyDirection

from hpo._optuna_adapter import trial_id
from hpo.errors import (
    AlreadyExistsError,
    InvalidArgumentError,
    PermissionDeniedError,
    ResourceExhaustedError,
    StudyNotFoundError,
)
from hpo.service import _limits as limits
from hpo.service import _percentile
from hpo.service._access import current_caller, require_access
from hpo.service._algorithms import MULTI_OBJECTIVE_PRUNERS, check_sampler_param
from hpo.service._cache import StudyCache
from hpo.service._census import HeldStudyCensus
from hpo.service._config import (
    CONFIG_ATTR,
    StudyConfig,
    require_same_settings,
    validate_study_name,
)
from hpo.service._leases import LeaseExpiry
from hpo.service._proposals import ParamChoice, record_used
from hpo.service._reads import TrialReads
from hpo.service._reports import (
    one_objective_pruner,
    record_report,
    report_vector,
    reported_vectors,
)
from hpo.service._requests import RequestLedger
from hpo.service._rules import contains, request_digest, suggest_param
from hpo.service._runtime import StudyRuntime, fresh_study
from hpo.service._trial_loop import TrialLoop
from hpo.service._views import StudyView, TrialView
from hpo.service._warm_start import (
    WARM_START_ATTR,
    WarmStartRecord,
    WarmStartRequest,
    choose_sources,
)
from hpo.storage import Storage
from hpo.storage._engine import DuplicateKeyError
from hpo.storage._studies import StudyGoneError
from hpo.storage._unit import Unit

_logger = logging.getLogger(__name__)


class StudyService(StudyCache, TrialLoop, LeaseExpiry, TrialReads, HeldStudyCensus, RequestLedger):
    """Creates and loads studies, hands out trials, records results.

    Thread-safe: the coordinator calls it from many gRPC threads at once. A study is loaded
    when a call names it and dropped when idle (:meth:`evict_idle`).
    """

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._runtimes: dict[str, StudyRuntime] = {}
        self._runtimes_lock = threading.Lock()

    @property
    def storage(self) -> Storage:
        return self._storage

    # -- studies ---------------------------------------------------------------------------

    def create_study(
        self,
        name: str,
        directions: Sequence[StudyDirection],
        config: StudyConfig,
        load_if_exists: bool = False,
        warm_start: WarmStartRequest | None = None,
    ) -> StudyView:
        """Create a study (or, with ``load_if_exists``, return the one of that name: its
        stored configuration and warm start win). ``warm_start`` names the earlier studies
        that inform its sampler; they are chosen and checked before anything is written."""
        validate_study_name(name)
        caller = current_caller()
        if caller is not None:
            config = dataclasses.replace(config, owner=caller.name)
        if not directions and not load_if_exists:
            raise InvalidArgumentError.for_field("directions", "at least one direction is required")
        studies = self._storage.studies
        if studies.find(name) is None:
            if len(directions) > 1 and config.pruner.name not in MULTI_OBJECTIVE_PRUNERS:
                raise InvalidArgumentError.for_field(
                    "pruner.name",
                    one_objective_pruner(
                        config.pruner.name, name, len(directions), MULTI_OBJECTIVE_PRUNERS
                    ),
                )
            budget = self._storage.budgets
            attrs: dict[str, Any] = {CONFIG_ATTR: config.to_json()}
            if warm_start is not None and not warm_start.empty:
                record = choose_sources(self._storage, warm_start, directions, config)
                attrs[WARM_START_ATTR] = record.to_json()
            try:
                studies.create(
                    name,
                    list(directions) or [StudyDirection.MINIMIZE],
                    attrs,
                    lambda study_id: [budget.ensure_statement(study_id, 0)],
                )
                return self.get_study(name)
            except DuplicateKeyError:  # another call created it meanwhile
                pass
        if not load_if_exists:
            raise AlreadyExistsError(
                f"name: study {name!r} already exists (load_if_exists=True goes on with it; "
                "or choose another name)"
            )
        row = self._row(name)
        if CONFIG_ATTR not in row.system_attrs:  # a study created by plain Optuna: adopt it
            self._storage.optuna.set_study_system_attr(row.study_id, CONFIG_ATTR, config.to_json())
            self._drop(name)
        stored = self.get_study(name)
        require_same_settings(name, stored.directions, stored.config, directions, config)
        return stored

    @fresh_study
    def get_study(self, name: str) -> StudyView:
        runtime = self._runtime(name)
        model = self._current(runtime)
        return StudyView(
            name=name,
            directions=runtime.directions,
            config=runtime.config,
            trial_counts=dict(model.counts),
            study_id=runtime.study_id,
            warm_start=runtime.warm_start_now(model),
        )

    def list_studies(self) -> list[StudyView]:
        """Every study the caller may see, from the studies table alone (none is loaded).
        A study whose stored configuration cannot be read is logged and left out."""
        views = []
        for row in self._storage.studies.rows():
            try:
                config = StudyConfig.from_json(row.system_attrs.get(CONFIG_ATTR))
                require_access("study", row.name, config.owner)
            except PermissionDeniedError:
                continue
            except Exception:
                _logger.exception("study %r: stored configuration unreadable; not listed", row.name)
                continue
            warm_start = WarmStartRecord.from_attrs(row.system_attrs)
            views.append(
                StudyView(
                    row.name,
                    row.directions,
                    config,
                    dict(row.trial_counts),
                    study_id=row.study_id,
                    warm_start=warm_start,
                )
            )
        return sorted(views, key=lambda view: view.name)

    def delete_study(self, name: str) -> None:
        row = self._row(name)
        # Read the owner alone: a study whose configuration is unreadable can still go.
        stored = row.system_attrs.get(CONFIG_ATTR)
        owner = str(stored.get("owner", "")) if isinstance(stored, dict) else ""
        require_access("study", name, owner)
        try:
            self._storage.studies.delete(row.study_id)
        except StudyGoneError:
            raise StudyNotFoundError(f"study: no study named {name!r}") from None
        finally:
            self._drop(name)

    # -- the trial loop --------------------------------------------------------------------

    @fresh_study
    def suggest(
        self,
        study: str,
        number: int,
        name: str,
        distribution: BaseDistribution,
        study_id: int = 0,
        used: Sequence[ParamChoice] = (),
    ) -> Any:
        if not name:
            raise InvalidArgumentError.for_field("name", "must be non-empty")
        runtime = self._runtime(study, study_id)
        with self._turn(runtime):
            try:
                return self._suggest(runtime, number, name, distribution, used)
            except BaseException:
                # Its Optuna object caches what it suggested, also when the unit rolled back.
                runtime.running.pop(number, None)
                raise

    def _suggest(
        self,
        runtime: StudyRuntime,
        number: int,
        name: str,
        distribution: BaseDistribution,
        used: Sequence[ParamChoice],
    ) -> Any:
        with self._unit(runtime) as unit:
            frozen = runtime.require_running(unit.draft, number)
            view = self._storage.optuna.within(unit)
            frozen = record_used(unit, view, frozen, used)
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
            runtime.check_compatible(unit.draft.model, "distribution", name, distribution)
            check_sampler_param(runtime.config.sampler, "name", name)
            limits.check_trial_growth("name", frozen, limits.param_bytes(name, distribution))
            trial = runtime.optuna_trial(runtime.study(view), view, trial_id(frozen), number)
            value = suggest_param(trial, name, distribution)
        runtime.running[number] = trial
        return value

    @fresh_study
    def report(
        self,
        study: str,
        number: int,
        step: int,
        value: float,
        request_id: str = "",
        study_id: int = 0,
        values: Sequence[float] = (),
        used: Sequence[ParamChoice] = (),
    ) -> bool:
        """Record what a trial reached at ``step`` (``value``; or ``values``, one per
        direction) and answer whether the pruner stops it."""
        limits.check_id("request_id", request_id)
        if step < 0:
            raise InvalidArgumentError.for_field("step", "must be >= 0")
        if not values and math.isnan(value):
            raise InvalidArgumentError.for_field("value", "must not be NaN")
        runtime = self._runtime(study, study_id)
        vector = report_vector(
            value,
            values,
            runtime.n_objectives,
            study,
            runtime.config.pruner.name,
            MULTI_OBJECTIVE_PRUNERS,
        )
        payload = vector if values else value  # a scalar Report keeps its digest
        digest = request_digest("report", number, step, payload)
        with self._turn(runtime):
            try:
                with self._unit(runtime) as unit:
                    frozen = runtime.frozen(unit.draft, number)
                    steps = reported_vectors(frozen, runtime.n_objectives)
                    replay = request_id and (frozen.state.is_finished() or step in steps)
                    if not (replay and self._replayed(runtime, request_id, digest, unit)):
                        frozen = runtime.require_running(unit.draft, number)
                        view = self._storage.optuna.within(unit)
                        frozen = record_used(unit, view, frozen, used)
                        if step not in steps:  # the first value wins
                            limits.check_trial_growth(
                                "step", frozen, limits.INTERMEDIATE_VALUE_BYTES
                            )
                            record_report(view, trial_id(frozen), step, vector)
                            self._record_request(unit, request_id, "report", digest)
                    # Decided inside the unit: a pruner that fails leaves nothing written.
                    return self._should_prune(runtime, unit, number)
            except DuplicateKeyError:
                self._conflicting_request(runtime, request_id, digest)
        return self._should_prune(runtime, None, number)

    @fresh_study
    def heartbeat(self, study: str, number: int, study_id: int = 0) -> float:
        runtime = self._runtime(study, study_id)
        frozen = runtime.require_running(self._current(runtime), number)
        if not self._storage.leases.renew(trial_id(frozen)):
            # It finished between the read and the renewal: say how.
            runtime.require_running(self._current(runtime), number)
        return runtime.config.lease_seconds

    @fresh_study
    def set_trial_user_attr(
        self, study: str, number: int, key: str, value: Any, study_id: int = 0
    ) -> None:
        if not key:
            raise InvalidArgumentError.for_field("key", "must be non-empty")
        runtime = self._runtime(study, study_id)
        with self._turn(runtime), self._unit(runtime) as unit:
            frozen = runtime.require_running(unit.draft, number)
            limits.check_trial_growth(
                "value_json", frozen, limits.user_attr_growth(frozen, key, value)
            )
            self._storage.optuna.within(unit).set_trial_user_attr(trial_id(frozen), key, value)

    @fresh_study
    def enqueue_trial(
        self, study: str, params: Mapping[str, Any], user_attrs: Mapping[str, Any] | None = None
    ) -> TrialView:
        """Queue a trial with fixed parameters; an Ask hands it out (taking a unit of the
        budget then, as for any trial)."""
        runtime = self._runtime(study)
        with self._turn(runtime), self._unit(runtime) as unit:
            known = unit.draft.model.param_distributions
            for name, value in params.items():
                distribution = runtime.config.search_space.get(name) or known.get(name)
                if distribution is not None and not contains(distribution, value):
                    raise InvalidArgumentError.for_field(
                        f"params.{name}", f"{value!r} is outside {distribution}"
                    )
            optuna_study = runtime.study(self._storage.optuna.within(unit))
            optuna_study.enqueue_trial(dict(params), dict(user_attrs or {}))
            queued = unit.draft.trial(unit.draft.n_trials - 1)
        return TrialView(study, queued)

    # -- for the tracking and registry services ---------------------------------------------

    @contextlib.contextmanager
    def running_trial(self, study: str, number: int) -> Iterator[Any]:
        """The trial, which must be RUNNING and stays so inside the block (its lineage may
        change only while it runs: FAILED_PRECONDITION after)."""
        runtime = self._runtime(study)
        with runtime.lock:
            self._storage.studies.settle(runtime.study_id)  # the block may write its rows
            frozen = runtime.require_running(self._current(runtime), number)
            yield self._ref(runtime, frozen)

    # -- internals -------------------------------------------------------------------------

    def _should_prune(self, runtime: StudyRuntime, unit: Unit | None, number: int) -> bool:
        trials = self._current(runtime) if unit is None else unit.draft
        frozen = runtime.frozen(trials, number)
        if isinstance(runtime.pruner, _percentile.PercentilePruner):
            return runtime.pruner.decide(trials, frozen, runtime.directions[0])
        view = self._storage.optuna if unit is None else self._storage.optuna.within(unit)
        return bool(runtime.pruner.prune(runtime.study(view), frozen))
