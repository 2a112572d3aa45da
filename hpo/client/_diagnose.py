"""Why a connection to a coordinator failed, when waiting will not help.

gRPC reports a TLS mismatch as UNAVAILABLE, the status of a coordinator that is down or
restarting, which the SDK retries for minutes. These checks tell the two apart from the
status details and, where those say only "Socket closed", from one probe of the port; a
misconfigured client then fails at once with the cause and the setting that fixes it.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Iterator
from typing import TYPE_CHECKING

from hpo._address import split_address
from hpo.errors import HpoError, UnauthenticatedError

if TYPE_CHECKING:
    from hpo.client._connection import ClientSecurity

PROBE_SECONDS = 3.0
_SET_CA = "set HPO_TLS_CA (or --tls-ca) to the CA that signed its certificate"
# What gRPC says when no connection carried the call (not a status the coordinator sent).
_NO_CONNECTION = ("failed to connect", "backends failing", "socket closed", "connection reset")


def misconfiguration(
    address: str, security: ClientSecurity, details: str, probe: bool = True
) -> HpoError | None:
    """An UnauthenticatedError naming the cause of an UNAVAILABLE that retrying cannot fix
    (``details`` are gRPC's), or None when the coordinator may just be down for now.
    ``probe``: also ask the port itself (gRPC's details may name another of the host's
    addresses, e.g. ::1 refused while 127.0.0.1 closed the TLS connection)."""
    uses_tls = bool(security.tls_ca or security.tls_cert)
    if "handshake failed" in details.lower():
        reason = details.rsplit("OPENSSL_internal:", 1)[-1].removesuffix(": OK").strip()
        if "WRONG_VERSION_NUMBER" in details:
            return _does_not_speak_tls(address)
        if "CERTIFICATE_VERIFY_FAILED" in details:
            return UnauthenticatedError(
                f"the certificate of the coordinator at {address} is not signed by the CA in "
                f"HPO_TLS_CA ({security.tls_ca}): {reason}"
            )
        return UnauthenticatedError(f"TLS with the coordinator at {address} failed: {reason}")
    lowered = details.lower()
    if not any(sign in lowered for sign in _NO_CONNECTION):
        return None  # the coordinator answered (e.g. its database is down): nothing to probe
    if not (probe or "socket closed" in lowered):
        return None
    answer = _probe(address)
    if answer == "tls" and not uses_tls:
        return UnauthenticatedError(f"the coordinator at {address} speaks TLS: {_SET_CA}")
    if answer == "not tls" and uses_tls:
        return _does_not_speak_tls(address)
    if answer == "tls" and not security.tls_cert and requires_client_certificate(address):
        return UnauthenticatedError(
            f"the coordinator at {address} requires a client certificate (mutual TLS): set "
            "HPO_TLS_CERT and HPO_TLS_KEY (or --tls-cert and --tls-key)"
        )
    return None


def _does_not_speak_tls(address: str) -> UnauthenticatedError:
    return UnauthenticatedError(
        f"the coordinator at {address} does not speak TLS: unset HPO_TLS_CA (and --tls-ca), "
        "or start it with --tls-cert and --tls-key"
    )


def _probe(address: str) -> str:
    """ "tls" when a TLS handshake with ``address`` succeeds (or ends in a TLS alert),
    "not tls" when something else answers, "down" when nothing does."""
    try:
        with _tls_connection(address) as tls:
            return "tls" if tls is not None else "down"
    except ssl.SSLError as e:  # an alert (e.g. "certificate required") is TLS too
        return "tls" if "ALERT" in (e.reason or "") else "not tls"
    except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError):
        return "not tls"
    except OSError:
        return "down"


def requires_client_certificate(address: str) -> bool:
    """Whether the TLS coordinator at ``address`` refuses a client without a certificate."""
    try:
        with _tls_connection(address) as tls:
            # TLS 1.3 refuses after the handshake: an alert, or the connection closed at
            # once. A server content with us waits for our first request instead.
            return tls is not None and tls.recv(1) == b""
    except ssl.SSLEOFError:
        return True
    except ssl.SSLError as e:
        return "CERTIFICATE" in (e.reason or "") or "HANDSHAKE_FAILURE" in (e.reason or "")
    except OSError:  # a timeout: it waits for our first request, as a TLS server should
        return False


@contextlib.contextmanager
def _tls_connection(address: str) -> Iterator[ssl.SSLSocket | None]:
    """A TLS connection to ``address`` that checks nothing: it only asks "is this TLS?"."""
    host, port = split_address(address)
    if port is None:  # a name resolver's target ("dns:///...", several hosts): no probe
        yield None
        return
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    with (
        socket.create_connection((host, port), timeout=PROBE_SECONDS) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        yield tls
