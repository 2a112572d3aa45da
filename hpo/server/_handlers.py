"""The one way hpo's interceptors change a gRPC method handler: run each call of it inside a
context manager (map errors, set the caller, refuse the call), whatever its streaming kind."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import grpc

Around = Callable[[grpc.ServicerContext], contextlib.AbstractContextManager[Any]]

_KINDS = (
    ("unary_unary", grpc.unary_unary_rpc_method_handler, False),
    ("stream_unary", grpc.stream_unary_rpc_method_handler, False),
    ("unary_stream", grpc.unary_stream_rpc_method_handler, True),
    ("stream_stream", grpc.stream_stream_rpc_method_handler, True),
)


def rewrap(handler: Any, around: Around) -> Any:
    """``handler`` with every call run inside ``around(context)``; None stays None."""
    if handler is None:
        return None
    codec = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    for attribute, factory, streams_responses in _KINDS:
        behavior = getattr(handler, attribute)
        if behavior is not None:
            wrap = _streaming if streams_responses else _unary
            return factory(wrap(behavior, around), **codec)
    return handler


def _unary(behavior: Callable[..., Any], around: Around) -> Callable[..., Any]:
    def call(request: Any, context: grpc.ServicerContext) -> Any:
        with around(context):
            return behavior(request, context)

    return call


def _streaming(behavior: Callable[..., Any], around: Around) -> Callable[..., Iterator[Any]]:
    def call(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        with around(context):
            yield from behavior(request, context)

    return call


@contextlib.contextmanager
def refused(context: grpc.ServicerContext, code: grpc.StatusCode, message: str) -> Iterator[None]:
    """Ends the call with ``code`` before its behavior runs."""
    context.abort(code, message)
    yield  # never reached: abort raises
