"""A channel to one coordinator: deadlines, retries of UNAVAILABLE, hpo's error types."""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from hpo._address import address_list, channel_target
from hpo._defaults import MAX_MESSAGE_BYTES
from hpo.client._diagnose import misconfiguration
from hpo.errors import HpoError, error_for_code
from hpo.v1 import coordinator_pb2_grpc as api_grpc
from hpo.v1 import registry_pb2_grpc as reg_grpc
from hpo.v1 import tracking_pb2_grpc as trk_grpc

DEFAULT_TIMEOUT = 60.0
DEFAULT_RETRY_SECONDS = 120.0


class Connection:
    """Calls the coordinator at ``address``; thread-safe, one per address per process.

    ``address`` may list replicas (``"10.0.0.1:50051,10.0.0.2:50051"``) or be a gRPC target
    naming several (``"dns:///hpo-coordinator:50051"``): calls go round-robin over those that
    answer, and a call answered UNAVAILABLE (a replica died, its connection failed) is
    retried as below, on the next one.

    Every call carries a deadline (``timeout`` seconds). A call answered UNAVAILABLE (the
    coordinator or its database is down) is repeated with exponential backoff and jitter for
    up to ``retry_seconds``: safe, because every mutating RPC is idempotent (Ask per
    client_id, Suggest per name, Report and Tell per request id). Failures raise
    :class:`hpo.HpoError` subclasses carrying the coordinator's message.
    """

    def __init__(
        self,
        address: str,
        timeout: float = DEFAULT_TIMEOUT,
        retry_seconds: float = DEFAULT_RETRY_SECONDS,
        security: ClientSecurity | None = None,
    ) -> None:
        self.address = address
        self.timeout = timeout
        self.retry_seconds = retry_seconds
        security = security or ClientSecurity.from_env()
        self._security = security
        options = [
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.enable_retries", 0),  # retried here, with hpo's error mapping
            # A coordinator back after an outage (restarted, failed over) is reached within
            # seconds: gRPC otherwise waits up to 120 s between reconnection attempts, and a
            # connection (shared per address, process-wide) kept failing calls at once
            # meanwhile, for as long as the calls' own retries last.
            ("grpc.max_reconnect_backoff_ms", 2000),
            # Several replicas behind one target ("ipv4:10.0.0.1:50051,10.0.0.2:50051" or a
            # DNS name with several records): spread calls over all of them.
            ("grpc.service_config", '{"loadBalancingConfig": [{"round_robin": {}}]}'),
        ]
        target, authority = channel_target(address)
        if authority is not None:  # TLS checks every replica's certificate against this name
            options.append(("grpc.default_authority", authority))
        credentials = security.channel_credentials()
        self._channel = (
            grpc.secure_channel(target, credentials, options=options)
            if credentials is not None
            else grpc.insecure_channel(target, options=options)
        )
        self._metadata = security.metadata()
        self._stubs: dict[str, Any] = {
            "coordinator": api_grpc.CoordinatorStub(self._channel),
            "tracking": trk_grpc.TrackingStub(self._channel),
            "registry": reg_grpc.RegistryStub(self._channel),
        }

    def call(
        self, method: str, request: Any, timeout: float | None = None, service: str = "coordinator"
    ) -> Any:
        """Invoke ``method`` (e.g. ``"Ask"``) of ``service`` with ``request``; see the class
        docstring."""
        rpc = getattr(self._stubs[service], method)
        give_up = time.monotonic() + self.retry_seconds
        delay = 0.05
        first = True
        while True:
            try:
                return rpc(request, timeout=timeout or self.timeout, metadata=self._metadata)
            except grpc.RpcError as e:
                error = self._explained(_error_from_rpc(e), probe=first)
                first = False
                if error.code != "UNAVAILABLE" or time.monotonic() + delay > give_up:
                    raise error from None
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 2.0)

    def _explained(self, error: HpoError, probe: bool = True) -> HpoError:
        """The error, or one that says why retrying cannot help (TLS mismatch, no token)."""
        if error.code == "UNAVAILABLE":
            for address in address_list(self.address):  # each listed replica, until one says
                found = misconfiguration(address, self._security, error.message, probe)
                if found is not None:
                    return found
            return error
        if error.code == "UNAUTHENTICATED":
            hint = (
                "check HPO_TOKEN or --token" if self._security.token else "set HPO_TOKEN or --token"
            )
            return type(error)(f"{error.message} ({hint})")
        return error

    def upload(self, requests: Callable[[], Iterator[Any]], timeout: float | None = None) -> Any:
        """UploadArtifact: stream ``requests()`` (header, then chunks). Sent again from the
        start (safe: content-addressed) while the coordinator has no stream to spare
        (RESOURCE_EXHAUSTED on ``streams``), with backoff for up to ``retry_seconds``."""
        give_up = time.monotonic() + self.retry_seconds
        delay = 0.1
        while True:
            try:
                return self._stubs["tracking"].UploadArtifact(
                    requests(), timeout=timeout or self.timeout, metadata=self._metadata
                )
            except grpc.RpcError as e:
                error = _error_from_rpc(e)
                busy = error.code == "RESOURCE_EXHAUSTED" and error.message.startswith("streams:")
                if not busy or time.monotonic() + delay > give_up:
                    raise self._explained(error) from None
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 2.0)

    def download(self, request: Any, timeout: float | None = None) -> Iterator[bytes]:
        """DownloadArtifact: the artifact's bytes, chunk by chunk."""
        try:
            for chunk in self._stubs["tracking"].DownloadArtifact(
                request, timeout=timeout or self.timeout, metadata=self._metadata
            ):
                yield chunk.data
        except grpc.RpcError as e:
            raise self._explained(_error_from_rpc(e)) from None

    def close(self) -> None:
        self._channel.close()


def _error_from_rpc(e: grpc.RpcError) -> HpoError:
    code = e.code() if hasattr(e, "code") else grpc.StatusCode.UNKNOWN
    details = (e.details() if hasattr(e, "details") else None) or code.name
    return error_for_code(code.name, details)


@dataclass(frozen=True)
class ClientSecurity:
    """How the SDK reaches a secured coordinator: a CA to trust (TLS), a client key pair
    (mutual TLS), a bearer token. Read from HPO_TLS_CA, HPO_TLS_CERT, HPO_TLS_KEY, HPO_TOKEN
    when not given."""

    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    token: str | None = None

    @classmethod
    def from_env(cls) -> ClientSecurity:
        env = os.environ
        return cls(
            env.get("HPO_TLS_CA") or None,
            env.get("HPO_TLS_CERT") or None,
            env.get("HPO_TLS_KEY") or None,
            env.get("HPO_TOKEN") or None,
        )

    def channel_credentials(self) -> grpc.ChannelCredentials | None:
        if not (self.tls_ca or self.tls_cert):
            return None
        read = lambda p: Path(p).read_bytes() if p else None  # noqa: E731
        return grpc.ssl_channel_credentials(
            root_certificates=read(self.tls_ca),
            private_key=read(self.tls_key),
            certificate_chain=read(self.tls_cert),
        )

    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.token}"),) if self.token else ()


_connections: dict[tuple[str, ClientSecurity], Connection] = {}
_connections_lock = threading.Lock()


def connect(address: str, security: ClientSecurity | None = None) -> Connection:
    """The process's shared connection to ``address`` (per security settings)."""
    security = security or ClientSecurity.from_env()
    with _connections_lock:
        connection = _connections.get((address, security))
        if connection is None:
            connection = _connections[(address, security)] = Connection(address, security=security)
        return connection
