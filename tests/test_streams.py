"""Streams cannot starve the server (issue 10, item 2): with more idle streams open than the
server has threads (unauthenticated health watches, idle uploads), unary calls and the health
check still answer within a short deadline; streams beyond their bounds are
RESOURCE_EXHAUSTED, and an idle upload is ended, freeing its slot."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import blake3
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from hpo.server import Coordinator, ServerSecurity, add_token
from hpo.service._limits import ServerLimits
from hpo.v1 import coordinator_pb2 as api
from hpo.v1 import coordinator_pb2_grpc as api_grpc
from hpo.v1 import study_pb2 as pb
from hpo.v1 import tracking_pb2 as trk
from hpo.v1 import tracking_pb2_grpc as trk_grpc

THREADS = 4
PROMPTLY = 5.0  # seconds: a deadline, not a measurement
LIMITS = ServerLimits(
    streams_per_caller=2, streams_total=3, stream_idle_seconds=2.0, watches_per_caller=8
)


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


@pytest.fixture
def server(sqlite_url, tmp_path) -> Iterator[tuple[Coordinator, dict[str, str]]]:
    path = tmp_path / "tokens"
    tokens = {name: add_token(path, name) for name in ("alice", "bob")}
    security = ServerSecurity(token_file=str(path))
    with Coordinator(
        sqlite_url, max_workers=THREADS, security=security, limits=LIMITS
    ) as coordinator:
        yield coordinator, tokens


def unary_calls_answer(channel: grpc.Channel, token: str) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    reply = health.Check(health_pb2.HealthCheckRequest(), timeout=PROMPTLY)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    stub = api_grpc.CoordinatorStub(channel)
    stub.ListStudies(api.ListStudiesRequest(), timeout=PROMPTLY, metadata=bearer(token))


def test_health_watches_hold_no_server_thread(server) -> None:
    coordinator, tokens = server
    with grpc.insecure_channel(coordinator.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        watches = [
            health.Watch(health_pb2.HealthCheckRequest(), timeout=30)
            for _ in range(LIMITS.watches_per_caller)
        ]
        try:
            for watch in watches:  # each is answered, and stays open
                assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
            assert len(watches) > THREADS
            unary_calls_answer(channel, tokens["alice"])
            one_more = health.Watch(health_pb2.HealthCheckRequest(), timeout=PROMPTLY)
            with pytest.raises(grpc.RpcError) as info:
                next(one_more)
            assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert info.value.details().startswith("health watches")
        finally:
            for watch in watches:
                watch.cancel()


class IdleUpload:
    """An UploadArtifact stream that sends its header and then nothing until released."""

    def __init__(self, stub: trk_grpc.TrackingStub, token: str, study: str, number: int) -> None:
        self.release = threading.Event()
        header = trk.ArtifactHeader(
            study=study, trial_number=number, name="model.bin", expected_digest="0" * 64
        )

        def requests() -> Iterator[trk.UploadArtifactRequest]:
            yield trk.UploadArtifactRequest(header=header)
            self.release.wait(60)

        self.future = stub.UploadArtifact.future(requests(), timeout=60, metadata=bearer(token))

    def code(self) -> grpc.StatusCode:
        error = self.future.exception(timeout=30)
        return grpc.StatusCode.OK if error is None else error.code()


def test_idle_uploads_do_not_starve_unary_calls(server) -> None:
    coordinator, tokens = server
    with grpc.insecure_channel(coordinator.address) as channel:
        stub = api_grpc.CoordinatorStub(channel)
        running = {}
        for name in ("alice", "bob"):  # each their own study, with a trial running
            stub.CreateStudy(
                api.CreateStudyRequest(name=name, directions=[pb.DIRECTION_MINIMIZE]),
                metadata=bearer(tokens[name]),
            )
            ask = api.AskRequest(study=name)
            running[name] = stub.Ask(ask, metadata=bearer(tokens[name])).trial.number
        tracking = trk_grpc.TrackingStub(channel)
        uploads = [
            IdleUpload(tracking, tokens[name], name, running[name])
            for name in ("alice", "alice", "alice", "bob", "bob", "bob")
        ]
        try:
            assert len(uploads) > THREADS
            unary_calls_answer(channel, tokens["bob"])
            codes = [upload.code() for upload in uploads]
            # 3 in all (alice 2 at most): 3 refused at once, 3 closed after idling
            assert codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) == 3, codes
            assert codes.count(grpc.StatusCode.DEADLINE_EXCEEDED) == 3, codes
            for upload, code in zip(uploads, codes, strict=True):
                details = upload.future.exception().details()
                if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
                    assert details.startswith("streams"), details
                else:
                    assert details == "UploadArtifact: no message for 2 s; the stream was closed"
        finally:
            for upload in uploads:
                upload.release.set()
        data = b"weights" * 1000
        complete = iter(
            [
                trk.UploadArtifactRequest(
                    header=trk.ArtifactHeader(
                        study="alice",
                        trial_number=running["alice"],
                        name="model.bin",
                        expected_digest=blake3.blake3(data).hexdigest(),
                    )
                ),
                trk.UploadArtifactRequest(chunk=data),
            ]
        )
        record = tracking.UploadArtifact(
            complete, timeout=PROMPTLY, metadata=bearer(tokens["alice"])
        )
        assert record.size_bytes == len(data)
