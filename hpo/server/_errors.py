"""The one interceptor that turns exceptions into gRPC status codes.

hpo's errors carry their code (see :mod:`hpo.errors`); anything else is a bug in hpo and
travels as INTERNAL with an incident id, its traceback kept in the coordinator's log.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

import grpc

from hpo.errors import HpoError

_logger = logging.getLogger("hpo.server")


class ErrorInterceptor(grpc.ServerInterceptor):
    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Any],
        details: grpc.HandlerCallDetails,
    ) -> Any:
        handler = continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = details.method
        inner = handler.unary_unary

        def unary_unary(request: Any, context: grpc.ServicerContext) -> Any:
            try:
                return inner(request, context)
            except HpoError as e:
                context.abort(grpc.StatusCode[e.code], e.message)
            except Exception:
                incident = uuid.uuid4().hex[:12]
                _logger.exception("%s failed (incident %s)", method, incident)
                context.abort(
                    grpc.StatusCode.INTERNAL,
                    f"internal error in the coordinator (incident {incident}; see its log)",
                )

        return grpc.unary_unary_rpc_method_handler(
            unary_unary,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
