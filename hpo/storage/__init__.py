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

from hpo.storage._artifacts import ArtifactStore, ArtifactTooLargeError, DigestMismatchError
from hpo.storage._engine import (
    DEFAULT_URL,
    DuplicateKeyError,
    create_engine,
    normalize_url,
    redact_url,
)
from hpo.storage._lineage import ArtifactRow, ConflictError, DataRow, LineageStore, TrialRecords
from hpo.storage._migrate import upgrade
from hpo.storage._optuna_view import OptunaStorage
from hpo.storage._records import Lease, LeaseStore, RecordedRequest, RequestLedger, TrialBudget
from hpo.storage._registry import RegistryStore, VersionRow
from hpo.storage._sql import ConditionFailedError, RawSql, Statement
from hpo.storage._studies import StudyGoneError, StudyLog, StudyRow, Unit

__all__ = [
    "ArtifactRow",
    "ArtifactStore",
    "ArtifactTooLargeError",
    "ConflictError",
    "DataRow",
    "DigestMismatchError",
    "LineageStore",
    "RegistryStore",
    "TrialRecords",
    "VersionRow",
    "DEFAULT_URL",
    "ConditionFailedError",
    "DuplicateKeyError",
    "Lease",
    "LeaseStore",
    "RecordedRequest",
    "RequestLedger",
    "OptunaStorage",
    "Statement",
    "Storage",
    "StudyGoneError",
    "StudyLog",
    "StudyRow",
    "TrialBudget",
    "Unit",
    "open_storage",
    "optuna_storage",
    "redact_url",
]


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


def open_storage(url: str = DEFAULT_URL) -> Storage:
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


def optuna_storage(url: str = DEFAULT_URL) -> OptunaStorage:
    """An Optuna storage on an hpo database, for ``optuna.load_study`` or optuna-dashboard."""
    return open_storage(url).optuna
