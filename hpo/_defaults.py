"""Defaults shared by the SDK and the coordinator, in a module that imports nothing heavy."""

from __future__ import annotations

#: The embedded coordinator's database: a SQLite file in the working directory.
DEFAULT_STORAGE_URL = "sqlite:///hpo.db"
#: The largest request or reply either side accepts (hpo.service._limits holds the others).
MAX_MESSAGE_BYTES = 16 * 1024 * 1024

#: The trial budget of a new study that ``hpo sweep`` creates without ``--trials``.
DEFAULT_SWEEP_TRIALS = 100
