"""The SDK's study handle: Optuna's ask/tell/optimize over the coordinator's gRPC API."""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from optuna.distributions import BaseDistribution
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from hpo._wire import (
    DIRECTIONS,
    STATE_TO_PB,
    search_space_to_pb,
    state_from_name,
    value_to_pb,
)
from hpo.client._connection import ClientSecurity, Connection, connect
from hpo.client._embedded import resolve_address
from hpo.client._frozen import frozen_trial_from_pb
from hpo.client._heartbeat import Heartbeat
from hpo.client._insight import param_importances, write_plot
from hpo.client._lineage import own_lineage, trial_lineage
from hpo.client._optimize import OptimizeLoop
from hpo.client._paging import all_trials
from hpo.client._run import ObjectiveFn, new_client_prefix
from hpo.client._trial import ASKED, Trial
from hpo.client._warm_start import (
    WarmStartLike,
    WarmStartSource,
    warm_start_from_pb,
    warm_start_to_pb,
)
from hpo.errors import BudgetSpentError
from hpo.v1 import coordinator_pb2 as api
from hpo.v1 import study_pb2 as pb

_logger = logging.getLogger("hpo")

AlgorithmLike = str | Mapping[str, Any] | None
_T = TypeVar("_T")
#: This process among the coordinator's clients (a client id is this and a thread's id).
_PROCESS_ID = new_client_prefix()


class Study:
    """A study on a coordinator. Create one with :func:`hpo.create_study` or
    :func:`hpo.load_study`; the methods mirror ``optuna.Study``."""

    def __init__(self, connection: Connection, message: pb.Study) -> None:
        self._connection = connection
        self._message = message
        self.study_name = message.name
        self._heartbeat = Heartbeat(
            connection, message.name, message.lease_seconds / 4, message.study_id
        )

    # -- description -----------------------------------------------------------------------

    @property
    def study_id(self) -> int:
        """The study's id: calls on its trials carry it, so that they never reach a new study
        that took the name of a deleted one."""
        return int(self._message.study_id)

    @property
    def directions(self) -> list[StudyDirection]:
        return [DIRECTIONS[d] for d in self._message.directions]

    @property
    def direction(self) -> StudyDirection:
        if len(self._message.directions) != 1:
            raise RuntimeError("this study has several directions; use .directions")
        return self.directions[0]

    @property
    def address(self) -> str:
        """The coordinator this handle talks to."""
        return self._connection.address

    @property
    def warm_start(self) -> list[WarmStartSource]:
        """The earlier studies that inform this study's sampler, most relevant first: why
        each was chosen and how the sampler uses it now (asked of the coordinator)."""
        return warm_start_from_pb(self.info())

    def info(self) -> pb.Study:
        """The study as the coordinator sees it now (configuration and trial counts)."""
        self._message = self._call("GetStudy", api.GetStudyRequest(name=self.study_name))
        return self._message

    # -- ask and tell ----------------------------------------------------------------------

    def ask(
        self,
        fixed_distributions: Mapping[str, BaseDistribution] | None = None,
        *,
        client_id: str = "",
    ) -> Trial:
        """A trial to run. With ``fixed_distributions`` those parameters arrive sampled (one
        round trip); without, the study's declared search space does.

        ``client_id`` makes the call idempotent: a client that asks again with the same id
        while its trial runs gets that trial back (for workers that may crash and restart).
        Raises :class:`hpo.BudgetSpentError` once the study's trial budget is reached.
        """
        request = self._ask_request(client_id, fixed_distributions)
        trial = self._asked(self._call("Ask", request))
        if trial is None:
            raise BudgetSpentError(f"study {self.study_name!r} has reached its trial budget")
        return trial

    def tell(
        self,
        trial: Trial | int,
        values: float | Sequence[float] | None = None,
        state: TrialState | str | None = None,
        *,
        fail_reason: str = "",
    ) -> FrozenTrial:
        """Finish a trial as ``optuna.Study.tell`` does: values mean COMPLETE unless ``state``
        says otherwise; PRUNED without values uses the last reported one. ``state`` is a
        ``TrialState`` or its name in any case (``"pruned"``, ``"fail"``); another name raises
        :class:`hpo.InvalidArgumentError` naming ``state``. Retried calls have one effect
        (each tell carries a request id)."""
        telling = _Telling(self, trial, values, state, fail_reason)
        return telling.send(lambda request: frozen_trial_from_pb(self._call("Tell", request)))

    def tell_and_ask(
        self,
        trial: Trial | int,
        values: float | Sequence[float] | None = None,
        state: TrialState | str | None = None,
        *,
        fail_reason: str = "",
        client_id: str = "",
        fixed_distributions: Mapping[str, BaseDistribution] | None = None,
    ) -> tuple[FrozenTrial, Trial | None]:
        """:meth:`tell`, then :meth:`ask`, in one round trip, for a loop that runs one trial
        after another: ``(the finished trial, the next trial)``, the next one None once the
        study's trial budget is reached. Arguments mean what they mean there; ``client_id``
        defaults to one for this process and thread (the call needs one, so that a retry gets
        the same trial back). Errors are those that :meth:`tell` and then :meth:`ask` raise; the
        coordinator runs both parts as one unit of work, so one the caller caused (a search
        space the study cannot take) records nothing, the Tell included."""
        telling = _Telling(self, trial, values, state, fail_reason)
        client_id = client_id or f"{_PROCESS_ID}:{threading.get_ident()}"
        ask = self._ask_request(client_id, fixed_distributions)

        def tell_and_ask(tell: api.TellRequest) -> tuple[FrozenTrial, Trial | None]:
            # An error is the first failing part's, as from tell() and then ask().
            response = self._call("TellAndAsk", api.TellAndAskRequest(tell=tell, ask=ask))
            return frozen_trial_from_pb(response.told), self._asked(response.next)

        return telling.send(tell_and_ask)

    def _ask_request(
        self, client_id: str, fixed_distributions: Mapping[str, BaseDistribution] | None
    ) -> api.AskRequest:
        request = api.AskRequest(study=self.study_name, client_id=client_id, lineage=own_lineage())
        if fixed_distributions:
            request.search_space.CopyFrom(search_space_to_pb(fixed_distributions))
        return request

    def _asked(self, response: api.AskResponse) -> Trial | None:
        """The trial an Ask answered, kept alive by heartbeats; None when the budget is spent."""
        if response.budget_spent:
            return None
        trial = Trial(self, response.trial, response.proposals)
        self._heartbeat.add(trial.number)
        ASKED.add(trial)
        return trial

    def enqueue_trial(
        self, params: Mapping[str, Any], user_attrs: Mapping[str, Any] | None = None
    ) -> FrozenTrial:
        """Queue a trial with fixed parameters; the next ``ask`` hands it out."""
        request = api.EnqueueTrialRequest(
            study=self.study_name,
            params={k: value_to_pb(v) for k, v in params.items()},
            user_attrs={k: json.dumps(v) for k, v in (user_attrs or {}).items()},
        )
        return frozen_trial_from_pb(self._call("EnqueueTrial", request))

    # -- the optimize loop -----------------------------------------------------------------

    def optimize(
        self,
        func: ObjectiveFn,
        n_trials: int | None = None,
        timeout: float | None = None,
        n_jobs: int = 1,
        catch: Iterable[type[Exception]] | type[Exception] = (),
        callbacks: Sequence[Callable[[Study, FrozenTrial], None]] | None = None,
        show_progress_bar: bool = False,
    ) -> None:
        """Run ``func`` on trials until ``n_trials`` ran here, ``timeout`` seconds passed, or
        the study's trial budget is spent; ``n_jobs`` threads run at once.

        As in Optuna: ``optuna.TrialPruned`` (or ``hpo.TrialPruned``) marks the trial
        PRUNED; another exception marks it FAILED with its traceback and is raised again
        unless it is listed in ``catch``; a NaN or missing value marks it FAILED.
        """
        catch = tuple(catch) if isinstance(catch, Iterable) else (catch,)
        loop = OptimizeLoop(self, func, n_trials, timeout, catch, list(callbacks or ()))
        jobs = os.cpu_count() or 1 if n_jobs == -1 else max(1, n_jobs)
        if show_progress_bar:
            loop.with_progress()
        try:
            if jobs == 1:
                loop.run_worker()
            else:
                with ThreadPoolExecutor(jobs, thread_name_prefix="hpo-optimize") as pool:
                    for future in [pool.submit(loop.run_worker) for _ in range(jobs)]:
                        future.result()
        finally:
            loop.close()

    # -- results ---------------------------------------------------------------------------

    def lineage(self, number: int) -> Any:
        """Everything recorded for trial ``number``: code, environment, seed, data, metrics,
        artifacts (a ``hpo.v1.TrialLineage`` message)."""
        return trial_lineage(self._connection, self.study_name, number)

    @property
    def trials(self) -> list[FrozenTrial]:
        """All trials, by number."""
        return self.get_trials()

    def get_trials(self, states: Container[TrialState] | None = None) -> list[FrozenTrial]:
        """Trials by number, optionally only those in ``states``."""
        wanted = [STATE_TO_PB[s] for s in STATE_TO_PB if states is None or s in states]
        return [
            frozen_trial_from_pb(t) for t in all_trials(self._connection, self.study_name, wanted)
        ]

    @property
    def best_trials(self) -> list[FrozenTrial]:
        """The Pareto front (or the single best trial of a one-direction study)."""
        response = self._call("GetBestTrials", api.GetBestTrialsRequest(study=self.study_name))
        return [frozen_trial_from_pb(t) for t in response.trials]

    @property
    def best_trial(self) -> FrozenTrial:
        if len(self._message.directions) > 1:
            raise RuntimeError("best_trial is for one direction; use best_trials")
        best = self.best_trials
        if not best:
            raise ValueError(f"study {self.study_name!r} has no completed trial yet")
        return best[0]

    @property
    def best_value(self) -> float:
        value = self.best_trial.value
        assert value is not None
        return value

    @property
    def best_params(self) -> dict[str, Any]:
        return self.best_trial.params

    # -- insight ---------------------------------------------------------------------------

    def importance(
        self, *, evaluator: str = "fanova", objective: int | None = None
    ) -> dict[str, float]:
        """Each parameter's importance (summing to 1, largest first) from the completed
        trials, by one of Optuna's evaluators: ``fanova``, ``mean_decrease_impurity`` or
        ``ped_anova``. A study with several objectives needs ``objective`` (its index).
        Raises :class:`hpo.InvalidArgumentError` with fewer than 2 completed trials."""
        return param_importances(
            self.study_name,
            self.directions,
            self.get_trials(),
            evaluator=evaluator,
            objective=objective,
        )

    def plot(
        self, kind: str, path: str | os.PathLike[str], *, objective: int | None = None
    ) -> Path:
        """Write one of Optuna's plots of this study to ``path``: ``.html`` (plotly) or
        ``.png`` (matplotlib); needs ``pip install 'hpo[plot]'``.

        ``kind`` is ``history``, ``intermediate``, ``parallel``, ``contour``, ``importance``
        or ``pareto``; ``objective`` picks one objective of several for the kinds that show
        one. A kind the study cannot support (``pareto`` with one objective, ``contour`` with
        one parameter, ``importance`` with under 2 completed trials, ...) raises
        :class:`hpo.InvalidArgumentError` naming ``kind``, and nothing is written.
        """
        return write_plot(
            self.study_name, self.directions, self.get_trials(), kind, path, objective=objective
        )

    def _call(self, method: str, request: Any) -> Any:
        return self._connection.call(method, request)

    def __repr__(self) -> str:
        return f"Study(name={self.study_name!r}, address={self.address!r})"


class _Telling:
    """One Tell of a trial on its way: the request (with the proposals the trial used), and
    the bookkeeping around sending it (its heartbeat, the SDK's asked trials)."""

    def __init__(
        self,
        study: Study,
        trial: Trial | int,
        values: float | Sequence[float] | None,
        state: TrialState | str | None,
        fail_reason: str,
    ) -> None:
        self.study = study
        self.number = trial.number if isinstance(trial, Trial) else int(trial)
        # The Trial object (also when given its number) holds proposals it used, which this
        # Tell records.
        self.asked = trial if isinstance(trial, Trial) else ASKED.get(study, self.number)
        if state is None:
            state = TrialState.COMPLETE if values is not None else TrialState.FAIL
        state = state_from_name("state", state)
        numbers: list[float] = []
        if values is not None and state != TrialState.FAIL:
            numbers = [float(v) for v in (values if isinstance(values, Sequence) else [values])]
        self.request = api.TellRequest(
            study=study.study_name,
            trial_number=self.number,
            state=STATE_TO_PB[state],
            values=numbers,
            request_id=uuid.uuid4().hex,
            fail_reason=fail_reason,
            study_id=self.asked.study_id if self.asked is not None else 0,
        )

    def send(self, call: Callable[[api.TellRequest], _T]) -> _T:
        """``call(request)``; the trial's heartbeat and its place among the asked trials end
        with it, whatever it answers."""
        heartbeat = self.study._heartbeat
        heartbeat.telling(self.number)
        try:
            if self.asked is None:
                return call(self.request)
            return self.asked._sending(self.request, call)
        finally:
            heartbeat.discard(self.number)
            if self.asked is not None:
                ASKED.discard(self.asked)


# -- entry points ----------------------------------------------------------------------------


def create_study(
    name: str | None = None,
    *,
    direction: str | StudyDirection | None = None,
    directions: Sequence[str | StudyDirection] | None = None,
    sampler: AlgorithmLike = None,
    pruner: AlgorithmLike = None,
    search_space: Mapping[str, BaseDistribution] | None = None,
    trial_budget: int = 0,
    retry_budget: int = 0,
    lease_seconds: float = 0.0,
    load_if_exists: bool = False,
    address: str | None = None,
    storage: str | None = None,
    security: ClientSecurity | None = None,
    warm_start: WarmStartLike = None,
    warm_start_data: Any = None,
) -> Study:
    """Create a study on a coordinator and return a handle to it.

    Args:
        name: unique name; a random one when omitted.
        direction / directions: "minimize" (default) or "maximize", one per objective.
        sampler / pruner: a name (``"tpe"``) or a dict with ``"name"`` and options
            (``{"name": "tpe", "seed": 1}``). Defaults: tpe, median.
        search_space: parameters every ``ask()`` returns sampled (Optuna distributions).
        trial_budget: most trials to hand out, failed ones excluded; 0 = no limit.
        retry_budget: re-queues of a trial whose lease expired; 0 = never.
        lease_seconds: heartbeat silence after which a running trial fails; 0 = default.
        load_if_exists: return the existing study of this name instead of failing. The
            settings given must equal its stored ones (:class:`hpo.FailedPreconditionError`
            naming each that differs); those left out take the stored values.
        address: ``host:port`` of a coordinator, or replicas ``"a:1,b:2"`` (round-robin
            and failover); default ``$HPO_ADDRESS``, else embedded.
        storage: database of the embedded coordinator; default ``$HPO_DB``, else a SQLite
            file ``hpo.db`` in the working directory.
        security: TLS and token settings; default from HPO_TLS_CA, HPO_TLS_CERT,
            HPO_TLS_KEY and HPO_TOKEN.
        warm_start: learn from earlier studies' completed trials from the first ``ask``:
            ``"auto"`` (the coordinator picks compatible studies, those of the same data
            first), a study's name, or a list of names (may include ``"auto"``). Their
            trials never become this study's. ``study.warm_start`` says which and why.
        warm_start_data: with ``"auto"``, what the trials will read (a path, an array, a
            DataFrame, or a list of them), hashed here as ``trial.log_data`` hashes it so
            that studies whose trials recorded the same data come first.
    """
    if direction is not None and directions is not None:
        raise ValueError("pass direction= or directions=, not both")
    if directions is not None:
        wanted = list(directions)
    elif direction is not None:
        wanted = [direction]
    else:  # an existing study keeps its directions; a new one minimizes
        wanted = [] if load_if_exists else ["minimize"]
    request = api.CreateStudyRequest(
        name=name or f"study-{uuid.uuid4().hex[:12]}",
        directions=[_direction_to_pb(d) for d in wanted],
        sampler=_algorithm_spec("sampler", sampler),
        pruner=_algorithm_spec("pruner", pruner),
        trial_budget=trial_budget,
        retry_budget=retry_budget,
        lease_seconds=lease_seconds,
        load_if_exists=load_if_exists,
    )
    if search_space:
        request.search_space.CopyFrom(search_space_to_pb(search_space))
    warm = warm_start_to_pb(warm_start, warm_start_data)
    if warm is not None:
        request.warm_start.CopyFrom(warm)
    connection = connect(resolve_address(address, storage), security)
    return Study(connection, connection.call("CreateStudy", request))


def load_study(
    name: str,
    *,
    address: str | None = None,
    storage: str | None = None,
    security: ClientSecurity | None = None,
) -> Study:
    """A handle to an existing study (``hpo.NotFoundError`` if there is none)."""
    connection = connect(resolve_address(address, storage), security)
    return Study(connection, connection.call("GetStudy", api.GetStudyRequest(name=name)))


def _direction_to_pb(direction: str | StudyDirection) -> pb.Direction:
    if isinstance(direction, StudyDirection):
        direction = direction.name
    key = str(direction).lower()
    if key not in ("minimize", "maximize"):
        raise ValueError(f"direction must be 'minimize' or 'maximize', not {direction!r}")
    return pb.DIRECTION_MINIMIZE if key == "minimize" else pb.DIRECTION_MAXIMIZE


def _algorithm_spec(kind: str, spec: AlgorithmLike) -> pb.AlgorithmSpec:
    if spec is None:
        return pb.AlgorithmSpec()
    if isinstance(spec, str):
        return pb.AlgorithmSpec(name=spec)
    if isinstance(spec, Mapping):
        options = {k: v for k, v in spec.items() if k != "name"}
        return pb.AlgorithmSpec(name=str(spec.get("name", "")), options_json=json.dumps(options))
    raise TypeError(
        f"{kind}= takes a name or a dict like {{'name': 'tpe', 'seed': 1}}, not "
        f"{type(spec).__name__}: the {kind} runs in the coordinator"
    )
