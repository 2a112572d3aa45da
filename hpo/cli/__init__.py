"""The ``hpo`` command line. ``main`` is the console script's entry point."""

from __future__ import annotations

from hpo.cli._app import app, main

__all__ = ["app", "main"]
