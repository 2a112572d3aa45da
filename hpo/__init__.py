"""hpo: hyperparameter optimization as a service.

Quick start (an embedded coordinator on ``hpo.db`` starts by itself)::

    import hpo

    def objective(trial):
        x = trial.suggest_float("x", -10, 10)
        return (x - 2) ** 2

    study = hpo.create_study("quadratic", sampler={"name": "tpe", "seed": 1})
    study.optimize(objective, n_trials=30)
    print(study.best_trial.params)

Set ``HPO_ADDRESS=host:port`` (or pass ``address=``) to use a coordinator started with
``hpo server``.
"""

from __future__ import annotations

import os as _os

# gRPC's C core otherwise logs a line each time a process forks while a channel is open,
# which Ray does for every worker. Set before grpc is imported; an explicit setting wins.
_os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from hpo._lazy import lazy_attribute as _lazy_attribute
from hpo.errors import (
    AlreadyExistsError,
    BudgetSpentError,
    FailedPreconditionError,
    HpoError,
    IntegrityError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    StudyNotFoundError,
    TrialFinishedError,
    TrialNotFoundError,
    UnavailableError,
)

if _TYPE_CHECKING:
    from optuna import TrialPruned
    from optuna.trial import FrozenTrial, TrialState

    from hpo import registry
    from hpo.client import ClientSecurity, Study, Trial, create_study, load_study

# The SDK's names (and hpo's subpackages: ``hpo.client``, ``hpo.registry``) are imported when
# first used (``hpo.Study``, ``from hpo import Study``): ``import hpo`` then stays light for
# the CLI, which imports Optuna, gRPC and the client only for the commands that need them.
_LAZY = {
    "TrialPruned": "optuna",
    "FrozenTrial": "optuna.trial",
    "TrialState": "optuna.trial",
    "ClientSecurity": "hpo.client",
    "Study": "hpo.client",
    "Trial": "hpo.client",
    "create_study": "hpo.client",
    "load_study": "hpo.client",
}


def __getattr__(name: str) -> _Any:
    return _lazy_attribute(globals(), _LAZY, name)


__version__ = "0.1.0"

__all__ = [
    "AlreadyExistsError",
    "BudgetSpentError",
    "ClientSecurity",
    "FailedPreconditionError",
    "FrozenTrial",
    "HpoError",
    "IntegrityError",
    "InternalError",
    "InvalidArgumentError",
    "NotFoundError",
    "Study",
    "StudyNotFoundError",
    "Trial",
    "TrialFinishedError",
    "TrialNotFoundError",
    "TrialPruned",
    "TrialState",
    "UnavailableError",
    "__version__",
    "create_study",
    "load_study",
    "registry",
]


def __dir__() -> list[str]:  # the lazy names too, for completion and help()
    return sorted({*globals(), *__all__})
