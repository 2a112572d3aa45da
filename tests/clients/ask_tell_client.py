"""A client process for tests: runs M ask -> suggest -> report -> tell rounds.

Usage: python ask_tell_client.py ADDRESS STUDY M [CLIENT_ID [HANG_AFTER_SUGGEST]]
Prints one line per trial it told: "told NUMBER VALUE". With HANG_AFTER_SUGGEST it prints
"asked NUMBER" and sleeps holding the trial (for SIGKILL tests).
"""

from __future__ import annotations

import sys
import time

import hpo


def main() -> None:
    address, study_name, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    client_id = sys.argv[4] if len(sys.argv) > 4 else ""
    hang = len(sys.argv) > 5
    study = hpo.load_study(study_name, address=address)
    for _ in range(rounds):
        trial = study.ask(client_id=client_id)
        x = trial.suggest_float("x", 0.0, 1.0)
        if hang:
            print(f"asked {trial.number}", flush=True)
            time.sleep(3600)
        trial.report(x, 0)
        study.tell(trial, x + trial.number)
        print(f"told {trial.number} {x + trial.number!r}", flush=True)


if __name__ == "__main__":
    main()
