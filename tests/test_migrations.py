"""The migrations build exactly the schema the code declares."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import optuna
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from optuna.storages import JournalStorage
from optuna.storages.journal import BaseJournalBackend

import hpo
import hpo.storage
from hpo.storage import open_storage
from hpo.storage._engine import create_engine
from hpo.storage._migrate import HEAD_REVISION
from hpo.storage._tables import metadata


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(hpo.storage.__file__).parent / "migrations"))
    return config


def _schema_diff_and_revision(engine: sa.Engine) -> tuple[list[Any], str | None]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn)
        return compare_metadata(context, metadata), context.get_current_revision()


def test_the_head_revision_hpo_knows_is_alembics() -> None:
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert HEAD_REVISION == head


def test_the_migrations_build_the_tables_in_code(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            config = _alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
        assert _schema_diff_and_revision(engine) == ([], HEAD_REVISION)
    finally:
        engine.dispose()


def test_a_new_database_gets_the_tables_in_code_at_the_head_revision(db_url: str) -> None:
    storage = open_storage(db_url)  # created from the tables in code, not by the migrations
    try:
        assert _schema_diff_and_revision(storage.engine) == ([], HEAD_REVISION)
        with storage.engine.begin() as conn:  # Alembic finds nothing to do
            config = _alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
        assert _schema_diff_and_revision(storage.engine) == ([], HEAD_REVISION)
        open_storage(db_url).close()  # a second open is a no-op
    finally:
        storage.close()


class _OldJournal(BaseJournalBackend):
    """The journal table of hpo before 0005, written the way that version wrote it."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def read_logs(self, log_number_from: int) -> list[dict[str, Any]]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT payload FROM hpo_journal WHERE seq >= :n ORDER BY seq"),
                {"n": log_number_from},
            ).scalars()
            return [json.loads(r) for r in rows]

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        with self._engine.begin() as conn:
            last = conn.execute(sa.text("SELECT MAX(seq) FROM hpo_journal")).scalar()
            first = 0 if last is None else last + 1
            for i, log in enumerate(logs):
                conn.execute(
                    sa.text("INSERT INTO hpo_journal (seq, payload) VALUES (:s, :p)"),
                    {"s": first + i, "p": json.dumps(log)},
                )


def test_an_old_journal_becomes_per_study_logs(db_url: str) -> None:
    engine = create_engine(db_url)
    config = _alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0004")
    old = JournalStorage(_OldJournal(engine))
    optuna.create_study(study_name="first", storage=old)  # an empty study
    second = optuna.create_study(
        study_name="second", storage=old, directions=["minimize", "maximize"]
    )
    second.set_user_attr("team", "vision")
    for x in (0.1, 0.2, 0.3):
        trial = second.ask()
        trial.suggest_float("x", 0, 1)
        trial.set_user_attr("x", x)
        second.tell(trial, [x, 1 - x])
    running = second.ask()
    running.suggest_int("n", 1, 4)
    expected = [
        (t.number, t.state, t.values, t.params, t.intermediate_values) for t in second.trials
    ]
    old_ids = [t._trial_id for t in second.trials]
    with engine.begin() as conn:  # lineage recorded under the old trial id of trial 1
        conn.execute(
            sa.text("INSERT INTO hpo_lineage (trial_id, study_id, payload) VALUES (:t, :s, '{}')"),
            {"t": old_ids[1], "s": second._study_id},
        )
    engine.dispose()

    storage = open_storage(db_url)  # upgrades to the newest schema
    try:
        view = storage.optuna
        assert sorted(s.study_name for s in view.get_all_studies()) == ["first", "second"]
        migrated = optuna.load_study(study_name="second", storage=view)
        assert migrated.user_attrs == {"team": "vision"}
        assert [
            (t.number, t.state, t.values, t.params, t.intermediate_values) for t in migrated.trials
        ] == expected
        new_ids = [t._trial_id for t in migrated.trials]
        assert storage.lineage.records(new_ids[1]).lineage == "{}"
        assert set(storage.leases.all_for_study(migrated._study_id)) == {new_ids[3]}
        with storage.engine.connect() as conn:
            assert not sa.inspect(conn).has_table("hpo_journal")
        # And the study goes on: a new trial gets the next number.
        migrated.tell(migrated.ask(), [0.0, 1.0])
        assert [t.number for t in migrated.trials] == [0, 1, 2, 3, 4]
    finally:
        storage.close()


def _open_when_all_are_ready(url: str, ready: Any, results: Any) -> None:
    from hpo.storage import open_storage as open_in_this_process

    ready.wait()
    try:
        open_in_this_process(url).close()
        results.put("ok")
    except Exception as e:  # reported to the test, which names it
        results.put(f"{type(e).__name__}: {e}")


def test_coordinators_opening_a_new_database_at_once_all_open_it(db_url: str) -> None:
    """Each reads which tables exist and creates them holding the database's lock: none finds
    the tables half made or created under it (on SQLite, 2 to 6 of 6 failed with "database is
    locked" before)."""
    context = multiprocessing.get_context("spawn")
    ready, results = context.Barrier(6), context.Queue()
    processes = [
        context.Process(target=_open_when_all_are_ready, args=(db_url, ready, results))
        for _ in range(6)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    assert outcomes == ["ok"] * 6
    storage = open_storage(db_url)
    try:
        assert _schema_diff_and_revision(storage.engine) == ([], HEAD_REVISION)
    finally:
        storage.close()


def _one_error_line(done: subprocess.CompletedProcess) -> str:
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1, done.stdout + done.stderr
    return lines[0]


def test_a_database_from_a_newer_hpo_is_one_line_and_left_alone(hpo_cli, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'newer.db'}"
    open_storage(url).close()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0099'"))
    line = _one_error_line(hpo_cli("studies", "list", "--db", url, check=False))
    assert line.startswith("error: FAILED_PRECONDITION: database: its schema revision is not")
    assert "'0099'" in line and "newer hpo" in line
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == "0099"
    engine.dispose()


def test_hpo_tables_without_a_revision_are_one_line_and_left_alone(db_url: str) -> None:
    open_storage(db_url).close()
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE alembic_version"))
    with pytest.raises(hpo.FailedPreconditionError, match="but no schema revision"):
        open_storage(db_url)
    assert "alembic_version" not in sa.inspect(engine).get_table_names()
    engine.dispose()


def test_a_file_that_is_not_a_database_is_one_line_and_left_alone(hpo_cli, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database\n" * 100)
    line = _one_error_line(hpo_cli("studies", "list", "--db", str(notes), check=False))
    assert (
        line
        == f"error: INVALID_ARGUMENT: database: sqlite:///{notes} is not a SQLite database file"
    )
    assert notes.read_text() == "not a database\n" * 100


def test_a_current_database_opens_while_another_process_writes(tmp_path: Path) -> None:
    """Opening reads the schema's revision without the write lock (in WAL mode readers never
    wait for a writer): a long write elsewhere does not hold up a coordinator's start."""
    path = tmp_path / "busy.db"
    open_storage(f"sqlite:///{path}").close()
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE alembic_version SET version_num = version_num")
    try:
        open_storage(f"sqlite:///{path}").close()  # was UNAVAILABLE after the 5 s wait
    finally:
        writer.execute("COMMIT")
        writer.close()
