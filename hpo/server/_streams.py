"""Streams may not starve the server: bounded per caller and in total, and ended when idle.

A stream (UploadArtifact, DownloadArtifact) holds a server thread for as long as it lasts,
so streams together may hold only part of the threads and each caller a few of them; one
that moves no message for ``stream_idle_seconds`` is ended with DEADLINE_EXCEEDED. Health
watches hold no thread (their behavior is non-blocking), only memory: they have bounds of
their own. Beyond a bound the call is RESOURCE_EXHAUSTED. Unary calls are never counted.

The caller is the principal when the call carries a token, else the client's address.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from hpo.errors import ResourceExhaustedError
from hpo.server._handlers import is_non_blocking, rewrap
from hpo.service._access import current_caller
from hpo.service._limits import ServerLimits

_logger = logging.getLogger("hpo.server")


def caller_key(context: grpc.ServicerContext) -> str:
    """Whom a call is counted against: its principal, or the host it came from."""
    caller = current_caller()
    if caller is not None:
        return f"principal {caller.name!r}"
    return f"address {peer_host(context)}"


def peer_host(context: grpc.ServicerContext) -> str:
    """``ipv4:10.0.0.7:53122`` -> ``ipv4:10.0.0.7`` (the port changes with every connection)."""
    peer = context.peer() or "unknown"
    if peer.startswith(("ipv4:", "ipv6:")):
        return peer.rsplit(":", 1)[0]
    return peer


class StreamSlots:
    """At most ``per_caller`` open at once for one caller and ``total`` for all."""

    def __init__(self, what: str, per_caller: int, total: int) -> None:
        self._what, self._per_caller, self._total = what, per_caller, total
        self._open: Counter[str] = Counter()
        self._lock = threading.Lock()

    def take(self, key: str) -> Callable[[], None]:
        """A slot for ``key``, or ResourceExhaustedError; returns its (idempotent) release."""
        with self._lock:
            if sum(self._open.values()) >= self._total:
                raise ResourceExhaustedError(
                    f"{self._what}: the server has {self._total} open, the most it allows; "
                    "retry when one has ended"
                )
            if self._open[key] >= self._per_caller:
                raise ResourceExhaustedError(
                    f"{self._what}: {key} has {self._per_caller} open, the most allowed per "
                    "caller; retry when one has ended"
                )
            self._open[key] += 1
        released = threading.Event()

        def release() -> None:
            with self._lock:
                if released.is_set():
                    return
                released.set()
                self._open[key] -= 1
                if not self._open[key]:
                    del self._open[key]

        return release

    def open_count(self) -> int:
        with self._lock:
            return sum(self._open.values())


class IdleStreams:
    """Ends a watched stream that moved no message for ``idle_seconds``: one thread for all."""

    def __init__(self, idle_seconds: float) -> None:
        self._idle = idle_seconds
        self._watched: dict[int, _Watched] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, context: grpc.ServicerContext, method: str) -> _Watched:
        watched = _Watched(context, method, self._idle)
        with self._lock:
            self._watched[id(watched)] = watched
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="hpo-idle-streams", daemon=True
                )
                self._thread.start()
        return watched

    def forget(self, watched: _Watched) -> None:
        with self._lock:
            self._watched.pop(id(watched), None)

    def stop(self) -> None:
        self._stopping.set()

    def _run(self) -> None:
        while not self._stopping.wait(min(1.0, self._idle / 4)):
            now = time.monotonic()
            with self._lock:
                stale = [w for w in self._watched.values() if now - w.last > self._idle]
            for watched in stale:
                watched.end()
                self.forget(watched)


class _Watched:
    def __init__(self, context: grpc.ServicerContext, method: str, idle: float) -> None:
        self.context, self.method, self.idle = context, method, idle
        self.last = time.monotonic()

    def touch(self) -> None:
        self.last = time.monotonic()

    def end(self) -> None:
        name = self.method.rsplit("/", 1)[-1]
        _logger.info("ended %s: no message for %.0f s", name, self.idle)
        end_call(
            self.context,
            grpc.StatusCode.DEADLINE_EXCEEDED,
            f"{name}: no message for {self.idle:g} s; the stream was closed",
        )


def end_call(context: grpc.ServicerContext, code: grpc.StatusCode, message: str) -> None:
    """End a call from a thread other than the one serving it, with a status the client sees.

    grpc's public ``cancel()`` can only answer CANCELLED; the call object under the server
    context (private) cancels with a code and a message. Without it, fall back to cancel().
    """
    call = getattr(getattr(context, "_rpc_event", None), "call", None)
    try:
        call.cancel(code.value[0], message)  # type: ignore[union-attr]
    except Exception:  # another grpc version: the public way, without the message
        context.cancel()


class StreamGuard(grpc.ServerInterceptor):
    """Counts every streaming call against :class:`StreamSlots` and watches blocking ones
    for idleness; unary calls pass untouched."""

    def __init__(self, limits: ServerLimits, threads: int) -> None:
        self._streams = StreamSlots(
            "streams", limits.streams_per_caller, limits.total_streams(threads)
        )
        self._watches = StreamSlots(
            "health watches", limits.watches_per_caller, limits.watches_total
        )
        self.idle = IdleStreams(limits.stream_idle_seconds)

    def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(details)
        if handler is None or not (handler.request_streaming or handler.response_streaming):
            return handler
        behavior = handler.unary_stream or handler.stream_stream or handler.stream_unary
        blocking = not is_non_blocking(behavior)
        slots = self._streams if blocking else self._watches
        method = details.method
        return rewrap(handler, lambda context: self._guarded(context, slots, method, blocking))

    @contextlib.contextmanager
    def _guarded(
        self, context: grpc.ServicerContext, slots: StreamSlots, method: str, blocking: bool
    ) -> Iterator[Callable[[], None] | None]:
        release = slots.take(caller_key(context))
        if not context.add_callback(release):  # the call is over already
            release()
        if not blocking:
            yield None
            return
        watched = self.idle.watch(context, method)
        try:
            yield watched.touch
        finally:
            self.idle.forget(watched)
