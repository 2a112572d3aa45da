"""Bridges from hpo to other tools (MLflow), each behind an optional extra."""
