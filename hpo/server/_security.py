"""How a coordinator is exposed: TLS, mutual TLS, bearer tokens, and the loopback rule.

Listening beyond loopback without both TLS and a token file needs ``insecure=True``
(``--insecure``), and then logs a warning: a shared HPO service holds a team's experiments.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from hpo._address import is_loopback
from hpo.server._auth import RateLimiter, TokenFile, TokenInterceptor
from hpo.service._limits import ServerLimits

_logger = logging.getLogger("hpo.server")


@dataclass(frozen=True)
class ServerSecurity:
    """TLS key pair (PEM files), an optional client CA (mutual TLS), a token file."""

    tls_cert: str | None = None
    tls_key: str | None = None
    tls_client_ca: str | None = None
    token_file: str | None = None
    insecure: bool = False
    #: Calls per second each principal may make (bursts of 5 seconds' worth); 0: no limit.
    rate_limit: float = 0.0

    def __post_init__(self) -> None:
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("--tls-cert and --tls-key go together")
        if self.tls_client_ca and not self.tls_cert:
            raise ValueError("--tls-client-ca needs --tls-cert and --tls-key")

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert)

    def check_exposure(self, host: str) -> None:
        if is_loopback(host):
            return
        if self.tls and self.token_file:
            return
        if not self.insecure:
            raise ValueError(
                f"refusing to listen on {host} without TLS (--tls-cert/--tls-key) and tokens "
                "(--token-file); pass --insecure to do it anyway"
            )
        _logger.warning(
            "serving on %s with%s TLS and with%s tokens: anyone who can reach it can read and "
            "change every study",
            host,
            "" if self.tls else "out",
            "" if self.token_file else "out",
        )

    def server_credentials(self) -> Any:
        if not self.tls:
            return None
        assert self.tls_cert and self.tls_key
        client_ca = Path(self.tls_client_ca).read_bytes() if self.tls_client_ca else None
        return grpc.ssl_server_credentials(
            [(Path(self.tls_key).read_bytes(), Path(self.tls_cert).read_bytes())],
            root_certificates=client_ca,
            require_client_auth=client_ca is not None,
        )

    def token_interceptor(self, limits: ServerLimits | None = None) -> TokenInterceptor | None:
        """The interceptor that checks tokens (None without a token file)."""
        if not self.token_file:
            return None
        limiter = RateLimiter(self.rate_limit, self.rate_limit * 5) if self.rate_limit else None
        return TokenInterceptor(TokenFile(self.token_file), limiter, limits)
