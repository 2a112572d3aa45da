"""Registered model versions and their aliases."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from hpo._metrics import observe_database_retry
from hpo.storage._engine import DuplicateKeyError
from hpo.storage._sql import RawSql

_COLUMNS = (
    "name, version, study, trial_number, artifact_name, digest, size_bytes, created_at, "
    "request_id, request_digest, owner"
)
_ATTEMPTS = 8


@dataclass(frozen=True)
class VersionRow:
    name: str
    version: int
    study: str
    trial_number: int
    artifact_name: str
    digest: str
    size_bytes: int
    created_at: float
    request_id: str | None = None
    request_digest: str | None = None
    owner: str = ""
    aliases: tuple[str, ...] = field(default=())


class RegistryStore:
    """Versions are numbered 1, 2, ... per model inside the inserting transaction; two
    registrations at once get two numbers (a clash on PostgreSQL is retried)."""

    def __init__(self, sql: RawSql) -> None:
        self._sql = sql

    def add_version(self, row: VersionRow) -> VersionRow:
        """Insert ``row`` with the next version number; with a request id already used for this
        model, return the version it created instead (the caller compares digests)."""
        insert = self._sql.sql(
            f"INSERT INTO hpo_model_versions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        for _ in range(_ATTEMPTS):
            if row.request_id:
                existing = self.by_request(row.name, row.request_id)
                if existing is not None:
                    return existing
            try:
                with self._sql.write() as cursor:
                    cursor.execute(
                        self._sql.sql(
                            "SELECT COALESCE(MAX(version), 0) FROM hpo_model_versions WHERE name = ?"
                        ),
                        (row.name,),
                    )
                    version = int(cursor.fetchone()[0]) + 1
                    created = VersionRow(
                        **{**row.__dict__, "version": version, "created_at": time.time()}
                    )
                    cursor.execute(insert, self._values(created))
                return created
            except DuplicateKeyError:
                observe_database_retry("register_model_version")
                continue  # another registration took this number (or this request id)
        raise DuplicateKeyError(f"could not number a version of {row.name!r}")

    @staticmethod
    def _values(row: VersionRow) -> tuple:
        return (
            row.name,
            row.version,
            row.study,
            row.trial_number,
            row.artifact_name,
            row.digest,
            row.size_bytes,
            row.created_at,
            row.request_id,
            row.request_digest,
            row.owner,
        )

    def by_request(self, name: str, request_id: str) -> VersionRow | None:
        rows = self._select("WHERE name = ? AND request_id = ?", (name, request_id))
        return rows[0] if rows else None

    def get(self, name: str, version: int) -> VersionRow | None:
        rows = self._select("WHERE name = ? AND version = ?", (name, version))
        return rows[0] if rows else None

    def with_digest(self, digest: str) -> list[VersionRow]:
        """The versions whose artifact has this digest."""
        return self._select("WHERE digest = ?", (digest,))

    def owner(self, name: str) -> str | None:
        """The model's owner (that of its first version); None for an unknown model."""
        rows = self._select("WHERE name = ? AND version = 1", (name,))
        return rows[0].owner if rows else None

    def alias_version(self, name: str, alias: str) -> int | None:
        with self._sql.read() as cursor:
            cursor.execute(
                self._sql.sql("SELECT version FROM hpo_model_aliases WHERE name = ? AND alias = ?"),
                (name, alias),
            )
            row = cursor.fetchone()
        return int(row[0]) if row else None

    def set_alias(self, name: str, alias: str, version: int) -> None:
        with self._sql.write() as cursor:
            cursor.execute(
                self._sql.sql(
                    "INSERT INTO hpo_model_aliases (name, alias, version) VALUES (?, ?, ?) "
                    "ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version"
                ),
                (name, alias, version),
            )

    def all_versions(self) -> list[VersionRow]:
        return self._select("", ())

    def _select(self, where: str, params: tuple) -> list[VersionRow]:
        with self._sql.read() as cursor:
            cursor.execute(
                self._sql.sql(
                    f"SELECT {_COLUMNS} FROM hpo_model_versions {where} ORDER BY name, version"
                ),
                params,
            )
            rows = [VersionRow(*row) for row in cursor.fetchall()]
            names = sorted({r.name for r in rows})
            aliases: dict[tuple[str, int], list[str]] = {}
            if names:  # only the aliases of the models found, not the whole table
                marks = ", ".join("?" * len(names))
                cursor.execute(
                    self._sql.sql(
                        "SELECT name, alias, version FROM hpo_model_aliases "
                        f"WHERE name IN ({marks}) ORDER BY alias"
                    ),
                    tuple(names),
                )
                for name, alias, version in cursor.fetchall():
                    aliases.setdefault((name, int(version)), []).append(alias)
        return [
            VersionRow(**{**r.__dict__, "aliases": tuple(aliases.get((r.name, r.version), ()))})
            for r in rows
        ]
