"""Defaults shared by the SDK and the coordinator, in a module that imports nothing heavy."""

from __future__ import annotations

#: The embedded coordinator's database: a SQLite file in the working directory.
DEFAULT_STORAGE_URL = "sqlite:///hpo.db"

#: The trial budget of a new study that ``hpo sweep`` creates without ``--trials``.
DEFAULT_SWEEP_TRIALS = 100
