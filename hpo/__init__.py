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

from optuna import TrialPruned  # noqa: E402
from optuna.trial import FrozenTrial, TrialState  # noqa: E402

from hpo import registry  # noqa: E402
from hpo.client import ClientSecurity, Study, Trial, create_study, load_study  # noqa: E402
from hpo.errors import (  # noqa: E402
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
