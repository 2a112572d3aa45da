"""Bearer tokens: stored hashed, compared in constant time, checked by one interceptor.

Token file: one line per token, ``<principal> <role> sha256:<hex of the token's SHA-256>``
(role ``user`` or ``admin``); ``#`` starts a comment. ``hpo tokens create`` writes lines;
the token itself is shown once and never stored.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from hpo.server._handlers import refused, rewrap
from hpo.service._access import Caller, calling_as

_logger = logging.getLogger("hpo.server")
ROLES = ("user", "admin")
# Health checks pass without a token, so load balancers and orchestrators can probe.
OPEN_METHODS_PREFIX = "/grpc.health.v1.Health/"


@dataclass(frozen=True)
class Principal:
    name: str
    role: str

    @property
    def admin(self) -> bool:
        return self.role == "admin"


def hash_token(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "hpo_" + secrets.token_urlsafe(32)


def add_token(path: str | os.PathLike[str], principal: str, role: str = "user") -> str:
    """Create a token for ``principal``, append its hash to the file, return the token."""
    if not principal or any(c.isspace() for c in principal):
        raise ValueError("principal must be a non-empty name without spaces")
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    token = new_token()
    file = Path(path)
    fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as out:
        out.write(f"{principal} {role} {hash_token(token)}\n")
    return token


class TokenTable:
    """The principals that may call, by token hash."""

    def __init__(self, entries: list[tuple[str, Principal]]) -> None:
        self._entries = entries

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TokenTable:
        entries = []
        for number, line in enumerate(Path(path).read_text().splitlines(), 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) != 3 or parts[1] not in ROLES or not parts[2].startswith("sha256:"):
                raise ValueError(
                    f"{path}:{number}: expected '<principal> <user|admin> sha256:<hex>'"
                )
            entries.append((parts[2], Principal(parts[0], parts[1])))
        if not entries:
            raise ValueError(f"{path}: no tokens")
        return cls(entries)

    def authenticate(self, token: str) -> Principal | None:
        """The token's principal. Every entry is compared, in constant time each, so the time
        taken says nothing about which (or whether a) token matched."""
        digest = hash_token(token)
        found = None
        for stored, principal in self._entries:
            if hmac.compare_digest(stored, digest):
                found = principal
        return found


class RateLimiter:
    """A token bucket per principal: ``rate`` calls per second, bursts up to ``burst``."""

    def __init__(self, rate: float, burst: float) -> None:
        self._rate, self._burst = rate, burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, principal: str) -> bool:
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(principal, (self._burst, now))
            tokens = min(self._burst, tokens + (now - last) * self._rate)
            allowed = tokens >= 1.0
            self._buckets[principal] = (tokens - 1.0 if allowed else tokens, now)
        return allowed


class TokenInterceptor(grpc.ServerInterceptor):
    """Refuses every call without a valid ``authorization: Bearer <token>`` (UNAUTHENTICATED),
    except health checks; with a rate limit, a principal over it gets RESOURCE_EXHAUSTED."""

    def __init__(self, tokens: TokenTable, limiter: RateLimiter | None = None) -> None:
        self._tokens = tokens
        self._limiter = limiter

    def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(details)
        if handler is None or details.method.startswith(OPEN_METHODS_PREFIX):
            return handler
        metadata = dict(details.invocation_metadata or ())
        header = str(metadata.get("authorization", ""))
        token = header[len("Bearer ") :] if header.startswith("Bearer ") else ""
        if not token:
            return _refuse(
                handler,
                grpc.StatusCode.UNAUTHENTICATED,
                "no token: send 'authorization: Bearer <token>'",
            )
        principal = self._tokens.authenticate(token)
        if principal is None:
            _logger.warning("refused a call to %s: unknown token", details.method)
            return _refuse(handler, grpc.StatusCode.UNAUTHENTICATED, "invalid token")
        if self._limiter is not None and not self._limiter.allow(principal.name):
            return _refuse(
                handler,
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"rate limit of {principal.name!r} exceeded; retry later",
            )
        caller = Caller(principal.name, principal.admin)
        # Set in the thread that runs the call, not in the one that intercepted it.
        return rewrap(handler, lambda context: calling_as(caller))


def _refuse(handler: Any, code: grpc.StatusCode, message: str) -> Any:
    return rewrap(handler, lambda context: refused(context, code, message))
