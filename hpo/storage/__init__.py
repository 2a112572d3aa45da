"""Storage: each study's own operation log in SQL, loaded on demand, plus leases, request
ids, budgets, lineage and the model registry.

``open_storage(url)`` is the entry point; it migrates the schema and returns a
:class:`Storage`. Its ``studies`` log opens units of work (``studies.transaction(study_id)``)
in which trial changes and the service's own rows commit together; its ``optuna`` attribute
is an ordinary Optuna storage (``optuna.load_study``, optuna-dashboard).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from hpo._defaults import DEFAULT_STORAGE_URL
from hpo.storage._engine import create_engine, normalize_url
from hpo.storage._lineage import LineageStore
from hpo.storage._migrate import upgrade
from hpo.storage._optuna_view import OptunaStorage
from hpo.storage._records import LeaseStore, RequestLedger, TrialBudget
from hpo.storage._registry import RegistryStore
from hpo.storage._sql import RawSql
from hpo.storage._studies import StudyLog

# What users need: an Optuna storage on an hpo database (optuna.load_study, optuna-dashboard),
# or the whole storage. Everything else is the coordinator's, in the private modules.
__all__ = ["Storage", "open_storage", "optuna_storage"]


@dataclass
class Storage:
    """Everything the study service keeps in the database."""

    url: str
    engine: sa.Engine
    studies: StudyLog
    optuna: OptunaStorage
    leases: LeaseStore
    requests: RequestLedger
    budgets: TrialBudget
    lineage: LineageStore
    registry: RegistryStore

    def close(self) -> None:
        self.engine.dispose()


def open_storage(url: str = DEFAULT_STORAGE_URL) -> Storage:
    """Open (and migrate) the database at ``url``: a SQLite path/URL or a PostgreSQL URL."""
    engine = create_engine(url)
    upgrade(engine)
    sql = RawSql(engine)
    studies = StudyLog(sql)
    return Storage(
        url=normalize_url(url),
        engine=engine,
        studies=studies,
        optuna=OptunaStorage.standalone(studies),
        leases=LeaseStore(sql),
        requests=RequestLedger(sql),
        budgets=TrialBudget(sql),
        lineage=LineageStore(sql),
        registry=RegistryStore(sql),
    )


def optuna_storage(url: str = DEFAULT_STORAGE_URL) -> OptunaStorage:
    """An Optuna storage on an hpo database, for ``optuna.load_study`` or optuna-dashboard."""
    return open_storage(url).optuna
