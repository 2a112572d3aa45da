"""The trial an objective receives: Optuna's suggest/report/should_prune API over gRPC."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from optuna.distributions import (
    BaseDistribution,
    CategoricalChoiceType,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from hpo._wire import distribution_from_pb, distribution_to_pb, value_from_pb
from hpo.client import _lineage
from hpo.v1 import coordinator_pb2 as api
from hpo.v1 import study_pb2 as pb

if TYPE_CHECKING:
    from hpo.client._study import Study

_T = TypeVar("_T")


class Trial:
    """A running trial, handed out by :meth:`Study.ask`.

    Signatures follow ``optuna.Trial``, so an Optuna objective runs unchanged: parameters
    come from the coordinator's sampler (one round trip per new name; names declared in the
    study's search space arrive with the trial), ``report`` answers the coordinator's pruner.
    """

    def __init__(self, study: Study, message: pb.Trial, proposals: Sequence[pb.Param] = ()) -> None:
        self.study = study
        self.number = message.number
        #: The id of its study: calls on this trial carry it, so that they never reach a new
        #: study that took the name of a deleted one.
        self.study_id = message.study_id
        self._params: dict[str, Any] = {}
        self._distributions: dict[str, BaseDistribution] = {}
        self._user_attrs = {k: json.loads(v) for k, v in message.user_attrs.items()}
        self._should_prune = False
        self.client_id = message.client_id
        #: The accelerator this trial may use: "cpu", or "cuda" when the worker that runs it
        #: holds a GPU (then only its GPUs are visible, as cuda:0, cuda:1, ...).
        self.device = "cpu"
        #: The ids of the GPUs given to this trial by its worker (empty on CPU).
        self.gpu_ids: list[str] = []
        for param in message.params:
            self._distributions[param.name] = distribution_from_pb(param.name, param.distribution)
            self._params[param.name] = value_from_pb(param.name, param.value)
        # Values the coordinator's sampler chose at Ask for parameters this trial will most
        # likely suggest: one used here costs no round trip, and goes back (recorded) with
        # the trial's next Suggest, Report or Tell.
        self._proposals = {p.name: p for p in proposals}
        self._used: list[pb.Param] = []

    # -- parameters ------------------------------------------------------------------------

    @property
    def params(self) -> dict[str, Any]:
        """Parameters suggested so far."""
        return dict(self._params)

    @property
    def distributions(self) -> dict[str, BaseDistribution]:
        return dict(self._distributions)

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float:
        """A float in [low, high]; see ``optuna.Trial.suggest_float``."""
        return float(self._suggest(name, _float_distribution(low, high, step, log)))

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int:
        """An int in [low, high]; see ``optuna.Trial.suggest_int``."""
        return int(self._suggest(name, _int_distribution(low, high, step, log)))

    def suggest_categorical(
        self, name: str, choices: Sequence[CategoricalChoiceType]
    ) -> CategoricalChoiceType:
        """One of ``choices``; see ``optuna.Trial.suggest_categorical``."""
        return self._suggest(name, _categorical_distribution(choices))

    def _suggest(self, name: str, distribution: BaseDistribution | pb.Distribution) -> Any:
        if name in self._params and isinstance(distribution, BaseDistribution):
            if self._distributions.get(name) == distribution:
                return self._params[name]
        message = (
            distribution_to_pb(distribution)
            if isinstance(distribution, BaseDistribution)
            else distribution
        )
        proposal = self._proposals.pop(name, None)
        if proposal is not None and name not in self._params and proposal.distribution == message:
            value = value_from_pb(name, proposal.value)
            self._used.append(proposal)
        else:
            request = api.SuggestRequest(
                study=self.study.study_name,
                trial_number=self.number,
                name=name,
                distribution=message,
                study_id=self.study_id,
            )
            value = value_from_pb(name, self._send("Suggest", request).value)
        if isinstance(distribution, BaseDistribution):
            self._distributions[name] = distribution
        self._params[name] = value
        return value

    # -- early stopping --------------------------------------------------------------------

    def report(self, value: float | Sequence[float], step: int) -> None:
        """Record an intermediate value (for a study with several directions, one value per
        direction: ``trial.report([accuracy, size_kb], step)``); the coordinator's pruner
        decides at once."""
        request = api.ReportRequest(
            study=self.study.study_name,
            trial_number=self.number,
            study_id=self.study_id,
            step=int(step),
            request_id=uuid.uuid4().hex,
        )
        if isinstance(value, Sequence) or hasattr(value, "__len__"):
            request.values.extend(float(v) for v in value)  # type: ignore[union-attr]
        else:
            request.value = float(value)
        self._should_prune = self._send("Report", request).should_prune

    def _send(self, method: str, request: Any) -> Any:
        """Call ``method`` with the proposals used since the last call (kept for the next
        call if this one fails)."""
        return self._sending(request, lambda sent: self.study._call(method, sent))

    def _sending(self, request: Any, call: Callable[[Any], _T]) -> _T:
        """``call(request)`` with the proposals used since the last call added to ``request``
        (kept for the next call if this one fails)."""
        request.used.extend(self._used)
        answer = call(request)
        self._used.clear()
        return answer

    def should_prune(self) -> bool:
        """The pruner's answer to the last ``report`` (False before any)."""
        return self._should_prune

    # -- attributes ------------------------------------------------------------------------

    @property
    def user_attrs(self) -> dict[str, Any]:
        return dict(self._user_attrs)

    def set_user_attr(self, key: str, value: Any) -> None:
        """Store a JSON-serializable attribute with the trial."""
        request = api.SetTrialUserAttrRequest(
            study=self.study.study_name,
            trial_number=self.number,
            study_id=self.study_id,
            key=key,
            value_json=json.dumps(value),
        )
        self.study._call("SetTrialUserAttr", request)
        self._user_attrs[key] = value

    # -- lineage -----------------------------------------------------------------------------

    def log_seed(self, seed: int) -> None:
        """Record the random seed this trial uses (its code and environment are recorded
        already, at ask time)."""
        _lineage.record_seed(self._connection, self.study.study_name, self.number, seed)

    def log_data(self, data: Any, name: str | None = None) -> Any:
        """Record what the trial read: a file or directory path, a numpy array or a pandas
        DataFrame, by content hash (BLAKE3; unchanged files are not read again). ``name``
        defaults to the path's base name, else "data". Returns the ``DataRecord``."""
        return _lineage.log_data(self._connection, self.study.study_name, self.number, data, name)

    def log_metric(self, name: str, value: float, step: int = 0) -> None:
        """Record a metric beside the objective (one value per step; the first one stays)."""
        _lineage.log_metrics(
            self._connection, self.study.study_name, self.number, [(name, int(step), float(value))]
        )

    def log_artifact(self, path: Any, name: str | None = None) -> Any:
        """Upload a file (a model, a plot) to the artifact store, streamed in chunks and
        stored under its digest. Returns the ``ArtifactRecord``."""
        return _lineage.log_artifact(
            self._connection, self.study.study_name, self.number, path, name
        )

    @property
    def _connection(self) -> Any:
        return self.study._connection

    def __repr__(self) -> str:
        return f"Trial(study={self.study.study_name!r}, number={self.number})"


# The server validates ranges (one place for the rule); these only build the wire message
# when Optuna's own constructor would refuse, so the server's message names the field.
def _float_distribution(low: float, high: float, step: float | None, log: bool) -> Any:
    try:
        return FloatDistribution(low, high, log=log, step=step)
    except ValueError:
        message = pb.FloatDistribution(low=low, high=high, log=log)
        if step is not None:
            message.step = step
        return pb.Distribution(float_distribution=message)


def _int_distribution(low: int, high: int, step: int, log: bool) -> Any:
    try:
        return IntDistribution(low, high, log=log, step=step)
    except ValueError:
        return pb.Distribution(
            int_distribution=pb.IntDistribution(low=low, high=high, log=log, step=step)
        )


def _categorical_distribution(choices: Sequence[CategoricalChoiceType]) -> Any:
    try:
        return CategoricalDistribution(choices)
    except ValueError:
        return pb.Distribution(categorical_distribution=pb.CategoricalDistribution())


class _AskedTrials:
    """The SDK trials this process asked and has not told yet, by study and number: a Tell
    given only a trial's number, from any handle of its study in this process, still sends
    the proposals the trial used (they exist nowhere else until then)."""

    def __init__(self) -> None:
        self._trials: dict[tuple[str, int, int], Trial] = {}
        self._lock = threading.Lock()

    def add(self, trial: Trial) -> None:
        with self._lock:
            self._trials[_key(trial.study, trial.number)] = trial

    def get(self, study: Study, number: int) -> Trial | None:
        with self._lock:
            return self._trials.get(_key(study, number))

    def discard(self, trial: Trial) -> None:
        with self._lock:
            self._trials.pop(_key(trial.study, trial.number), None)


def _key(study: Study, number: int) -> tuple[str, int, int]:
    return (study.study_name, study.study_id, number)


ASKED = _AskedTrials()
