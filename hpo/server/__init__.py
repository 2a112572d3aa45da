"""The coordinator's gRPC server. ``Coordinator`` runs one; ``hpo server`` is its CLI."""

from __future__ import annotations

from hpo._address import is_loopback
from hpo.server._auth import Principal, TokenTable, add_token, hash_token
from hpo.server._coordinator import SERVICE_NAME, Coordinator
from hpo.server._security import ServerSecurity

__all__ = [
    "SERVICE_NAME",
    "Coordinator",
    "Principal",
    "ServerSecurity",
    "TokenTable",
    "add_token",
    "hash_token",
    "is_loopback",
]
