"""Storage: Optuna's JournalStorage on a SQL operation log, plus leases and request ids.

``open_storage(url)`` is the entry point; it migrates the schema and returns a
:class:`Storage` whose ``optuna`` attribute is an ordinary Optuna storage (the samplers,
``optuna.load_study`` and optuna-dashboard all use it).
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
from hpo.storage._journal import SnapshotJournalStorage, SqlJournalBackend
from hpo.storage._lineage import ArtifactRow, ConflictError, DataRow, LineageStore, TrialRecords
from hpo.storage._migrate import upgrade
from hpo.storage._records import Lease, LeaseStore, RecordedRequest, RequestLedger, TrialBudget
from hpo.storage._registry import RegistryStore, VersionRow
from hpo.storage._sql import ConditionFailedError, RawSql, Statement

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
    "SnapshotJournalStorage",
    "Statement",
    "SqlJournalBackend",
    "Storage",
    "TrialBudget",
    "open_storage",
    "optuna_storage",
    "redact_url",
]


@dataclass
class Storage:
    """Everything the study service keeps in the database."""

    url: str
    engine: sa.Engine
    optuna: SnapshotJournalStorage
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
    return Storage(
        url=normalize_url(url),
        engine=engine,
        optuna=SnapshotJournalStorage(SqlJournalBackend(engine)),
        leases=LeaseStore(sql),
        requests=RequestLedger(sql),
        budgets=TrialBudget(sql),
        lineage=LineageStore(sql),
        registry=RegistryStore(sql),
    )


def optuna_storage(url: str = DEFAULT_URL) -> SnapshotJournalStorage:
    """An Optuna storage on an hpo database, for ``optuna.load_study`` or optuna-dashboard."""
    return open_storage(url).optuna
