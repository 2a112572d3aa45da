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
        if handler is None:
            return handler
        method = details.method
        codec = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                _mapped(method, handler.unary_unary), **codec
            )
        if handler.stream_unary is not None:
            return grpc.stream_unary_rpc_method_handler(
                _mapped(method, handler.stream_unary), **codec
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                _mapped_stream(method, handler.unary_stream), **codec
            )
        return handler


def _abort(method: str, context: grpc.ServicerContext, error: Exception) -> None:
    if isinstance(error, HpoError):
        context.abort(grpc.StatusCode[error.code], error.message)
    incident = uuid.uuid4().hex[:12]
    _logger.error("%s failed (incident %s)", method, incident, exc_info=error)
    context.abort(
        grpc.StatusCode.INTERNAL,
        f"internal error in the coordinator (incident {incident}; see its log)",
    )


def _mapped(method: str, behavior: Callable[..., Any]) -> Callable[..., Any]:
    def call(request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return behavior(request, context)
        except Exception as e:
            _abort(method, context, e)

    return call


def _mapped_stream(method: str, behavior: Callable[..., Any]) -> Callable[..., Any]:
    def call(request: Any, context: grpc.ServicerContext) -> Any:
        try:
            yield from behavior(request, context)
        except Exception as e:
            _abort(method, context, e)

    return call
