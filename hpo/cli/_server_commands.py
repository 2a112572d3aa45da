"""``hpo server``, ``hpo dashboard`` and ``hpo tokens``: running a coordinator and its UI."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Annotated, Any

import typer

from hpo._defaults import DEFAULT_STORAGE_URL
from hpo.cli._common import fail, warn_password_in_argv

ServedDb = Annotated[
    str,
    typer.Option(
        "--db",
        envvar="HPO_DB",
        help="SQLite path or URL, or postgresql://user@host/db.",
    ),
]

tokens_app = typer.Typer(
    help="Create tokens for a coordinator's --token-file.", no_args_is_help=True
)


def server(
    ctx: typer.Context,
    db: ServedDb = DEFAULT_STORAGE_URL,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one.")] = 50051,
    workers: Annotated[int, typer.Option(help="Threads serving calls.")] = 16,
    grace: Annotated[float, typer.Option(help="Seconds to drain calls on SIGTERM.")] = 10.0,
    tls_cert: Annotated[str | None, typer.Option(help="TLS certificate chain (PEM).")] = None,
    tls_key: Annotated[str | None, typer.Option(help="TLS private key (PEM).")] = None,
    tls_client_ca: Annotated[
        str | None, typer.Option(help="CA whose client certificates are required (mutual TLS).")
    ] = None,
    token_file: Annotated[
        str | None,
        typer.Option(
            envvar="HPO_TOKEN_FILE",
            help="Tokens that may call (see `hpo tokens create`); health checks need none.",
        ),
    ] = None,
    insecure: Annotated[
        bool, typer.Option(help="Allow a non-loopback --host without TLS and tokens.")
    ] = False,
    rate_limit: Annotated[
        float, typer.Option(help="Calls per second per principal (with --token-file); 0: none.")
    ] = 0.0,
    artifacts: Annotated[
        str | None,
        typer.Option(
            envvar="HPO_ARTIFACTS",
            help="Artifact store: a folder or fsspec URL (s3://...). Default: "
            "hpo-artifacts/ beside a SQLite file, else in the working directory.",
        ),
    ] = None,
    metrics_port: Annotated[
        int,
        typer.Option(
            envvar="HPO_METRICS_PORT",
            min=0,
            max=65535,
            help="Serve Prometheus metrics over HTTP on --host at this port; 0: off.",
        ),
    ] = 0,
    study_idle_seconds: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="Let go of a study no call used for this long (it is reloaded from the "
            "database when a call names it again).",
        ),
    ] = 600.0,
    max_artifact_bytes: Annotated[
        int, typer.Option(help="Largest artifact an upload may send (RESOURCE_EXHAUSTED beyond).")
    ] = 2 * 1024**3,
    stream_idle_seconds: Annotated[
        float, typer.Option(help="Close an upload or download that moves nothing this long.")
    ] = 30.0,
) -> None:
    """Run a coordinator until SIGTERM or Ctrl-C, then drain in-flight calls and exit.
    SIGHUP reads the token file again (it is also read again whenever it changes)."""
    from hpo.server import Coordinator, ServerSecurity
    from hpo.service._limits import ServerLimits
    from hpo.storage._engine import redact_url

    warn_password_in_argv(ctx, "db")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        security = ServerSecurity(
            tls_cert, tls_key, tls_client_ca, token_file, insecure, rate_limit
        )
        limits = ServerLimits(
            max_artifact_bytes=max_artifact_bytes, stream_idle_seconds=stream_idle_seconds
        )
        coordinator = Coordinator(
            db,
            host=host,
            port=port,
            max_workers=workers,
            artifacts_url=artifacts,
            security=security,
            metrics_port=metrics_port,
            study_idle_seconds=study_idle_seconds,
            limits=limits,
        ).start()
    except (ValueError, OSError) as e:
        fail(str(e))
    received: list[int] = []  # signals, handled below rather than inside the handler
    woken = threading.Event()

    def _received(signum: int, _frame: Any) -> None:
        received.append(signum)
        woken.set()

    for handled in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(handled, _received)
    print(f"hpo coordinator listening on {coordinator.address} ({redact_url(db)})", flush=True)
    if metrics_port:
        where = coordinator.address.rsplit(":", 1)[0]
        print(f"metrics on http://{where}:{metrics_port}/metrics", flush=True)
    stopping = False
    while not stopping:
        woken.wait()
        woken.clear()
        while received:
            if received.pop(0) != signal.SIGHUP:
                stopping = True
            elif not coordinator.reload_tokens():
                logging.getLogger("hpo.server").warning("SIGHUP: no token file was read")
    print("draining...", flush=True)
    coordinator.stop(grace)
    print("stopped", flush=True)


@tokens_app.command("create")
def tokens_create(
    principal: str,
    token_file: Annotated[str, typer.Option(help="The file the coordinator reads.")],
    role: Annotated[str, typer.Option(help="user or admin.")] = "user",
) -> None:
    """Print a new token for PRINCIPAL (shown once) and append its SHA-256 to the file."""
    from hpo.server import add_token

    try:
        print(add_token(token_file, principal, role))
    except ValueError as e:
        fail(str(e))
