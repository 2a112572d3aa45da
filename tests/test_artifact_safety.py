"""The artifact store under hostile or broken clients (issue 10, item 6): a digest is readable
only through a study (or model) the caller may see; uploads are capped while they stream and
verified before anything lands in the store; no failure leaves a temporary file, and those of
a killed coordinator are swept when the store opens again; files are the owner's only."""

from __future__ import annotations

import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import blake3
import grpc
import pytest
from dbstate import database_digest
from serverproc import hpo_server

from hpo.server import Coordinator, ServerSecurity, add_token
from hpo.service._limits import ServerLimits
from hpo.v1 import coordinator_pb2 as api
from hpo.v1 import coordinator_pb2_grpc as api_grpc
from hpo.v1 import registry_pb2 as reg
from hpo.v1 import registry_pb2_grpc as reg_grpc
from hpo.v1 import study_pb2 as pb
from hpo.v1 import tracking_pb2 as trk
from hpo.v1 import tracking_pb2_grpc as trk_grpc

CHUNK = 64 * 1024


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


def upload_requests(
    study: str, number: int, data: bytes, digest: str | None = None
) -> Iterator[trk.UploadArtifactRequest]:
    header = trk.ArtifactHeader(
        study=study,
        trial_number=number,
        name="model.bin",
        expected_digest=digest or blake3.blake3(data).hexdigest(),
    )
    yield trk.UploadArtifactRequest(header=header)
    for start in range(0, len(data), CHUNK):
        yield trk.UploadArtifactRequest(chunk=data[start : start + CHUNK])


def running_trial(channel: grpc.Channel, study: str, metadata=()) -> int:
    stub = api_grpc.CoordinatorStub(channel)
    stub.CreateStudy(
        api.CreateStudyRequest(name=study, directions=[pb.DIRECTION_MINIMIZE]), metadata=metadata
    )
    return stub.Ask(api.AskRequest(study=study), metadata=metadata).trial.number


def store_files(root: Path) -> dict[str, list[Path]]:
    return {
        part: sorted(p for p in (root / part).rglob("*") if p.is_file())
        for part in ("tmp", "objects")
    }


def test_a_digest_is_readable_only_through_what_the_caller_may_see(sqlite_url, tmp_path) -> None:
    path = tmp_path / "tokens"
    alice, bob, root = (
        add_token(path, "alice"),
        add_token(path, "bob"),
        add_token(path, "root", "admin"),
    )
    security = ServerSecurity(token_file=str(path))
    data = b"alice's weights" * 100
    digest = blake3.blake3(data).hexdigest()
    with (
        Coordinator(sqlite_url, security=security) as coordinator,
        grpc.insecure_channel(coordinator.address) as channel,
    ):
        tracking = trk_grpc.TrackingStub(channel)

        def download(token: str) -> bytes:
            request = trk.DownloadArtifactRequest(digest=digest)
            return b"".join(
                c.data for c in tracking.DownloadArtifact(request, metadata=bearer(token))
            )

        number = running_trial(channel, "alice-study", bearer(alice))
        tracking.UploadArtifact(
            upload_requests("alice-study", number, data), metadata=bearer(alice)
        )
        assert download(alice) == data
        assert download(root) == data
        with pytest.raises(grpc.RpcError) as info:
            download(bob)  # bob knows the digest but no study of his recorded it
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
        assert info.value.details() == f"digest: no artifact {digest}"

        # the same bytes from a study of bob's: now he may read them
        bobs = running_trial(channel, "bob-study", bearer(bob))
        tracking.UploadArtifact(upload_requests("bob-study", bobs, data), metadata=bearer(bob))
        assert download(bob) == data

        # a model alice registered keeps the digest readable to her after the study is gone
        stub = api_grpc.CoordinatorStub(channel)
        stub.Tell(
            api.TellRequest(
                study="alice-study", trial_number=number, state=pb.TRIAL_STATE_COMPLETE, values=[1]
            ),
            metadata=bearer(alice),
        )
        reg_grpc.RegistryStub(channel).RegisterModel(
            reg.RegisterModelRequest(name="m", study="alice-study", trial_number=number),
            metadata=bearer(alice),
        )
        stub.DeleteStudy(api.DeleteStudyRequest(name="alice-study"), metadata=bearer(alice))
        stub.DeleteStudy(api.DeleteStudyRequest(name="bob-study"), metadata=bearer(bob))
        assert download(alice) == data
        with pytest.raises(grpc.RpcError) as info:
            download(bob)
        assert info.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.fixture
def small_store(sqlite_url, tmp_path) -> Iterator[tuple[Coordinator, grpc.Channel, Path]]:
    artifacts = tmp_path / "artifacts"
    limits = ServerLimits(max_artifact_bytes=1 << 20)
    with (
        Coordinator(sqlite_url, artifacts_url=str(artifacts), limits=limits) as coordinator,
        grpc.insecure_channel(coordinator.address) as channel,
    ):
        yield coordinator, channel, artifacts


def test_an_upload_past_the_cap_is_refused_while_it_streams(small_store) -> None:
    coordinator, channel, artifacts = small_store
    number = running_trial(channel, "s")
    before = database_digest(coordinator.storage.engine)
    never = threading.Event()

    def endless() -> Iterator[trk.UploadArtifactRequest]:
        yield from upload_requests("s", number, b"x" * (3 << 20), digest="0" * 64)
        never.wait(60)  # the stream would go on: the server must not wait for its end

    with pytest.raises(grpc.RpcError) as info:
        trk_grpc.TrackingStub(channel).UploadArtifact(endless(), timeout=20)
    never.set()
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert info.value.details() == (
        "chunk: the artifact is larger than 1,048,576 bytes, the most this coordinator accepts"
    )
    assert store_files(artifacts) == {"tmp": [], "objects": []}
    assert database_digest(coordinator.storage.engine) == before


def test_a_wrong_digest_lands_nothing(small_store) -> None:
    coordinator, channel, artifacts = small_store
    number = running_trial(channel, "s")
    before = database_digest(coordinator.storage.engine)
    with pytest.raises(grpc.RpcError) as info:
        trk_grpc.TrackingStub(channel).UploadArtifact(
            upload_requests("s", number, b"y" * 300_000, digest="0" * 64), timeout=20
        )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.details().startswith("header.expected_digest")
    assert store_files(artifacts) == {"tmp": [], "objects": []}
    assert database_digest(coordinator.storage.engine) == before


def test_an_upload_the_client_abandons_leaves_no_temporary_file(small_store) -> None:
    coordinator, channel, artifacts = small_store
    number = running_trial(channel, "s")
    sent = threading.Event()

    def half() -> Iterator[trk.UploadArtifactRequest]:
        requests = upload_requests("s", number, b"z" * 500_000)
        for _ in range(4):
            yield next(requests)
        sent.set()
        time.sleep(60)

    future = trk_grpc.TrackingStub(channel).UploadArtifact.future(half(), timeout=60)
    assert sent.wait(20)
    wait_for(lambda: store_files(artifacts)["tmp"] != [])
    future.cancel()
    wait_for(lambda: store_files(artifacts) == {"tmp": [], "objects": []})


def test_files_are_the_owners_only(small_store) -> None:
    coordinator, channel, artifacts = small_store
    number = running_trial(channel, "s")
    trk_grpc.TrackingStub(channel).UploadArtifact(upload_requests("s", number, b"w" * 1000))
    (stored,) = store_files(artifacts)["objects"]
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    for folder in (artifacts, artifacts / "tmp", artifacts / "objects", stored.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def test_a_killed_coordinators_temporary_files_are_swept_at_start(sqlite_url, tmp_path) -> None:
    artifacts = tmp_path / "artifacts"
    with hpo_server("--db", sqlite_url, "--artifacts", str(artifacts)) as (server, address):
        with grpc.insecure_channel(address) as channel:
            number = running_trial(channel, "s")

            def stalled() -> Iterator[trk.UploadArtifactRequest]:
                requests = upload_requests("s", number, b"v" * 500_000)
                for _ in range(3):
                    yield next(requests)
                time.sleep(60)

            upload = trk_grpc.TrackingStub(channel).UploadArtifact.future(stalled(), timeout=60)
            wait_for(lambda: store_files(artifacts)["tmp"] != [])
            server.kill()  # SIGKILL mid-upload: no finally runs
            server.wait(30)
            upload.cancel()
    assert len(store_files(artifacts)["tmp"]) == 1
    with Coordinator(sqlite_url, artifacts_url=str(artifacts)) as coordinator:
        assert coordinator.tracking.artifacts.swept == 1
    assert store_files(artifacts) == {"tmp": [], "objects": []}


def wait_for(condition, seconds: float = 20.0) -> None:
    give_up = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < give_up, "condition not reached"
        time.sleep(0.05)
