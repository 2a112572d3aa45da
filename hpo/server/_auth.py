"""Bearer tokens: stored hashed, compared in constant time, checked by one interceptor.

Token file: one line per token, ``<principal> <role> sha256:<hex of the token's SHA-256>``
(role ``user`` or ``admin``); ``#`` starts a comment. ``hpo tokens create`` writes lines;
the token itself is shown once and never stored. The file is read again when it changes
(and on SIGHUP, see ``hpo server``): deleting a line revokes its token without a restart; a
file that no longer parses is reported and the tokens read last stay in force.

Calls without a valid token are limited per client address (a token bucket: bursts of
``bad_token_burst``, then ``bad_token_rate`` per second; RESOURCE_EXHAUSTED beyond) and
logged as a summary: one line for an address's first refusal, then at most one a minute.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc

from hpo.server._handlers import rewrap
from hpo.server._streams import peer_host
from hpo.service._access import Principal, calling_as
from hpo.service._limits import ServerLimits

_logger = logging.getLogger("hpo.server")
ROLES = ("user", "admin")
# Health checks pass without a token, so load balancers and orchestrators can probe.
OPEN_METHODS_PREFIX = "/grpc.health.v1.Health/"


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

    def __len__(self) -> int:
        return len(self._entries)

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
            entries.append((parts[2], Principal(parts[0], admin=parts[1] == "admin")))
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


class TokenFile:
    """The token file, read again whenever it changes (size, time or inode) or on
    :meth:`reload`; a file that no longer parses leaves the last good tokens in force."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._seen = self._stamp()
        self._table = TokenTable.load(self.path)  # at start, a bad file is an error

    def table(self) -> TokenTable:
        if self._stamp() != self._seen:
            self.reload()
        return self._table

    def reload(self) -> bool:
        """Read the file again; False (and the old tokens kept) when it does not parse."""
        with self._lock:
            stamp = self._stamp()
            try:
                table = TokenTable.load(self.path)
            except (OSError, ValueError) as e:
                if stamp != self._seen:
                    _logger.error("token file not reloaded, the previous tokens stay: %s", e)
                self._seen = stamp
                return False
            self._table, self._seen = table, stamp
        _logger.info("token file %s read: %d tokens", self.path, len(table))
        return True

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            info = os.stat(self.path)
        except OSError:
            return None
        return (info.st_mtime_ns, info.st_size, info.st_ino)


class RateLimiter:
    """A token bucket per key: ``rate`` calls per second, bursts up to ``burst``."""

    _MAX_KEYS = 10_000

    def __init__(self, rate: float, burst: float) -> None:
        self._rate, self._burst = rate, burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self._burst, now))
            tokens = min(self._burst, tokens + (now - last) * self._rate)
            allowed = tokens >= 1.0
            self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
            if len(self._buckets) > self._MAX_KEYS:
                self._forget_full(now)
        return allowed

    def _forget_full(self, now: float) -> None:
        """Drop the buckets that have refilled: they hold nothing a new one would not."""
        for key, (tokens, last) in list(self._buckets.items()):
            if tokens + (now - last) * self._rate >= self._burst:
                del self._buckets[key]


class RefusalLog:
    """Refused calls, logged per client address: the first at once, then a summary at most
    every ``interval`` seconds (a flood of bad tokens does not flood the log)."""

    _MAX_PEERS = 10_000

    def __init__(self, interval: float = 60.0) -> None:
        self._interval = interval
        self._pending: dict[str, tuple[float, int, int]] = {}  # since, refused, rate-limited
        self._lock = threading.Lock()

    def refused(self, peer: str, method: str, reason: str, limited: bool) -> None:
        now = time.monotonic()
        with self._lock:
            entry = self._pending.get(peer)
            if entry is None:
                if len(self._pending) >= self._MAX_PEERS:  # forget the quiet ones
                    for old, (since, _, _) in list(self._pending.items()):
                        if now - since >= self._interval:
                            del self._pending[old]
                self._pending[peer] = (now, 0, 0)
                first = True
            else:
                since, count, rate_limited = entry
                count, rate_limited = count + 1, rate_limited + limited
                if now - since < self._interval:
                    self._pending[peer] = (since, count, rate_limited)
                    return
                self._pending[peer] = (now, 0, 0)
                first = False
        if first:
            _logger.warning(
                "refused a call to %s from %s: %s (more from this address are summarized)",
                method,
                peer,
                reason,
            )
        else:
            _logger.warning(
                "refused %d calls without a valid token from %s in %.0f s (%d rate-limited)",
                count,
                peer,
                now - since,
                rate_limited,
            )


class TokenInterceptor(grpc.ServerInterceptor):
    """Refuses every call without a valid ``authorization: Bearer <token>`` (UNAUTHENTICATED),
    except health checks; an address that keeps trying gets RESOURCE_EXHAUSTED; with a rate
    limit, a principal over it gets RESOURCE_EXHAUSTED."""

    def __init__(
        self,
        tokens: TokenFile,
        limiter: RateLimiter | None = None,
        limits: ServerLimits | None = None,
    ) -> None:
        limits = limits or ServerLimits()
        self.tokens = tokens
        self._limiter = limiter
        self._bad_calls = RateLimiter(limits.bad_token_rate, limits.bad_token_burst)
        self._refusals = RefusalLog()

    def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(details)
        if handler is None or details.method.startswith(OPEN_METHODS_PREFIX):
            return handler
        metadata = dict(details.invocation_metadata or ())
        header = str(metadata.get("authorization", ""))
        token = header[len("Bearer ") :] if header.startswith("Bearer ") else ""
        method = details.method
        # Checked in the thread that runs the call, which knows the client's address.
        return rewrap(handler, lambda context: self._authenticated(context, method, token))

    @contextlib.contextmanager
    def _authenticated(
        self, context: grpc.ServicerContext, method: str, token: str
    ) -> Iterator[None]:
        principal = self.tokens.table().authenticate(token) if token else None
        if principal is None:
            peer = peer_host(context)
            limited = not self._bad_calls.allow(peer)
            reason = "invalid token" if token else "no token"
            self._refusals.refused(peer, method, reason, limited)
            if limited:
                context.abort(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    "too many calls without a valid token from this address; retry later",
                )
            context.abort(
                grpc.StatusCode.UNAUTHENTICATED,
                "invalid token" if token else "no token: send 'authorization: Bearer <token>'",
            )
        assert principal is not None
        if self._limiter is not None and not self._limiter.allow(principal.name):
            context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"rate limit of {principal.name!r} exceeded; retry later",
            )
        with calling_as(principal):
            yield
