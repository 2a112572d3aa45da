"""Optuna's own storage conformance suite against hpo's journal-on-SQL storage."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from optuna.storages import BaseStorage
from optuna.testing.pytest_storages import StorageTestCase

from hpo.storage import open_storage


class TestJournalOnSql(StorageTestCase):
    @pytest.fixture
    def storage(self, db_url: str) -> Iterator[BaseStorage]:
        opened = open_storage(db_url)
        try:
            yield opened.optuna
        finally:
            opened.close()
