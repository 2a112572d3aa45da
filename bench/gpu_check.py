"""GPU check: the torch MLP example through the SDK loop on CUDA, 1 and 4 concurrent trials.

    python bench/gpu_check.py [--trials-per-client 8] [--samples 200000] [--epochs 5]

Starts `hpo server` on a SQLite file, then for concurrency 1 and 4 runs that many client
processes on one study (each trial trains on the GPU), released together after each has
loaded CUDA and its data, and prints trials per minute. Ray is not needed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))
from _servers import free_port, running, trials_per_second  # noqa: E402

# The coordinator without the CLI, so the GPU host needs no typer.
SERVER = """
import signal, sys
from hpo.server import Coordinator
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM, signal.SIGINT])
coordinator = Coordinator(sys.argv[1], port=int(sys.argv[2])).start()
signal.sigwait([signal.SIGTERM, signal.SIGINT])
coordinator.stop(grace=5)
"""

CLIENT = """
import json, sys, time
sys.path.insert(0, {examples!r})
import torch, hpo, torch_mlp
address, study_name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
torch_mlp.dataset(torch_mlp.device_for(None))          # CUDA context and data, untimed
study = hpo.load_study(study_name, address=address)
print("ready", flush=True)
sys.stdin.readline()
start = time.time()
study.optimize(torch_mlp.objective, n_trials=n)
print(json.dumps({{"start": start, "end": time.time(), "trials": n}}), flush=True)
"""


def run(address: str, study: str, clients: int, per_client: int, env: dict) -> float:
    import hpo

    hpo.create_study(
        study,
        direction="maximize",
        sampler={"name": "random", "seed": 0},
        pruner="none",
        address=address,
    )
    code = CLIENT.format(examples=str(ROOT / "examples"))
    command = [sys.executable, "-c", code, address, study, str(per_client)]
    return trials_per_second([command] * clients, env) * 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials-per-client", type=int, default=8)
    parser.add_argument("--samples", type=int, default=200_000)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    import torch

    print(
        f"torch {torch.__version__}, cuda {torch.cuda.is_available()}, "
        f"{torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU'}"
    )
    env = {**os.environ, "HPO_MLP_SAMPLES": str(args.samples), "HPO_MLP_EPOCHS": str(args.epochs)}
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        server = [sys.executable, "-c", SERVER, f"sqlite:///{tmp}/gpu.db", str(port)]
        with running(server, port) as address:
            for clients in (1, 4):
                per_client = (
                    args.trials_per_client if clients == 1 else max(2, args.trials_per_client // 2)
                )
                rate = run(address, f"gpu-{clients}", clients, per_client, env)
                print(
                    f"{clients} concurrent trial(s) on one GPU: {rate:.1f} trials/min "
                    f"({clients * per_client} trials, {args.samples} samples x {args.epochs} "
                    "epochs)",
                    flush=True,
                )


if __name__ == "__main__":
    main()
