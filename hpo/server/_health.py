"""The grpc.health.v1 service: ``Check``, and ``Watch`` without a server thread per watch.

A watch is non-blocking: it registers a callback and returns; status changes are sent from
the thread that sets them. Sends happen outside the service's lock: the thread that completes
a send may itself need that lock (to drop a watch its client closed), so sending under it can
deadlock at shutdown, as grpcio-health-checking's servicer does (grpc/grpc#43403). Every send
carries the service's status as of that moment, so a watcher's last reply is always current.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

Send = Callable[[health_pb2.HealthCheckResponse], Any]
_UNKNOWN = health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class HealthService(health_pb2_grpc.HealthServicer):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._status: dict[str, int] = {}
        self._watchers: dict[str, dict[Send, threading.Lock]] = {}
        self._shutting_down = False

    def Check(self, request: health_pb2.HealthCheckRequest, context: Any) -> Any:
        with self._lock:
            status = self._status.get(request.service)
        if status is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"service: unknown {request.service!r}")
        return health_pb2.HealthCheckResponse(status=status)

    def Watch(
        self, request: health_pb2.HealthCheckRequest, context: Any, send: Send | None = None
    ) -> None:
        if send is None:  # grpc runs this non-blocking (see below): it always passes one
            raise RuntimeError("HealthService.Watch must run non-blocking")
        service = request.service
        with self._lock:
            self._watchers.setdefault(service, {})[send] = threading.Lock()
        if not context.add_callback(lambda: self._forget(service, send)):
            self._forget(service, send)
            return
        self._notify(service, send)

    Watch.experimental_non_blocking = True  # type: ignore[attr-defined]

    def set(self, service: str, status: int) -> None:
        """Set a service's status and tell its watchers (ignored once shutting down)."""
        with self._lock:
            if self._shutting_down:
                return
            self._status[service] = status
            watchers = list(self._watchers.get(service, ()))
        for send in watchers:
            self._notify(service, send)

    def enter_graceful_shutdown(self) -> None:
        """Every service NOT_SERVING from now on, whatever is set later."""
        with self._lock:
            if self._shutting_down:
                return
            for service in self._status:
                self._status[service] = _NOT_SERVING
            self._shutting_down = True
            watched = [(s, send) for s, sends in self._watchers.items() for send in sends]
        for service, send in watched:
            self._notify(service, send)

    def _notify(self, service: str, send: Send) -> None:
        with self._lock:
            sending = self._watchers.get(service, {}).get(send)
        if sending is None:  # closed meanwhile
            return
        with sending:  # one send at a time per watcher, each with the status of its moment
            with self._lock:
                status = self._status.get(service, _UNKNOWN)
            send(health_pb2.HealthCheckResponse(status=status))

    def _forget(self, service: str, send: Send) -> None:
        with self._lock:
            sends = self._watchers.get(service, {})
            sends.pop(send, None)
            if not sends:
                self._watchers.pop(service, None)
