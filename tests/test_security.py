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
from hpo.server import Coordinator, ServerSecurity, add_token
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
