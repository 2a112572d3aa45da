"""The one interceptor that turns exceptions into gRPC status codes.

hpo's errors carry their code (see :mod:`hpo.errors`); anything else is a bug in hpo and
travels as INTERNAL with an incident id, its traceback kept in the coordinator's log.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from hpo.errors import HpoError
from hpo.server._handlers import rewrap

_logger = logging.getLogger("hpo.server")


class ErrorInterceptor(grpc.ServerInterceptor):
    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Any],
        details: grpc.HandlerCallDetails,
    ) -> Any:
        method = details.method
        return rewrap(continuation(details), lambda context: _errors_mapped(method, context))


@contextlib.contextmanager
def _errors_mapped(method: str, context: grpc.ServicerContext) -> Iterator[None]:
    try:
        yield
    except Exception as error:
        if isinstance(error, grpc.RpcError) and not context.is_active():
            raise  # the call ended under it (cancelled by the client or closed when idle)
        if isinstance(error, HpoError):
            context.abort(grpc.StatusCode[error.code], error.message)
        incident = uuid.uuid4().hex[:12]
        _logger.error("%s failed (incident %s)", method, incident, exc_info=error)
        context.abort(
            grpc.StatusCode.INTERNAL,
            f"internal error in the coordinator (incident {incident}; see its log)",
        )
