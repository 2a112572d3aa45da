"""A channel to one coordinator: deadlines, retries of UNAVAILABLE, hpo's error types."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import grpc

from hpo.errors import HpoError, error_for_code
from hpo.v1 import coordinator_pb2_grpc as api_grpc
from hpo.v1 import registry_pb2_grpc as reg_grpc
from hpo.v1 import tracking_pb2_grpc as trk_grpc

DEFAULT_TIMEOUT = 60.0
DEFAULT_RETRY_SECONDS = 120.0
_MAX_MESSAGE_BYTES = 16 * 1024 * 1024


class Connection:
    """Calls the coordinator at ``address``; thread-safe, one per address per process.

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
    ) -> None:
        self.address = address
        self.timeout = timeout
        self.retry_seconds = retry_seconds
        self._channel = grpc.insecure_channel(
            address,
            options=[
                ("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", _MAX_MESSAGE_BYTES),
                ("grpc.enable_retries", 0),  # retried here, with hpo's error mapping
            ],
        )
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
        while True:
            try:
                return rpc(request, timeout=timeout or self.timeout, wait_for_ready=False)
            except grpc.RpcError as e:
                error = _error_from_rpc(e)
                if error.code != "UNAVAILABLE" or time.monotonic() + delay > give_up:
                    raise error from None
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 2.0)

    def upload(self, requests: Iterator[Any], timeout: float | None = None) -> Any:
        """UploadArtifact: stream ``requests`` (header, then chunks). Not retried here: the
        caller re-sends the whole stream, which is safe (content-addressed)."""
        try:
            return self._stubs["tracking"].UploadArtifact(requests, timeout=timeout or self.timeout)
        except grpc.RpcError as e:
            raise _error_from_rpc(e) from None

    def download(self, request: Any, timeout: float | None = None) -> Iterator[bytes]:
        """DownloadArtifact: the artifact's bytes, chunk by chunk."""
        try:
            for chunk in self._stubs["tracking"].DownloadArtifact(
                request, timeout=timeout or self.timeout
            ):
                yield chunk.data
        except grpc.RpcError as e:
            raise _error_from_rpc(e) from None

    def close(self) -> None:
        self._channel.close()


def _error_from_rpc(e: grpc.RpcError) -> HpoError:
    code = e.code() if hasattr(e, "code") else grpc.StatusCode.UNKNOWN
    details = (e.details() if hasattr(e, "details") else None) or code.name
    return error_for_code(code.name, details)


_connections: dict[str, Connection] = {}
_connections_lock = threading.Lock()


def connect(address: str) -> Connection:
    """The process's shared connection to ``address``."""
    with _connections_lock:
        connection = _connections.get(address)
        if connection is None:
            connection = _connections[address] = Connection(address)
        return connection
