"""Lineage rows beside each trial: code/environment, data digests, metrics, artifacts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hpo.storage._engine import DuplicateKeyError
from hpo.storage._sql import RawSql, Statement


class ConflictError(Exception):
    """A name recorded already with other content."""


@dataclass(frozen=True)
class DataRow:
    name: str
    digest: str
    kind: str
    size_bytes: int
    source: str


@dataclass(frozen=True)
class ArtifactRow:
    name: str
    digest: str
    size_bytes: int


@dataclass(frozen=True)
class TrialRecords:
    """Everything recorded for one trial; ``lineage`` is the Lineage message as JSON."""

    lineage: str | None
    data: list[DataRow]
    metrics: list[tuple[str, int, float]]
    artifacts: list[ArtifactRow]


class LineageStore:
    def __init__(self, sql: RawSql) -> None:
        self._sql = sql

    @staticmethod
    def lineage_statement(study_id: int, trial_id: int, payload: str) -> Statement:
        """Record (or replace) the trial's code version and environment, as Lineage JSON."""
        return Statement(
            "INSERT INTO hpo_lineage (trial_id, study_id, payload) VALUES (?, ?, ?) "
            "ON CONFLICT (trial_id) DO UPDATE SET payload = excluded.payload",
            (trial_id, study_id, payload),
        )

    def record_lineage(self, study_id: int, trial_id: int, payload: str) -> None:
        with self._sql.write() as cursor:
            self._sql.execute_all(cursor, [self.lineage_statement(study_id, trial_id, payload)])

    def log_data(self, study_id: int, trial_id: int, row: DataRow) -> None:
        """Record a data set; the same name again must carry the same digest."""
        sql = (
            "INSERT INTO hpo_data (trial_id, name, study_id, digest, kind, size_bytes, source) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)"
        )
        params = (trial_id, row.name, study_id, row.digest, row.kind, row.size_bytes, row.source)
        self._insert_once(sql, params, "hpo_data", trial_id, row.name, row.digest)

    def add_artifact(self, study_id: int, trial_id: int, row: ArtifactRow) -> None:
        """Record an uploaded artifact; the same name again must carry the same digest."""
        sql = (
            "INSERT INTO hpo_artifacts (trial_id, name, study_id, digest, size_bytes) "
            "VALUES (?, ?, ?, ?, ?)"
        )
        params = (trial_id, row.name, study_id, row.digest, row.size_bytes)
        self._insert_once(sql, params, "hpo_artifacts", trial_id, row.name, row.digest)

    def _insert_once(
        self, sql: str, params: tuple, table: str, trial_id: int, name: str, digest: str
    ) -> None:
        try:
            with self._sql.write() as cursor:
                cursor.execute(self._sql.sql(sql), params)
        except DuplicateKeyError:
            with self._sql.read() as cursor:
                cursor.execute(
                    self._sql.sql(f"SELECT digest FROM {table} WHERE trial_id = ? AND name = ?"),
                    (trial_id, name),
                )
                row = cursor.fetchone()
            if row is None or row[0] != digest:
                raise ConflictError(name) from None

    def log_metrics(
        self, study_id: int, trial_id: int, values: list[tuple[str, int, float]]
    ) -> None:
        """Record metric values; a (name, step) recorded already keeps its first value."""
        sql = self._sql.sql(
            "INSERT INTO hpo_metrics (trial_id, name, step, study_id, value) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (trial_id, name, step) DO NOTHING"
        )
        with self._sql.write() as cursor:
            cursor.executemany(sql, [(trial_id, n, s, study_id, v) for n, s, v in values])

    def studies_with_data(self, digests: Sequence[str]) -> dict[int, set[str]]:
        """Studies whose trials recorded any of ``digests``: study id -> those it recorded."""
        if not digests:
            return {}
        marks = ", ".join("?" for _ in digests)
        with self._sql.read() as cursor:
            cursor.execute(
                self._sql.sql(
                    f"SELECT DISTINCT study_id, digest FROM hpo_data WHERE digest IN ({marks})"
                ),
                tuple(digests),
            )
            found: dict[int, set[str]] = {}
            for study_id, digest in cursor.fetchall():
                found.setdefault(int(study_id), set()).add(str(digest))
        return found

    def records(self, trial_id: int) -> TrialRecords:
        with self._sql.read() as cursor:
            cursor.execute(
                self._sql.sql("SELECT payload FROM hpo_lineage WHERE trial_id = ?"), (trial_id,)
            )
            lineage = cursor.fetchone()
            cursor.execute(
                self._sql.sql(
                    "SELECT name, digest, kind, size_bytes, source FROM hpo_data "
                    "WHERE trial_id = ? ORDER BY name"
                ),
                (trial_id,),
            )
            data = [DataRow(*row) for row in cursor.fetchall()]
            cursor.execute(
                self._sql.sql(
                    "SELECT name, step, value FROM hpo_metrics WHERE trial_id = ? "
                    "ORDER BY name, step"
                ),
                (trial_id,),
            )
            metric_rows = [(str(n), int(s), float(v)) for n, s, v in cursor.fetchall()]
            cursor.execute(
                self._sql.sql(
                    "SELECT name, digest, size_bytes FROM hpo_artifacts WHERE trial_id = ? "
                    "ORDER BY name"
                ),
                (trial_id,),
            )
            artifact_rows = [ArtifactRow(*row) for row in cursor.fetchall()]
        return TrialRecords(lineage[0] if lineage else None, data, metric_rows, artifact_rows)

    def studies_with_artifact(self, digest: str) -> list[int]:
        """The studies one of whose trials recorded an artifact with this digest."""
        with self._sql.read() as cursor:
            cursor.execute(
                self._sql.sql("SELECT DISTINCT study_id FROM hpo_artifacts WHERE digest = ?"),
                (digest,),
            )
            return [int(row[0]) for row in cursor.fetchall()]
