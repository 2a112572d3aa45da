"""The coordinator's gRPC server. ``Coordinator`` runs one; ``hpo server`` is its CLI."""

from __future__ import annotations

from hpo.server._coordinator import SERVICE_NAME, Coordinator

__all__ = ["SERVICE_NAME", "Coordinator"]
