"""Hostile input: random and malformed requests for every RPC, built from the message
descriptors. No call may answer UNKNOWN or INTERNAL, a refused call writes nothing, and
random bytes on the port do not stop the server."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from db_state import db_digest
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import FieldDescriptor
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hpo.server import Coordinator
from hpo.v1 import coordinator_pb2, registry_pb2, tracking_pb2  # noqa: F401  (register types)
from hpo.v1 import coordinator_pb2 as api
from hpo.v1 import coordinator_pb2_grpc as api_grpc
from hpo.v1 import study_pb2 as pb

NAMES = st.sampled_from(["s", "nope", ""]) | st.text(max_size=12)
NUMBERS = st.sampled_from([0, 1, 2, -1, 2**62]) | st.integers(-(2**63), 2**63 - 1)
FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, 1.0, -1.0])
SCALARS = {
    FieldDescriptor.TYPE_DOUBLE: FLOATS,
    FieldDescriptor.TYPE_FLOAT: FLOATS.map(lambda f: f if abs(f) < 3e38 or f != f else 0.0),
    FieldDescriptor.TYPE_INT64: NUMBERS,
    FieldDescriptor.TYPE_INT32: st.integers(-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_BOOL: st.booleans(),
    FieldDescriptor.TYPE_STRING: NAMES,
    FieldDescriptor.TYPE_BYTES: st.binary(max_size=64),
}


def message_strategy(descriptor, depth: int = 0) -> st.SearchStrategy:
    cls = message_factory.GetMessageClass(descriptor)
    if depth > 3:
        return st.just(cls())
    fields = {}
    for field in descriptor.fields:
        value = field_strategy(field, depth)
        if value is not None:
            fields[field.name] = st.none() | value

    @st.composite
    def build(draw):
        message = cls()
        chosen_oneofs: set[str] = set()
        for name, strategy in fields.items():
            field = descriptor.fields_by_name[name]
            oneof = field.containing_oneof
            if oneof is not None and not oneof.name.startswith("_"):
                if oneof.name in chosen_oneofs:
                    continue
            value = draw(strategy)
            if value is None:
                continue
            if oneof is not None:
                chosen_oneofs.add(oneof.name)
            assign(message, field, value)
        return message

    return build()


def field_strategy(field, depth: int):
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        key = SCALARS[field.message_type.fields_by_name["key"].type]
        value_field = field.message_type.fields_by_name["value"]
        value = (
            message_strategy(value_field.message_type, depth + 1)
            if value_field.message_type
            else SCALARS[value_field.type]
        )
        return st.dictionaries(key, value, max_size=3)
    if field.message_type is not None:
        if field.message_type.full_name == "google.protobuf.Timestamp":
            return None
        single = message_strategy(field.message_type, depth + 1)
    elif field.enum_type is not None:
        single = st.integers(-2, 8)
    else:
        single = SCALARS[field.type]
    if field.is_repeated:
        return st.lists(single, max_size=3)
    return single


def assign(message, field, value) -> None:
    target = getattr(message, field.name)
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        for k, v in value.items():
            if field.message_type.fields_by_name["value"].message_type is not None:
                target[k].CopyFrom(v)
            else:
                target[k] = v
    elif field.is_repeated:
        if field.message_type is not None:
            for v in value:
                target.add().CopyFrom(v)
        else:
            target.extend(value)
    elif field.message_type is not None:
        target.CopyFrom(value)
    else:
        setattr(message, field.name, value)


def rpcs() -> list[tuple[str, Any]]:
    pool = descriptor_pool.Default()
    found = []
    for service_name in ("hpo.v1.Coordinator", "hpo.v1.Tracking", "hpo.v1.Registry"):
        for method in pool.FindServiceByName(service_name).methods:
            found.append((f"/{service_name}/{method.name}", method))
    return found


@pytest.fixture(scope="module")
def target(tmp_path_factory) -> Iterator[tuple[Coordinator, grpc.Channel]]:
    db = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'hpo.db'}"
    with Coordinator(db, port=0) as coordinator, grpc.insecure_channel(coordinator.address) as ch:
        stub = api_grpc.CoordinatorStub(ch)
        stub.CreateStudy(api.CreateStudyRequest(name="s", directions=[pb.DIRECTION_MINIMIZE]))
        finished = stub.Ask(api.AskRequest(study="s")).trial.number
        stub.Tell(
            api.TellRequest(
                study="s", trial_number=finished, state=pb.TRIAL_STATE_COMPLETE, values=[1.0]
            )
        )
        stub.Ask(api.AskRequest(study="s"))  # trial 1 stays running
        yield coordinator, ch


def snapshot(coordinator: Coordinator) -> str:
    return db_digest(coordinator.storage.engine)


@pytest.mark.parametrize(("path", "method"), rpcs(), ids=lambda v: v if isinstance(v, str) else "")
def test_random_requests_never_yield_unknown_or_internal(target, path, method) -> None:
    coordinator, channel = target
    request_class = message_factory.GetMessageClass(method.input_type)
    response_class = message_factory.GetMessageClass(method.output_type)
    codec = {
        "request_serializer": request_class.SerializeToString,
        "response_deserializer": response_class.FromString,
    }
    if method.client_streaming:
        call = channel.stream_unary(path, **codec)
    elif method.server_streaming:
        stream = channel.unary_stream(path, **codec)
        call = lambda request, timeout: list(stream(request, timeout=timeout))  # noqa: E731
    else:
        call = channel.unary_unary(path, **codec)
    strategy = message_strategy(method.input_type)
    if method.client_streaming:
        strategy = st.lists(strategy, max_size=3)

    @settings(
        max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(strategy)
    def check(request: Any) -> None:
        before = snapshot(coordinator)
        try:
            call(iter(request) if method.client_streaming else request, timeout=10)
        except grpc.RpcError as e:
            assert e.code() not in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL), (
                path,
                request,
                e.details(),
            )
            assert snapshot(coordinator) == before, (path, request, e.details())

    check()


def test_random_bytes_on_the_port_do_not_stop_the_server(target) -> None:
    coordinator, channel = target
    for size in (1, 9, 64, 4096):
        with socket.create_connection(("127.0.0.1", coordinator.port), timeout=5) as raw:
            raw.sendall(os.urandom(size))
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
