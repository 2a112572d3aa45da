"""A study's stored configuration: how any coordinator rebuilds its sampler and pruner."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from optuna.distributions import BaseDistribution, distribution_to_json, json_to_distribution

from hpo.errors import InvalidArgumentError
from hpo.service._algorithms import (
    DEFAULT_PRUNER,
    DEFAULT_SAMPLER,
    AlgorithmSpec,
    build_pruner,
    build_sampler,
)
from hpo.service._limits import check_name

# Study system attribute that holds the configuration (visible in optuna-dashboard too).
CONFIG_ATTR = "hpo:config"
DEFAULT_LEASE_SECONDS = 60.0


@dataclass(frozen=True)
class StudyConfig:
    """Everything about a study beyond its name and directions; validated on construction."""

    sampler: AlgorithmSpec = field(default_factory=lambda: AlgorithmSpec(DEFAULT_SAMPLER))
    pruner: AlgorithmSpec = field(default_factory=lambda: AlgorithmSpec(DEFAULT_PRUNER))
    search_space: Mapping[str, BaseDistribution] = field(default_factory=dict)
    trial_budget: int = 0
    retry_budget: int = 0
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    created_at: float = field(default_factory=time.time)
    #: The principal that created the study ("" when the coordinator has no tokens).
    owner: str = ""

    def __post_init__(self) -> None:
        if self.trial_budget < 0:
            raise InvalidArgumentError.for_field("trial_budget", "must be >= 0 (0 means no limit)")
        if self.retry_budget < 0:
            raise InvalidArgumentError.for_field("retry_budget", "must be >= 0")
        if not math.isfinite(self.lease_seconds) or self.lease_seconds <= 0:
            raise InvalidArgumentError.for_field("lease_seconds", "must be a positive number")
        # Building both once proves the names and options are valid before anything is stored.
        build_sampler(self.sampler)
        build_pruner(self.pruner)

    @property
    def heartbeat_seconds(self) -> float:
        """How often a client should send Heartbeat: a quarter of the lease."""
        return self.lease_seconds / 4

    def to_json(self) -> dict[str, Any]:
        return {
            "sampler": self.sampler.to_json(),
            "pruner": self.pruner.to_json(),
            "search_space": {k: distribution_to_json(d) for k, d in self.search_space.items()},
            "trial_budget": self.trial_budget,
            "retry_budget": self.retry_budget,
            "lease_seconds": self.lease_seconds,
            "created_at": self.created_at,
            "owner": self.owner,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> StudyConfig:
        """The stored configuration; defaults for a study created by plain Optuna."""
        if not data:
            return cls(created_at=0.0)
        return cls(
            sampler=AlgorithmSpec.from_json(data["sampler"]),
            pruner=AlgorithmSpec.from_json(data["pruner"]),
            search_space={k: json_to_distribution(v) for k, v in data["search_space"].items()},
            trial_budget=int(data["trial_budget"]),
            retry_budget=int(data["retry_budget"]),
            lease_seconds=float(data["lease_seconds"]),
            created_at=float(data.get("created_at", 0.0)),
            owner=str(data.get("owner", "")),
        )


def validate_study_name(name: str) -> None:
    check_name("name", name, printable=True)
