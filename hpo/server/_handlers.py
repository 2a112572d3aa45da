"""The one way hpo's interceptors change a gRPC method handler: run each call of it inside a
context manager (map errors, set the caller, refuse the call, hold a stream slot), whatever
its streaming kind.

What the context manager yields may be a callable: it is then called on every message the
call receives or sends (a stream's sign of life, see :mod:`hpo.server._streams`).

A behavior marked ``experimental_non_blocking`` (the health service's ``Watch``) returns at
once and sends its replies later from other threads; it stays so once wrapped, so that it
holds no server thread while it waits.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import grpc

Around = Callable[[grpc.ServicerContext], contextlib.AbstractContextManager[Any]]

_KINDS = (
    ("unary_unary", grpc.unary_unary_rpc_method_handler, False, False),
    ("stream_unary", grpc.stream_unary_rpc_method_handler, True, False),
    ("unary_stream", grpc.unary_stream_rpc_method_handler, False, True),
    ("stream_stream", grpc.stream_stream_rpc_method_handler, True, True),
)
# Attributes by which grpc's server decides how to run a behavior: a wrapper keeps them.
_SERVER_HINTS = ("experimental_non_blocking", "experimental_thread_pool")


def rewrap(handler: Any, around: Around) -> Any:
    """``handler`` with every call run inside ``around(context)``; None stays None."""
    if handler is None:
        return None
    codec = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    for attribute, factory, streams_requests, streams_responses in _KINDS:
        behavior = getattr(handler, attribute)
        if behavior is not None:
            if streams_responses and not is_non_blocking(behavior):
                wrapped = _streaming(behavior, around, streams_requests)
            else:
                wrapped = _unary(behavior, around, streams_requests)
            for hint in _SERVER_HINTS:
                if hasattr(behavior, hint):
                    setattr(wrapped, hint, getattr(behavior, hint))
            return factory(wrapped, **codec)
    return handler


def is_non_blocking(behavior: Any) -> bool:
    return bool(getattr(behavior, "experimental_non_blocking", False))


def _unary(
    behavior: Callable[..., Any], around: Around, streams_requests: bool
) -> Callable[..., Any]:
    def call(request: Any, context: grpc.ServicerContext, *rest: Any) -> Any:
        with around(context) as alive:
            if streams_requests and callable(alive):
                request = _signalling(request, alive)
            return behavior(request, context, *rest)

    return call


def _streaming(
    behavior: Callable[..., Any], around: Around, streams_requests: bool
) -> Callable[..., Iterator[Any]]:
    def call(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        with around(context) as alive:
            if not callable(alive):
                yield from behavior(request, context)
                return
            if streams_requests:
                request = _signalling(request, alive)
            for response in behavior(request, context):
                alive()
                yield response

    return call


def _signalling(messages: Iterator[Any], alive: Callable[[], None]) -> Iterator[Any]:
    for message in messages:
        alive()
        yield message


@contextlib.contextmanager
def refused(context: grpc.ServicerContext, code: grpc.StatusCode, message: str) -> Iterator[None]:
    """Ends the call with ``code`` before its behavior runs."""
    context.abort(code, message)
    yield  # never reached: abort raises
