"""Optuna samplers and pruners by name: the only place that knows which names exist."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import optuna

from hpo.errors import InvalidArgumentError
from hpo.pruners import LearningCurvePruner
from hpo.service import _percentile
from hpo.service._limits import decode_json
from hpo.service._pareto import ParetoSuccessiveHalvingPruner


class _ServedGridSampler(optuna.samplers.GridSampler):
    """Optuna's grid sampler, minus the ``study.stop()`` it calls from ``after_trial`` when
    the grid is done (meant for ``optimize`` loops): the coordinator asks ``is_exhausted``
    before each trial instead and answers "budget spent"."""

    def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
        return None


SAMPLERS: Mapping[str, Callable[..., optuna.samplers.BaseSampler]] = {
    "tpe": optuna.samplers.TPESampler,
    "gp": optuna.samplers.GPSampler,
    "cmaes": optuna.samplers.CmaEsSampler,
    "nsga2": optuna.samplers.NSGAIISampler,
    "qmc": optuna.samplers.QMCSampler,
    "random": optuna.samplers.RandomSampler,
    "grid": _ServedGridSampler,
}

PRUNERS: Mapping[str, Callable[..., optuna.pruners.BasePruner]] = {
    "median": _percentile.MedianPruner,  # Optuna's, deciding from an index
    "percentile": _percentile.PercentilePruner,
    "successive_halving": optuna.pruners.SuccessiveHalvingPruner,
    "hyperband": optuna.pruners.HyperbandPruner,
    "wilcoxon": optuna.pruners.WilcoxonPruner,
    "patient": optuna.pruners.PatientPruner,
    "threshold": optuna.pruners.ThresholdPruner,
    "learning_curve": LearningCurvePruner,
    "pareto_successive_halving": ParetoSuccessiveHalvingPruner,
    "none": optuna.pruners.NopPruner,
}
#: Pruners that decide on one value per direction (studies with several directions).
MULTI_OBJECTIVE_PRUNERS = frozenset({"pareto_successive_halving", "none"})

#: Modules an algorithm needs on the coordinator beyond Optuna (and the extra that has them).
_NEEDS = {"gp": ("torch", "hpo[gp]")}

DEFAULT_SAMPLER = "tpe"
DEFAULT_PRUNER = "median"
#: For a study with several directions (Optuna's pruners compare one value).
DEFAULT_MULTI_OBJECTIVE_PRUNER = "pareto_successive_halving"


@dataclass(frozen=True)
class AlgorithmSpec:
    """A sampler or pruner by name with its constructor options (JSON-serializable)."""

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "options": dict(self.options)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AlgorithmSpec:
        return cls(name=data["name"], options=dict(data.get("options", {})))

    @classmethod
    def parse(cls, field_name: str, name: str, options_json: str, default: str) -> AlgorithmSpec:
        """Validate a name and JSON options received from a client."""
        field = f"{field_name}.options_json"
        options = decode_json(field, options_json) if options_json.strip() else {}
        if not isinstance(options, dict):
            raise InvalidArgumentError.for_field(field, "must be a JSON object")
        return cls(name=name or default, options=options)


def build_sampler(spec: AlgorithmSpec, seed_offset: int = 0) -> optuna.samplers.BaseSampler:
    """Construct the sampler. ``seed_offset`` shifts a given seed so that a coordinator that
    rebuilds a sampler for a study with trials does not repeat the first proposals."""
    options = dict(spec.options)
    if seed_offset and isinstance(options.get("seed"), int):
        # Seeds are 32-bit: wrap, so that a seed near 2**32 stays valid (Optuna refuses more).
        options["seed"] = (options["seed"] + seed_offset) % 2**32
    return _construct("sampler", SAMPLERS, spec.name, options)


def build_pruner(spec: AlgorithmSpec) -> optuna.pruners.BasePruner:
    """Construct the pruner; ``patient`` takes a nested ``wrapped_pruner`` spec."""
    options = dict(spec.options)
    if spec.name == "patient" and isinstance(options.get("wrapped_pruner"), Mapping):
        inner = options["wrapped_pruner"]
        options["wrapped_pruner"] = build_pruner(
            AlgorithmSpec(inner.get("name", ""), {k: v for k, v in inner.items() if k != "name"})
        )
    return _construct("pruner", PRUNERS, spec.name, options)


def _construct(
    kind: str, table: Mapping[str, Callable[..., Any]], name: str, options: dict[str, Any]
) -> Any:
    factory = table.get(name)
    if factory is None:
        raise InvalidArgumentError.for_field(
            f"{kind}.name", f"unknown {kind} {name!r}; choose one of {', '.join(sorted(table))}"
        )
    if name in _NEEDS:
        module, extra = _NEEDS[name]
        try:
            importlib.import_module(module)
        except ImportError:
            raise InvalidArgumentError.for_field(
                f"{kind}.name",
                f"{name!r} needs {module} on the coordinator (pip install '{extra}')",
            ) from None
    try:
        return factory(**options)
    except InvalidArgumentError:
        raise
    except (TypeError, ValueError, KeyError) as e:
        raise InvalidArgumentError.for_field(
            f"{kind}.options_json", f"{name} rejected its options: {e}"
        ) from e


def check_sampler_param(spec: AlgorithmSpec, field: str, name: str) -> None:
    """Refuse a parameter the study's sampler cannot propose: a grid only has its own."""
    grid = spec.options.get("search_space") if spec.name == "grid" else None
    if isinstance(grid, Mapping) and name not in grid:
        raise InvalidArgumentError.for_field(
            field,
            f"{name!r:.80} is not in the grid sampler's search_space ({', '.join(sorted(grid))[:200]})",
        )
