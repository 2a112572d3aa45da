"""Hostile input: random and malformed requests for every RPC, built from the message
descriptors (strings with a grammar, such as options JSON and page tokens, fuzzed in that
grammar too: nested JSON, real option names with values of any type, non-ASCII and huge
tokens, extreme floats). No call may answer UNKNOWN or INTERNAL, a refused call leaves every
table's rows as they were, a study that was created survives its trial loop, and random
bytes on the port do not stop the server."""

from __future__ import annotations

import inspect
import json
import os
import socket
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from dbstate import database_digest
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import FieldDescriptor
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hpo.server import Coordinator
from hpo.service import PRUNERS, SAMPLERS
from hpo.v1 import coordinator_pb2, registry_pb2, tracking_pb2  # noqa: F401  (register types)
from hpo.v1 import coordinator_pb2 as api
from hpo.v1 import coordinator_pb2_grpc as api_grpc
from hpo.v1 import study_pb2 as pb

NESTED_JSON = st.sampled_from(["[" * 100_000, '{"a": ' * 50_000, "[" * 40 + "]" * 40])
HUGE = st.sampled_from(["9" * 5000, "x" * 300, "²", "٣", "🙂" * 100, "\x00", "-1", "1" * 19])
NAMES = st.sampled_from(["s", "nope", ""]) | st.text(max_size=12) | HUGE
NUMBERS = st.sampled_from([0, 1, 2, -1, 2**62]) | st.integers(-(2**63), 2**63 - 1)
EXTREME_FLOATS = st.sampled_from(
    [1e308, -1e308, 1.7976931348623157e308, -1.7976931348623157e308, 5e-324, -0.0, 2.0**53]
)
FLOATS = (
    st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([0.0, 1.0, -1.0])
    | EXTREME_FLOATS
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 100)
    | st.floats(allow_nan=False)
    | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
JSON_TEXT = JSON_VALUES.map(json.dumps) | NESTED_JSON | NAMES


def _option_names(table) -> list[str]:
    return sorted({p for f in table.values() for p in inspect.signature(f).parameters})


# Options by their real names with values of any JSON type: wrong types must fail at creation.
OPTIONS_JSON = (
    st.dictionaries(
        st.sampled_from(_option_names(SAMPLERS) + _option_names(PRUNERS)), JSON_VALUES, max_size=3
    ).map(json.dumps)
    | JSON_TEXT
)
ALGORITHM_NAMES = st.sampled_from(sorted({*SAMPLERS, *PRUNERS})) | NAMES
SCALARS = {
    FieldDescriptor.TYPE_DOUBLE: FLOATS,
    FieldDescriptor.TYPE_FLOAT: FLOATS.map(lambda f: f if abs(f) < 3e38 or f != f else 0.0),
    FieldDescriptor.TYPE_INT64: NUMBERS,
    FieldDescriptor.TYPE_INT32: st.integers(-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_BOOL: st.booleans(),
    FieldDescriptor.TYPE_STRING: NAMES,
    FieldDescriptor.TYPE_BYTES: st.binary(max_size=64),
}
EXAMPLES = int(os.environ.get("HPO_FUZZ_EXAMPLES", "40"))
# String fields whose content has a grammar: fuzz that grammar too.
BY_FIELD = {
    "hpo.v1.AlgorithmSpec.name": ALGORITHM_NAMES,
    "hpo.v1.AlgorithmSpec.options_json": OPTIONS_JSON,
    "hpo.v1.SetTrialUserAttrRequest.value_json": JSON_TEXT,
    "hpo.v1.EnqueueTrialRequest.UserAttrsEntry.value": JSON_TEXT,
    "hpo.v1.ListTrialsRequest.page_token": NAMES | st.integers(0, 10**20).map(str),
    # Ranges at the ends of the doubles: their width overflows.
    "hpo.v1.FloatDistribution.low": st.sampled_from([-1e308, -1.7976931348623157e308]) | FLOATS,
    "hpo.v1.FloatDistribution.high": st.sampled_from([1e308, 1.7976931348623157e308]) | FLOATS,
}
# Fields by name in every message: mostly the study and trials that exist, to get past lookups.
BY_NAME = {
    "study": st.just("s") | NAMES,
    "trial_number": st.sampled_from([1, 0]) | NUMBERS,
}


def scalar_strategy(field) -> st.SearchStrategy:
    for table, key in ((BY_FIELD, field.full_name), (BY_NAME, field.name)):
        if key in table:
            return table[key]
    return SCALARS[field.type]


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
            else scalar_strategy(value_field)
        )
        return st.dictionaries(key, value, max_size=3)
    if field.message_type is not None:
        if field.message_type.full_name == "google.protobuf.Timestamp":
            return None
        single = message_strategy(field.message_type, depth + 1)
    elif field.enum_type is not None:
        single = st.integers(-2, 8)
    else:
        single = scalar_strategy(field)
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
    return database_digest(coordinator.storage.engine)


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
        max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
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


def algorithm_specs(table) -> st.SearchStrategy:
    """A known sampler or pruner with some of its real options, their values of any JSON type."""

    def spec(name: str) -> st.SearchStrategy:
        names = sorted(inspect.signature(table[name]).parameters)
        options = (
            st.dictionaries(st.sampled_from(names), JSON_VALUES, max_size=3)
            if names
            else st.just({})
        )
        return options.map(lambda o: pb.AlgorithmSpec(name=name, options_json=json.dumps(o)))

    return st.sampled_from(sorted(table)).flatmap(spec)


SPACE = pb.SearchSpace(
    params={
        "x": pb.Distribution(float_distribution=pb.FloatDistribution(low=-1, high=1)),
        "k": pb.Distribution(int_distribution=pb.IntDistribution(low=0, high=3)),
    }
)
LOOP_TRIALS = 12  # past the usual 10 startup trials, where samplers start to use their options


def test_a_study_is_refused_at_creation_or_serves_its_whole_trial_loop(target) -> None:
    coordinator, channel = target
    stub = api_grpc.CoordinatorStub(channel)
    created = iter(range(10**6))

    @settings(
        max_examples=max(1, EXAMPLES // 2),
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        algorithm_specs({k: v for k, v in SAMPLERS.items() if k != "gp"}),
        algorithm_specs(PRUNERS),
        st.booleans(),
    )
    def check(sampler: pb.AlgorithmSpec, pruner: pb.AlgorithmSpec, declared: bool) -> None:
        name = f"loop-{next(created)}"
        request = api.CreateStudyRequest(
            name=name,
            directions=[pb.DIRECTION_MINIMIZE],
            sampler=sampler,
            pruner=pruner,
            search_space=SPACE if declared else None,
        )
        before = snapshot(coordinator)
        try:
            stub.CreateStudy(request, timeout=60)
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, (request, e.details())
            assert snapshot(coordinator) == before, (request, e.details())
            return
        try:
            for _ in range(LOOP_TRIALS):
                reply = stub.Ask(api.AskRequest(study=name, client_id="w"), timeout=60)
                if reply.budget_spent:  # a grid that is done
                    break
                number = reply.trial.number
                for step in range(3):
                    should_prune = stub.Report(
                        api.ReportRequest(study=name, trial_number=number, step=step, value=step),
                        timeout=60,
                    ).should_prune
                    if should_prune:
                        break
                state = pb.TRIAL_STATE_PRUNED if should_prune else pb.TRIAL_STATE_COMPLETE
                stub.Tell(
                    api.TellRequest(study=name, trial_number=number, state=state, values=[0.5]),
                    timeout=60,
                )
        except grpc.RpcError as e:
            raise AssertionError(f"accepted {request} but then: {e.code()} {e.details()}") from None

    check()


def test_ranges_at_the_ends_of_the_doubles_are_refused_or_served(target) -> None:
    """Suggest, Ask and CreateStudy with float ranges built from extreme doubles."""
    coordinator, channel = target
    stub = api_grpc.CoordinatorStub(channel)
    stub.CreateStudy(api.CreateStudyRequest(name="ranges", directions=[pb.DIRECTION_MINIMIZE]))
    running = stub.Ask(api.AskRequest(study="ranges", client_id="ranges")).trial.number
    names = iter(range(10**6))
    ends = EXTREME_FLOATS | st.floats(allow_nan=False) | st.sampled_from([-1e308, 1e308])

    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(ends, ends, st.none() | ends, st.booleans())
    def check(low: float, high: float, step: float | None, log: bool) -> None:
        distribution = pb.Distribution(
            float_distribution=pb.FloatDistribution(low=low, high=high, step=step, log=log)
        )
        name = f"r{next(names)}"
        space = pb.SearchSpace(params={name: distribution})
        for call, request in [
            (
                stub.Suggest,
                api.SuggestRequest(
                    study="ranges", trial_number=running, name=name, distribution=distribution
                ),
            ),
            (stub.Ask, api.AskRequest(study="ranges", client_id="ranges", search_space=space)),
            (
                stub.CreateStudy,
                api.CreateStudyRequest(
                    name=f"ranges-{name}", directions=[pb.DIRECTION_MINIMIZE], search_space=space
                ),
            ),
        ]:
            before = snapshot(coordinator)
            try:
                call(request, timeout=30)
            except grpc.RpcError as e:
                assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, (request, e.details())
                assert snapshot(coordinator) == before, (request, e.details())

    check()


def test_random_bytes_on_the_port_do_not_stop_the_server(target) -> None:
    coordinator, channel = target
    for size in (1, 9, 64, 4096):
        with socket.create_connection(("127.0.0.1", coordinator.port), timeout=5) as raw:
            raw.sendall(os.urandom(size))
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
