"""Who is calling: the principal the server authenticated, for ownership rules.

The server sets it per call (``calling_as``); the service reads it (``current_caller``). Calls
made with no authentication configured, and the coordinator's own background work, have no
caller and are not restricted.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from hpo.errors import PermissionDeniedError


@dataclass(frozen=True)
class Principal:
    """Who calls: the name a token (or client certificate) stands for, and whether it is an
    admin (sees and changes every study and model)."""

    name: str
    admin: bool = False


_CALLER: ContextVar[Principal | None] = ContextVar("hpo_caller", default=None)


def current_caller() -> Principal | None:
    return _CALLER.get()


@contextlib.contextmanager
def calling_as(caller: Principal | None) -> Iterator[None]:
    token = _CALLER.set(caller)
    try:
        yield
    finally:
        _CALLER.reset(token)


def may_access(owner: str) -> bool:
    """A study with no owner is everyone's; otherwise its owner's and the admins'."""
    caller = current_caller()
    return caller is None or not owner or caller.admin or caller.name == owner


def require_access(kind: str, name: str, owner: str) -> None:
    if not may_access(owner):
        raise PermissionDeniedError(f"{kind}: {name!r} belongs to another principal")
