"""The interceptor that counts and times every served call by method and status code."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from hpo._metrics import observe_rpc
from hpo.server._handlers import rewrap


class RpcMetricsInterceptor(grpc.ServerInterceptor):
    """Outermost interceptor: it sees the final status code of every call, including calls
    refused by the token check and errors mapped by :class:`ErrorInterceptor`."""

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Any],
        details: grpc.HandlerCallDetails,
    ) -> Any:
        # Unknown methods have no handler (None passes through): their names, chosen by the
        # caller, never become labels.
        service, _, method = details.method.lstrip("/").rpartition("/")
        return rewrap(continuation(details), lambda context: _measured(service, method, context))


@contextlib.contextmanager
def _measured(service: str, method: str, context: grpc.ServicerContext) -> Iterator[None]:
    started = time.perf_counter()
    escaped = False
    try:
        yield
    except BaseException:
        escaped = True
        raise
    finally:
        code = context.code()
        if code is None:  # no abort: OK, unless an exception escaped (gRPC answers UNKNOWN)
            code = grpc.StatusCode.UNKNOWN if escaped else grpc.StatusCode.OK
        observe_rpc(service, method, code.name, time.perf_counter() - started)
