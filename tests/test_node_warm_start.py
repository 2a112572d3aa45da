"""The Node.js trainer's --warm-start option, against a live coordinator."""

from __future__ import annotations

from test_node_trainer import node

import hpo


def test_node_trainer_warm_starts_from_an_earlier_study(node_trainer, sqlite_coordinator):
    address = sqlite_coordinator.address
    first = node(node_trainer, "--address", address, "--study", "node-a", "--trials", "6")
    assert first["warm_start"] == []

    second = node(
        node_trainer,
        "--address",
        address,
        "--study",
        "node-b",
        "--trials",
        "4",
        "--warm-start",
        "node-a",
    )
    assert second["warm_start"] == [
        {"study": "node-a", "reason": "named; matched parameter by parameter (define-by-run)"}
    ]
    source = hpo.load_study("node-a", address=address)
    study = hpo.load_study("node-b", address=address)
    assert [t.number for t in study.trials] == [0, 1, 2, 3]  # none of node-a's trials
    assert study.trials[0].params == source.best_trial.params  # its best came first

    auto = node(
        node_trainer,
        "--address",
        address,
        "--study",
        "node-c",
        "--trials",
        "1",
        "--warm-start",
        "auto",
    )
    assert {s["study"] for s in auto["warm_start"]} == {"node-a"}  # node-b has < 5 complete
