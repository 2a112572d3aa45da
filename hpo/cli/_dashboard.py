"""``hpo dashboard``: optuna-dashboard on an hpo database, with each trial's lineage
(see :mod:`hpo.cli._dashboard_view`, imported when the command runs)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from hpo._defaults import DEFAULT_STORAGE_URL
from hpo.cli._common import fail
from hpo.cli._server_commands import ServedDb


def dashboard(
    db: ServedDb = DEFAULT_STORAGE_URL,
    host: Annotated[str, typer.Option(help="Interface for the web UI.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the web UI; 0 picks a free one.")] = 8080,
) -> None:
    """Open optuna-dashboard on an hpo database, with each trial's lineage among its user
    attributes (needs the dashboard extra: pip install 'hpo[dashboard]')."""
    try:
        import optuna_dashboard
    except ImportError:
        fail("optuna-dashboard is not installed: pip install 'hpo[dashboard]'")
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from hpo.cli._dashboard_view import LineageAttrsStorage
    from hpo.storage import open_storage

    class _Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    opened = open_storage(db)
    view = LineageAttrsStorage(opened.optuna, opened.lineage)
    try:
        server = make_server(host, port, optuna_dashboard.wsgi(view), handler_class=_Quiet)
    except OSError as e:
        fail(f"--port: cannot listen on {host}:{port} ({e.strerror})")
    print(f"optuna-dashboard on http://{host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        opened.close()
