"""``hpo``: run a coordinator and inspect studies from the shell."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from typing import Annotated, Any

import typer

from hpo.cli import _render as render
from hpo.cli._common import Address, AsJson, Storage, _call, _err, _fail
from hpo.errors import HpoError

app = typer.Typer(
    name="hpo",
    help="Hyperparameter optimization as a service: run a coordinator, inspect studies.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
studies_app = typer.Typer(help="List, show and delete studies.", no_args_is_help=True)
trials_app = typer.Typer(help="List a study's trials.", no_args_is_help=True)


@app.callback()
def _connection_settings(
    token: Annotated[
        str | None,
        typer.Option(envvar="HPO_TOKEN", help="Bearer token for a coordinator with tokens."),
    ] = None,
    tls_ca: Annotated[
        str | None, typer.Option(envvar="HPO_TLS_CA", help="CA that signed the coordinator (TLS).")
    ] = None,
    tls_cert: Annotated[
        str | None, typer.Option(envvar="HPO_TLS_CERT", help="Client certificate (mutual TLS).")
    ] = None,
    tls_key: Annotated[
        str | None, typer.Option(envvar="HPO_TLS_KEY", help="Client key (mutual TLS).")
    ] = None,
) -> None:
    """Hyperparameter optimization as a service: run a coordinator, inspect studies."""
    import os

    # Every client call in this process (and Ray workers it starts) reads these.
    for name, value in (
        ("HPO_TOKEN", token),
        ("HPO_TLS_CA", tls_ca),
        ("HPO_TLS_CERT", tls_cert),
        ("HPO_TLS_KEY", tls_key),
    ):
        if value:
            os.environ[name] = value


app.add_typer(studies_app, name="studies")
app.add_typer(trials_app, name="trials")
models_app = typer.Typer(
    help="Register, alias, list and show model versions.", no_args_is_help=True
)
app.add_typer(models_app, name="models")


@app.command()
def server(
    db: Annotated[
        str,
        typer.Option("--db", envvar="HPO_DB", help="SQLite path/URL or postgresql://user@host/db."),
    ] = "sqlite:///hpo.db",
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
) -> None:
    """Run a coordinator until SIGTERM or Ctrl-C, then drain in-flight calls and exit."""
    from hpo.server import Coordinator
    from hpo.storage import redact_url

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from hpo.server import ServerSecurity

    try:
        security = ServerSecurity(
            tls_cert, tls_key, tls_client_ca, token_file, insecure, rate_limit
        )
        coordinator = Coordinator(
            db,
            host=host,
            port=port,
            max_workers=workers,
            artifacts_url=artifacts,
            security=security,
            metrics_port=metrics_port,
        ).start()
    except (ValueError, OSError) as e:
        _fail(str(e))
    print(f"hpo coordinator listening on {coordinator.address} ({redact_url(db)})", flush=True)
    if metrics_port:
        print(f"metrics on http://{coordinator.address.rsplit(':', 1)[0]}:{metrics_port}/metrics", flush=True)
    stopping = threading.Event()

    def _stop(signum: int, _frame: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    stopping.wait()
    print("draining...", flush=True)
    coordinator.stop(grace)
    print("stopped", flush=True)


@app.command()
def sweep(
    objective: Annotated[str, typer.Argument(help="FILE.py:FUNCTION or MODULE:FUNCTION.")],
    study: Annotated[str, typer.Option(help="Study name (new, or existing with --resume).")],
    trials: Annotated[int, typer.Option(help="Trial budget (failed trials excluded).")] = 100,
    direction: Annotated[str, typer.Option(help="minimize or maximize.")] = "minimize",
    workers: Annotated[int, typer.Option(help="Ray worker actors to start.")] = 2,
    cpus_per_trial: Annotated[float, typer.Option(help="CPUs each worker holds.")] = 1.0,
    gpus_per_trial: Annotated[
        float, typer.Option(help="GPUs each worker holds; 0.5 lets two trials share one.")
    ] = 0.0,
    sampler: Annotated[str, typer.Option(help="tpe, gp, cmaes, nsga2, qmc, random, grid.")] = "tpe",
    sampler_options: Annotated[
        str, typer.Option(help="Sampler options as JSON, e.g. '{\"seed\": 1}'.")
    ] = "{}",
    pruner: Annotated[
        str,
        typer.Option(
            help="median, percentile, successive_halving, hyperband, wilcoxon, "
            "patient, threshold, pareto_successive_halving, none."
        ),
    ] = "median",
    pruner_options: Annotated[str, typer.Option(help="Pruner options as JSON.")] = "{}",
    address: Annotated[
        str | None,
        typer.Option(
            "--address",
            envvar="RAY_ADDRESS",
            help="Ray cluster to join (ray://head:10001). Default: a local Ray.",
        ),
    ] = None,
    coordinator: Annotated[
        str | None,
        typer.Option(
            envvar="HPO_ADDRESS",
            help="host:port of a coordinator. Default: one embedded in this process.",
        ),
    ] = None,
    storage: Storage = None,
    resume: Annotated[bool, typer.Option(help="Continue an existing study to its budget.")] = False,
    max_failures: Annotated[
        int | None, typer.Option(help="Stop once more trials than this have failed.")
    ] = None,
    register: Annotated[
        str | None,
        typer.Option(help="Register the best trial's artifact as a new version of this model."),
    ] = None,
    warm_start: Annotated[
        list[str] | None,
        typer.Option(
            "--warm-start",
            help="Learn from earlier studies' trials: auto (the coordinator picks compatible "
            "studies) or a study's name; repeat for several.",
        ),
    ] = None,
    warm_start_data: Annotated[
        list[str] | None,
        typer.Option(
            "--warm-start-data",
            help="With --warm-start auto: a file or folder the trials read, so that studies "
            "whose trials recorded the same data come first; repeat for several.",
        ),
    ] = None,
) -> None:
    """Run a sweep on Ray workers with live progress and early stopping by the coordinator."""
    from hpo.workers import run_sweep

    try:
        result = run_sweep(
            objective,
            study=study,
            n_trials=trials,
            direction=direction,
            workers=workers,
            cpus_per_trial=cpus_per_trial,
            gpus_per_trial=gpus_per_trial,
            sampler={"name": sampler, **_json_object("--sampler-options", sampler_options)},
            pruner={"name": pruner, **_json_object("--pruner-options", pruner_options)},
            coordinator=coordinator,
            storage=storage,
            ray_address=address,
            resume=resume,
            max_failures=max_failures,
            register=register,
            warm_start=warm_start or None,
            warm_start_data=warm_start_data or None,
        )
    except KeyboardInterrupt:
        _err.print(f"interrupted: continue with `hpo sweep ... --study {study} --resume`")
        raise typer.Exit(130) from None
    except (ValueError, FileNotFoundError) as e:
        _fail(str(e))
    if result.stopped:
        raise typer.Exit(2)


def _json_object(option: str, text: str) -> dict[str, Any]:
    import json

    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError as e:
        _fail(f"{option}: not valid JSON ({e.msg})")
    if not isinstance(value, dict):
        _fail(f"{option}: must be a JSON object")
    return value


tokens_app = typer.Typer(
    help="Create tokens for a coordinator's --token-file.", no_args_is_help=True
)
app.add_typer(tokens_app, name="tokens")


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
        _fail(str(e))


@studies_app.command("list")
def studies_list(address: Address = None, storage: Storage = None, as_json: AsJson = False) -> None:
    """All studies with their trial counts."""
    from hpo.v1 import coordinator_pb2 as api

    response = _call(address, storage, "ListStudies", api.ListStudiesRequest())
    render.studies(list(response.studies), as_json)


@studies_app.command("show")
def studies_show(
    name: str, address: Address = None, storage: Storage = None, as_json: AsJson = False
) -> None:
    """One study's configuration and progress."""
    from hpo.v1 import coordinator_pb2 as api

    render.study(_call(address, storage, "GetStudy", api.GetStudyRequest(name=name)), as_json)


@studies_app.command("delete")
def studies_delete(
    name: str,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    address: Address = None,
    storage: Storage = None,
) -> None:
    """Delete a study and all its trials."""
    from hpo.v1 import coordinator_pb2 as api

    if not yes:
        typer.confirm(f"Delete study {name!r} and all its trials?", abort=True)
    _call(address, storage, "DeleteStudy", api.DeleteStudyRequest(name=name))
    print(f"deleted study {name!r}")


@trials_app.command("list")
def trials_list(
    study: str,
    state: Annotated[
        list[str] | None,
        typer.Option(help="Only these states (running, complete, pruned, failed, waiting)."),
    ] = None,
    address: Address = None,
    storage: Storage = None,
    as_json: AsJson = False,
) -> None:
    """A study's trials, by number."""
    from hpo.v1 import coordinator_pb2 as api

    states = [render.state_from_name(s) for s in state or []]
    trials: list[Any] = []
    token = ""
    while True:
        request = api.ListTrialsRequest(study=study, states=states, page_token=token)
        response = _call(address, storage, "ListTrials", request)
        trials.extend(response.trials)
        token = response.next_page_token
        if not token:
            break
    render.trials(trials, as_json)


@app.command()
def best(
    study: str, address: Address = None, storage: Storage = None, as_json: AsJson = False
) -> None:
    """The best trial (or the Pareto front of a multi-objective study)."""
    from hpo.v1 import coordinator_pb2 as api

    response = _call(address, storage, "GetBestTrials", api.GetBestTrialsRequest(study=study))
    render.trials(list(response.trials), as_json)


@app.command()
def dashboard(
    db: Annotated[
        str, typer.Option("--db", envvar="HPO_DB", help="The coordinator's database.")
    ] = "sqlite:///hpo.db",
    host: Annotated[str, typer.Option(help="Interface for the web UI.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the web UI.")] = 8080,
) -> None:
    """Open optuna-dashboard on an hpo database (needs the dashboard extra: pip install optuna-dashboard)."""
    try:
        import optuna_dashboard
    except ImportError:
        _fail("optuna-dashboard is not installed: pip install 'hpo[dashboard]'")
    from hpo.storage import optuna_storage

    print(f"optuna-dashboard on http://{host}:{port}", flush=True)
    optuna_dashboard.run_server(optuna_storage(db), host=host, port=port)


def main() -> None:
    try:
        app()
    except HpoError as e:
        _err.print(f"[red]error:[/red] {e.code}: {e.message}", highlight=False)
        sys.exit(1)


from hpo.cli import _lineage_commands  # noqa: E402,F401  (registers its commands)

__all__ = ["app", "main", "models_app", "trials_app"]
