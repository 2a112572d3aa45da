"""OSS Vizier's side of bench_coordinator.py; runs under the Vizier venv (bench/setup_vizier.sh).

Usage:
  python _vizier_peer.py serve DB_URL PORT STUDY
      Vizier's own server (DefaultVizierServer: VizierServicer + in-process Pythia, 30 gRPC
      threads) on 127.0.0.1:PORT over the SQLite file DB_URL; creates STUDY (5 floats in
      [0, 1], RANDOM_SEARCH), prints "ready", and serves until terminated.
  python _vizier_peer.py client HOST:PORT STUDY N
      One client process, run like bench/_client.py: loads STUDY, prints "ready", waits for a
      line on stdin, runs N trials (suggest 1 -> complete), prints JSON {start, end, trials}.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

OWNER = "bench"
NAMES = [f"x{i}" for i in range(5)]


def serve(db_url: str, port: int, study_id: str) -> None:
    from vizier.service import clients, servers
    from vizier.service import pyvizier as vz

    server = servers.DefaultVizierServer(host="127.0.0.1", port=port, database_url=db_url)
    clients.environment_variables.server_endpoint = server.endpoint
    config = vz.StudyConfig(algorithm="RANDOM_SEARCH")
    for name in NAMES:
        config.search_space.root.add_float_param(name, 0.0, 1.0)
    config.metric_information.append(
        vz.MetricInformation("objective", goal=vz.ObjectiveMetricGoal.MINIMIZE)
    )
    clients.Study.from_study_config(config, owner=OWNER, study_id=study_id)
    print("ready", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})


def client(endpoint: str, study_id: str, n: int) -> None:
    from vizier.service import clients
    from vizier.service import pyvizier as vz

    clients.environment_variables.server_endpoint = endpoint
    study = clients.Study.from_owner_and_id(OWNER, study_id)
    # Trials given to one client_id and still active are handed back to it: one id per process.
    client_id = f"worker-{os.getpid()}"
    print("ready", flush=True)
    sys.stdin.readline()
    start = time.time()
    for _ in range(n):
        (trial,) = study.suggest(count=1, client_id=client_id)
        # clients.Trial keeps only the id, so .parameters costs two more round trips (GetTrial,
        # GetStudy); this is the loop Vizier documents. Reading the parameters from the
        # suggestion itself (its private VizierClient) showed no consistent gain here:
        # alternating blocks of 60 trials varied more between blocks than between the two.
        value = sum(trial.parameters[name] for name in NAMES)
        trial.complete(vz.Measurement(metrics={"objective": value}))
    print(json.dumps({"start": start, "end": time.time(), "trials": n}), flush=True)


def main() -> None:
    command, *args = sys.argv[1:]
    if command == "serve":
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
        serve(args[0], int(args[1]), args[2])
    elif command == "client":
        client(args[0], args[1], int(args[2]))
    else:
        sys.exit(f"unknown command {command!r}; see the module docstring")


if __name__ == "__main__":
    main()
