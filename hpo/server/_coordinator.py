"""A running coordinator: gRPC server + study service + lease reaper + health service."""

from __future__ import annotations

import logging
from concurrent import futures
from typing import Any

import grpc
import optuna
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from hpo import _metrics
from hpo._defaults import DEFAULT_STORAGE_URL
from hpo.server._errors import ErrorInterceptor
from hpo.server._lineage_servicers import RegistryServicer, TrackingServicer
from hpo.server._rpc_metrics import RpcMetricsInterceptor
from hpo.server._security import ServerSecurity
from hpo.server._servicer import CoordinatorServicer
from hpo.server._streams import StreamGuard
from hpo.service import LeaseReaper, RegistryService, StudyService, TrackingService
from hpo.service._limits import MAX_MESSAGE_BYTES, ServerLimits
from hpo.storage import open_storage
from hpo.storage._artifacts import ArtifactStore
from hpo.storage._engine import normalize_url, redact_url
from hpo.v1 import coordinator_pb2_grpc as api_grpc
from hpo.v1 import registry_pb2_grpc as reg_grpc
from hpo.v1 import tracking_pb2_grpc as trk_grpc

_logger = logging.getLogger("hpo.server")
SERVICE_NAME = "hpo.v1.Coordinator"
SERVICE_NAMES = (SERVICE_NAME, "hpo.v1.Tracking", "hpo.v1.Registry")


class Coordinator:
    """A coordinator serving one database on ``host:port`` (port 0 picks a free port).

    ``start()`` returns once it accepts calls; ``stop(grace)`` stops taking new calls, lets
    the ones in flight finish for up to ``grace`` seconds, then closes the database.
    With ``metrics_port`` (0: off) it also serves Prometheus metrics over HTTP on
    ``host:metrics_port`` (see :mod:`hpo._metrics` for what they are).
    """

    def __init__(
        self,
        storage_url: str = DEFAULT_STORAGE_URL,
        host: str = "127.0.0.1",
        port: int = 0,
        max_workers: int = 16,
        reap_interval: float = 5.0,
        study_idle_seconds: float = 600.0,
        artifacts_url: str | None = None,
        security: ServerSecurity | None = None,
        metrics_port: int = 0,
        limits: ServerLimits | None = None,
    ) -> None:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        if not 0 <= metrics_port <= 65535:
            raise ValueError(f"metrics_port: {metrics_port} is not a port (0 to 65535; 0: off)")
        security = security or ServerSecurity()
        security.check_exposure(host)
        self.limits = limits = limits or ServerLimits()
        self.metrics_port = metrics_port
        self._metrics_endpoint: _metrics.MetricsEndpoint | None = None
        measured = [RpcMetricsInterceptor()] if metrics_port else []
        self._streams = StreamGuard(limits, max_workers)
        self._tokens = security.token_interceptor(limits)
        first = [self._tokens] if self._tokens is not None else []
        options = [
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.so_reuseport", 0),
        ]
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="hpo-rpc"),
            interceptors=[*measured, *first, ErrorInterceptor(), self._streams],
            options=options,
        )
        self.host = host
        # The port first: a coordinator that cannot listen touches no database.
        self.port = _listen(self._server, host, port, security.server_credentials())
        self.storage_url = storage_url
        try:
            self.storage = open_storage(storage_url)
        except BaseException:
            self._server.stop(None)
            raise
        self.service = StudyService(self.storage)
        self.artifacts_url = artifacts_url or default_artifacts_url(storage_url)
        self.tracking = TrackingService(
            self.service, ArtifactStore(self.artifacts_url), limits.max_artifact_bytes
        )
        self.registry = RegistryService(self.service)
        self._reaper = LeaseReaper(
            self.service, interval=reap_interval, idle_seconds=study_idle_seconds
        )
        self._health = health.HealthServicer()
        api_grpc.add_CoordinatorServicer_to_server(CoordinatorServicer(self.service), self._server)
        trk_grpc.add_TrackingServicer_to_server(TrackingServicer(self.tracking), self._server)
        reg_grpc.add_RegistryServicer_to_server(RegistryServicer(self.registry), self._server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)

    @property
    def address(self) -> str:
        return f"{_bracket(self.host)}:{self.port}"

    def start(self) -> Coordinator:
        if self.metrics_port:
            self._metrics_endpoint = _metrics.serve(self.host, self.metrics_port)
            _metrics.add_trial_counts(self.service.held_trial_counts)
        self._server.start()
        self._reaper.start()
        for name in ("", *SERVICE_NAMES):
            self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        _logger.info("coordinator on %s serving %s", self.address, redact_url(self.storage_url))
        return self

    def stop(self, grace: float = 10.0) -> None:
        self._health.enter_graceful_shutdown()
        self._server.stop(grace).wait()
        self._streams.idle.stop()
        self._reaper.stop()
        if self._metrics_endpoint is not None:
            _metrics.remove_trial_counts(self.service.held_trial_counts)
            self._metrics_endpoint.close()
        self.storage.close()

    def reload_tokens(self) -> bool:
        """Read the token file again (``hpo server`` does on SIGHUP); False when there is
        none or it does not parse (the previous tokens stay)."""
        return self._tokens.tokens.reload() if self._tokens is not None else False

    def wait(self) -> None:
        self._server.wait_for_termination()

    def __enter__(self) -> Coordinator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def default_artifacts_url(storage_url: str) -> str:
    """Beside a SQLite file (``hpo.db`` -> ``hpo-artifacts/``); else ``./hpo-artifacts``."""
    import os

    url = normalize_url(storage_url)
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        path = url[len("sqlite:///") :]
        return os.path.join(os.path.dirname(os.path.abspath(path)), "hpo-artifacts")
    return os.path.abspath("hpo-artifacts")


def _listen(server: grpc.Server, host: str, port: int, credentials: Any) -> int:
    """Bind ``host:port`` (TLS when ``credentials``); the port bound, or OSError saying why
    not in one line (``port 50051 is in use on 127.0.0.1``)."""
    target = f"{_bracket(host)}:{port}"
    problem = _why_not_listening(host, port) if port else None
    if problem:  # asked first: gRPC would log its own multi-line complaint
        raise OSError(problem)
    try:
        bound = (
            server.add_secure_port(target, credentials)
            if credentials is not None
            else server.add_insecure_port(target)
        )
    except RuntimeError:  # grpc's "Failed to bind to address ..."
        bound = 0
    if not bound:
        raise OSError(_why_not_listening(host, port) or f"cannot listen on {host}:{port}")
    return bound


def _why_not_listening(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be bound (busy port, foreign address, ...), or None."""
    import errno
    import socket

    try:
        family, kind, proto, _, sockaddr = socket.getaddrinfo(
            host.strip("[]"), port, type=socket.SOCK_STREAM
        )[0]
    except (socket.gaierror, IndexError):
        return f"cannot listen on {host}:{port}: unknown host {host!r}"
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gRPC binds
        try:
            probe.bind(sockaddr)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return f"port {port} is in use on {host}"
            if e.errno == errno.EADDRNOTAVAIL:
                return f"cannot listen on {host}:{port}: not an address of this machine"
            return f"cannot listen on {host}:{port}: {e.strerror}"
    return None


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
