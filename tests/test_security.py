"""TLS, mutual TLS and bearer tokens on a real coordinator; the loopback rule; no secrets in logs."""

from __future__ import annotations

import datetime
import ipaddress
import logging
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import hpo
from hpo.client import connect
from hpo.client._connection import ClientSecurity
from hpo.server import Coordinator, ServerLimits, ServerSecurity, add_token
from hpo.v1 import coordinator_pb2 as api


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _cert(
    subject: str, key, issuer_cert=None, issuer_key=None, ca: bool = False, server: bool = False
):
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_cert.subject if issuer_cert else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(issuer_key or key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, str]:
    """A CA, a server certificate for 127.0.0.1, and a client certificate, as PEM files."""
    folder = tmp_path_factory.mktemp("pki")
    ca_key = _key()
    ca = _cert("hpo test CA", ca_key, ca=True)
    files = {}
    for label, server in (("server", True), ("client", False)):
        key = _key()
        cert = _cert(label, key, ca, ca_key, server=server)
        files[f"{label}_key"] = folder / f"{label}.key"
        files[f"{label}_cert"] = folder / f"{label}.pem"
        files[f"{label}_key"].write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        files[f"{label}_cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files["ca"] = folder / "ca.pem"
    files["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return {k: str(v) for k, v in files.items()}


@pytest.fixture
def tokens(tmp_path) -> tuple[str, str]:
    path = tmp_path / "tokens"
    return str(path), add_token(path, "alice")


@pytest.fixture
def secured(sqlite_url, pki, tokens) -> Iterator[Coordinator]:
    security = ServerSecurity(pki["server_cert"], pki["server_key"], token_file=tokens[0])
    with Coordinator(sqlite_url, port=0, security=security) as coordinator:
        yield coordinator


def list_studies(address: str, security: ClientSecurity) -> list:
    return list(connect(address, security).call("ListStudies", api.ListStudiesRequest()).studies)


def test_tls_and_a_token_are_required(secured, pki, tokens) -> None:
    address = f"localhost:{secured.port}"
    good = ClientSecurity(tls_ca=pki["ca"], token=tokens[1])
    assert list_studies(address, good) == []
    with pytest.raises(hpo.HpoError) as info:
        list_studies(address, ClientSecurity(tls_ca=pki["ca"]))
    assert info.value.code == "UNAUTHENTICATED"
    with pytest.raises(hpo.HpoError) as info:
        list_studies(address, ClientSecurity(tls_ca=pki["ca"], token="hpo_wrong"))
    assert info.value.code == "UNAUTHENTICATED"
    plain = grpc.insecure_channel(address)  # no TLS: the handshake fails
    with pytest.raises(grpc.RpcError):
        plain.unary_unary("/hpo.v1.Coordinator/ListStudies")(b"", timeout=3)
    plain.close()


def test_health_checks_need_no_token(secured, pki) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    credentials = grpc.ssl_channel_credentials(Path(pki["ca"]).read_bytes())
    with grpc.secure_channel(f"localhost:{secured.port}", credentials) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_the_sdk_takes_its_settings_from_the_environment(secured, pki, tokens, monkeypatch):
    monkeypatch.setenv("HPO_TLS_CA", pki["ca"])
    monkeypatch.setenv("HPO_TOKEN", tokens[1])
    study = hpo.create_study("secure", address=f"localhost:{secured.port}")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    assert len(study.trials) == 2


def test_mutual_tls_needs_a_client_certificate(sqlite_url, pki) -> None:
    security = ServerSecurity(pki["server_cert"], pki["server_key"], tls_client_ca=pki["ca"])
    with Coordinator(sqlite_url, port=0, security=security) as coordinator:
        address = f"localhost:{coordinator.port}"
        client = ClientSecurity(
            tls_ca=pki["ca"], tls_cert=pki["client_cert"], tls_key=pki["client_key"]
        )
        assert list_studies(address, client) == []
        with pytest.raises(hpo.HpoError):
            connection = connect(address, ClientSecurity(tls_ca=pki["ca"]))
            connection.retry_seconds = 1
            connection.call("ListStudies", api.ListStudiesRequest(), timeout=3)


def test_only_loopback_may_go_without_tls_and_tokens(sqlite_url, pki, tokens) -> None:
    for host in ("0.0.0.0", "10.1.2.3", "hpo.example"):
        with pytest.raises(ValueError, match="--insecure"):
            Coordinator(sqlite_url, host=host, security=ServerSecurity())
        with pytest.raises(ValueError, match="--insecure"):
            Coordinator(sqlite_url, host=host, security=ServerSecurity(token_file=tokens[0]))
    with pytest.raises(ValueError, match="go together"):
        ServerSecurity(tls_cert=pki["server_cert"])


def test_tokens_are_stored_hashed_and_never_logged(tmp_path, pki, caplog) -> None:
    path = tmp_path / "tokens"
    token = add_token(path, "bob", "admin")
    assert token not in path.read_text() and "sha256:" in path.read_text()
    assert (path.stat().st_mode & 0o777) == 0o600
    url = "postgresql://alice:s3cret@127.0.0.1:1/none"
    from hpo.storage._engine import redact_url

    assert "s3cret" not in redact_url(url)
    security = ServerSecurity(pki["server_cert"], pki["server_key"], token_file=str(path))
    caplog.set_level(logging.DEBUG)
    with Coordinator(f"sqlite:///{tmp_path / 'db.sqlite'}", port=0, security=security) as c:
        with pytest.raises(hpo.HpoError):
            list_studies(
                f"localhost:{c.port}", ClientSecurity(tls_ca=pki["ca"], token="hpo_" + "x" * 20)
            )
        list_studies(f"localhost:{c.port}", ClientSecurity(tls_ca=pki["ca"], token=token))
    assert token not in caplog.text and "hpo_xxxx" not in caplog.text


# -- issue 10, item 6: tokens revoked without a restart, floods of bad tokens, --db passwords --


def without(path: Path, principal: str) -> None:
    """Rewrite the token file without ``principal``'s lines, as an operator would."""
    kept = [line for line in path.read_text().splitlines() if not line.startswith(f"{principal} ")]
    path.write_text("\n".join(kept) + "\n")


def test_a_token_removed_from_the_file_is_refused_without_a_restart(sqlite_url, tmp_path, caplog):
    path = tmp_path / "tokens"
    alice, bob = add_token(path, "alice"), add_token(path, "bob")
    with Coordinator(sqlite_url, security=ServerSecurity(token_file=str(path))) as coordinator:
        address = coordinator.address
        assert list_studies(address, ClientSecurity(token=alice)) == []
        without(path, "alice")
        with pytest.raises(hpo.HpoError) as info:
            list_studies(address, ClientSecurity(token=alice))
        assert info.value.code == "UNAUTHENTICATED"
        assert list_studies(address, ClientSecurity(token=bob)) == []
        carol = add_token(path, "carol")  # added ones work at once too
        assert list_studies(address, ClientSecurity(token=carol)) == []
        caplog.set_level(logging.ERROR, logger="hpo.server")
        path.write_text("this is not a token file\n")
        assert list_studies(address, ClientSecurity(token=bob)) == []  # the last good tokens
        assert "token file not reloaded" in caplog.text


def test_sighup_reads_the_token_file_and_the_server_keeps_serving(sqlite_url, tmp_path) -> None:
    import os
    import queue
    import signal
    import threading

    from serverproc import hpo_server

    path = tmp_path / "tokens"
    alice = add_token(path, "alice")
    read = f"token file {path} read"
    with hpo_server("--db", sqlite_url, "--token-file", str(path)) as (server, address):
        logged: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [logged.put(x) for x in server.stderr], daemon=True).start()
        assert list_studies(address, ClientSecurity(token=alice)) == []
        os.kill(server.pid, signal.SIGHUP)
        while read not in logged.get(timeout=30):  # the file, read again on SIGHUP
            pass
        assert server.poll() is None, "SIGHUP stopped the server"
        bob = add_token(path, "bob")
        assert list_studies(address, ClientSecurity(token=bob)) == []
        os.kill(server.pid, signal.SIGTERM)
        assert server.wait(30) == 0
        assert "stopped" in server.stdout.read()


def test_calls_without_a_valid_token_are_rate_limited_and_logged_in_summary(
    sqlite_url, tmp_path, caplog
) -> None:

    path = tmp_path / "tokens"
    alice = add_token(path, "alice")
    limits = ServerLimits(bad_token_burst=10, bad_token_rate=0.001)
    caplog.set_level(logging.INFO, logger="hpo.server")
    security = ServerSecurity(token_file=str(path))
    with Coordinator(sqlite_url, security=security, limits=limits) as coordinator:
        with grpc.insecure_channel(coordinator.address) as channel:
            call = channel.unary_unary(
                "/hpo.v1.Coordinator/ListStudies",
                request_serializer=api.ListStudiesRequest.SerializeToString,
                response_deserializer=api.ListStudiesResponse.FromString,
            )
            codes = []
            for i in range(300):
                metadata = (("authorization", f"Bearer hpo_wrong{i}"),) if i % 2 else ()
                with pytest.raises(grpc.RpcError) as info:
                    call(api.ListStudiesRequest(), metadata=metadata, timeout=10)
                codes.append(info.value.code())
            good = call(api.ListStudiesRequest(), metadata=(("authorization", f"Bearer {alice}"),))
    assert list(good.studies) == []  # a valid token from the same address still passes
    assert codes[:10] == [grpc.StatusCode.UNAUTHENTICATED] * 10
    assert set(codes[10:]) == {grpc.StatusCode.RESOURCE_EXHAUSTED}
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1, [r.getMessage() for r in refusals]  # summaries: once a minute


def test_a_password_in_db_on_the_command_line_warns(tmp_path) -> None:
    import os
    import subprocess
    import sys

    url = "postgresql://alice:S3CRET@127.0.0.1:1/nowhere"  # port 1: fails at once
    command = [sys.executable, "-m", "hpo.cli", "server", "--port", "0"]
    env = {k: v for k, v in os.environ.items() if k != "HPO_DB"}
    given = subprocess.run(
        [*command, "--db", url], capture_output=True, text=True, timeout=120, env=env
    )
    warnings = [line for line in given.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, given.stderr
    assert "HPO_DB" in warnings[0] and "PGPASSFILE" in warnings[0]
    assert "S3CRET" not in given.stderr + given.stdout
    from_env = subprocess.run(
        command, capture_output=True, text=True, timeout=120, env={**env, "HPO_DB": url}
    )
    assert "warning:" not in from_env.stderr
    assert "S3CRET" not in from_env.stderr + from_env.stdout


def test_a_misconfigured_client_fails_at_once_naming_the_cause(
    secured, sqlite_coordinator, sqlite_url, pki, tokens, hpo_cli, tmp_path
) -> None:
    """A TLS mismatch used to be retried as UNAVAILABLE for two minutes; now each is one
    line within seconds (the subprocess timeout is far below the SDK's retry window)."""
    tls = f"localhost:{secured.port}"
    plain = f"localhost:{sqlite_coordinator.port}"
    (tmp_path / "other").mkdir()
    other_ca = _cert("another CA", _key(), ca=True)
    (tmp_path / "other" / "ca.pem").write_bytes(other_ca.public_bytes(serialization.Encoding.PEM))
    with Coordinator(
        f"sqlite:///{tmp_path / 'm.db'}",
        port=0,
        security=ServerSecurity(pki["server_cert"], pki["server_key"], tls_client_ca=pki["ca"]),
    ) as mutual:
        cases = [
            ((tls,), f"the coordinator at {tls} speaks TLS: set HPO_TLS_CA (or --tls-ca)"),
            ((f"{tls},{tls}",), f"the coordinator at {tls} speaks TLS: set HPO_TLS_CA"),
            (
                (plain, "--tls-ca", pki["ca"]),
                f"the coordinator at {plain} does not speak TLS: unset HPO_TLS_CA",
            ),
            (
                (tls, "--tls-ca", str(tmp_path / "other" / "ca.pem")),
                f"the certificate of the coordinator at {tls} is not signed by the CA in "
                "HPO_TLS_CA",
            ),
            (
                (f"localhost:{mutual.port}", "--tls-ca", pki["ca"]),
                "requires a client certificate (mutual TLS): set HPO_TLS_CERT and HPO_TLS_KEY",
            ),
            ((tls, "--tls-ca", pki["ca"]), "UNAUTHENTICATED: no token: send 'authorization: "),
            (
                (tls, "--tls-ca", pki["ca"], "--token", "hpo_wrong"),
                "UNAUTHENTICATED: invalid token (check HPO_TOKEN or --token)",
            ),
        ]
        for (address, *options), message in cases:
            result = hpo_cli(
                *options, "studies", "list", "--coordinator", address, check=False, timeout=30
            )
            assert result.returncode == 1
            [line] = result.stderr.splitlines()
            assert line.startswith("error: UNAUTHENTICATED: ") and message in line, line
    served = hpo_cli(
        "--tls-ca", pki["ca"], "--token", tokens[1], "studies", "list", "--coordinator", tls
    )
    assert "name" in served.stdout


def test_a_list_of_tls_replicas_checks_each_certificate_against_the_first_name(
    secured, sqlite_url, pki, tokens
) -> None:
    security = ServerSecurity(pki["server_cert"], pki["server_key"], token_file=tokens[0])
    with Coordinator(sqlite_url, port=0, security=security) as second:
        both = f"localhost:{secured.port},localhost:{second.port}"
        good = ClientSecurity(tls_ca=pki["ca"], token=tokens[1])
        for _ in range(4):  # round-robin: both replicas answer over TLS
            assert list_studies(both, good) == []
