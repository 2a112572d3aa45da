"""optuna-dashboard shows a study that ran through an hpo coordinator."""

from __future__ import annotations

import json
import threading
import urllib.request
from wsgiref.simple_server import WSGIRequestHandler, make_server

import optuna_dashboard

import hpo
from hpo.server import Coordinator
from hpo.storage import optuna_storage


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def test_dashboard_lists_the_study_and_its_trials(
    sqlite_coordinator: Coordinator, sqlite_url
) -> None:
    study = hpo.create_study("seen", address=sqlite_coordinator.address)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=5)

    app = optuna_dashboard.wsgi(optuna_storage(sqlite_url))
    httpd = make_server("127.0.0.1", 0, app, handler_class=_Quiet)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{httpd.server_port}"
        with urllib.request.urlopen(f"{base}/api/studies") as reply:
            studies = json.load(reply)["study_summaries"]
        [summary] = [s for s in studies if s["study_name"] == "seen"]
        with urllib.request.urlopen(f"{base}/api/studies/{summary['study_id']}") as reply:
            detail = json.load(reply)
        assert len(detail["trials"]) == 5
        assert {t["state"] for t in detail["trials"]} == {"Complete"}
    finally:
        httpd.shutdown()
