"""A new study's sampler and pruner, checked before anything is stored: every option against
the type its Optuna constructor declares, then both run together on a throwaway in-memory
study. A bad option is INVALID_ARGUMENT at CreateStudy, never INTERNAL at a later Ask.

Options arrive as JSON, so an option whose declared type JSON cannot carry (a function, a
sampler object) can only be left unset; ``patient``'s ``wrapped_pruner`` is the exception:
it takes a pruner spec object, ``{"name": "median", ...options}``.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import re
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import optuna

from hpo.errors import InvalidArgumentError
from hpo.service._algorithms import (
    PRUNERS,
    SAMPLERS,
    AlgorithmSpec,
    build_pruner,
    build_sampler,
    check_sampler_param,
)
from hpo.service._config import StudyConfig
from hpo.service._limits import check_params
from hpo.service._rules import suggest_param

#: Trials of the throwaway study: the second one sees the first (samplers learn from it).
_TRIAL_RUNS = 2
_STEPS = 3
_TOKEN = re.compile(r"\s*([A-Za-z_][\w.]*|[\[\],|]|\.\.\.)")


def _is_grid_value(value: Any) -> bool:  # what Optuna's GridSampler takes: str, number, bool, None
    return value is None or isinstance(value, str) or _SCALARS["float"](value)


_SCALARS: Mapping[str, Callable[[Any], bool]] = {
    "None": lambda v: v is None,
    "bool": lambda v: isinstance(v, bool),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v),
    "str": lambda v: isinstance(v, str),
    "Any": lambda v: True,
    "GridValueType": _is_grid_value,
}
_MAPPINGS = ("dict", "Mapping", "MutableMapping", "Dict")
_SEQUENCES = ("list", "Sequence", "List", "tuple", "Tuple", "Iterable")


def check_new_study(config: StudyConfig) -> None:
    """What a new study's configuration must pass beyond :func:`check_options` of its
    sampler and pruner: a search space within the limits, that the sampler can propose, and
    a trial run of the sampler and pruner together."""
    check_params("search_space", config.search_space)
    for name in config.search_space:
        check_sampler_param(config.sampler, f"search_space.{name}", name)
    _trial_run(config)


def check_options(kind: str, spec: AlgorithmSpec) -> None:
    """Each option of ``spec`` is a parameter of its constructor, of the declared type."""
    table = SAMPLERS if kind == "sampler" else PRUNERS
    factory = table.get(spec.name)
    if factory is None:
        return  # building it names the field and the choices
    field = f"{kind}.options_json"
    parameters = inspect.signature(factory).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    for option, value in spec.options.items():
        parameter = parameters.get(option)
        if parameter is None or parameter.kind is inspect.Parameter.VAR_KEYWORD:
            if takes_any:
                continue
            raise InvalidArgumentError.for_field(
                field,
                f"{spec.name} has no option {option!r}; it takes {', '.join(sorted(parameters))}",
            )
        declared = _annotation(parameter.annotation)
        if _is_pruner_spec(declared, value):
            _check_nested_pruner(field, value)
            continue
        parsed = _parse(declared)
        if not _accepts(parsed, value):
            raise InvalidArgumentError.for_field(
                field,
                f"{spec.name}'s {option} must be {_describe(parsed, declared)}; got {value!r:.80}",
            )


# -- the trial run -------------------------------------------------------------------------------


@dataclass
class _Blame(Exception):
    field: str
    name: str
    error: Exception


@contextlib.contextmanager
def _blamed_on(field: str, name: str) -> Iterator[None]:
    try:
        yield
    except _Blame:
        raise
    except Exception as error:  # any failure of the client's configuration, whatever its type
        raise _Blame(field, name, error) from None


def _trial_run(config: StudyConfig) -> None:
    """Ask, suggest the declared space, report and prune, tell: twice, in memory."""

    def objective(trial: optuna.Trial) -> float:
        with _blamed_on("sampler.options_json", config.sampler.name):
            for name, distribution in config.search_space.items():
                suggest_param(trial, name, distribution)
        with _blamed_on("pruner.options_json", config.pruner.name):
            for step in range(_STEPS):
                trial.report(float(step), step)
                trial.should_prune()
        return 0.0

    with warnings.catch_warnings():
        # Optuna >= 4.9 deprecates the option _quiet sets (and says so on stderr).
        warnings.simplefilter("ignore", FutureWarning)
        sampler = build_sampler(_quiet(config.sampler))
    study = optuna.create_study(
        storage=optuna.storages.InMemoryStorage(),
        sampler=sampler,
        pruner=build_pruner(config.pruner),
    )
    try:
        with _blamed_on("sampler.options_json", config.sampler.name):
            study.optimize(objective, n_trials=_TRIAL_RUNS)
    except _Blame as blame:
        raise InvalidArgumentError.for_field(
            blame.field, f"{blame.name} failed a trial run: {_one_line(blame.error)}"
        ) from None


def _quiet(spec: AlgorithmSpec) -> AlgorithmSpec:
    """The spec, minus the sampler's warnings about independent sampling where it has them
    and the client left them on: the throwaway study's log lines would only mislead."""
    factory = SAMPLERS.get(spec.name)
    if factory is None or "warn_independent_sampling" not in inspect.signature(factory).parameters:
        return spec
    return AlgorithmSpec(spec.name, {"warn_independent_sampling": False, **spec.options})


def _one_line(error: Exception) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."


# -- declared types, from the constructors' annotations --------------------------------------------

_Type = tuple[str, tuple[Any, ...]]  # (name, arguments); "|" is a union, "[]" an argument list


def _annotation(annotation: Any) -> str:
    """As written in the source: a string (postponed evaluation) or the type itself."""
    return annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)


def _parse(annotation: str) -> _Type:
    tokens = [t for t in _TOKEN.findall(annotation) if t]
    position = 0

    def union() -> _Type:
        nonlocal position
        members = [term()]
        while position < len(tokens) and tokens[position] == "|":
            position += 1
            members.append(term())
        return members[0] if len(members) == 1 else ("|", tuple(members))

    def term() -> _Type:
        nonlocal position
        token = tokens[position] if position < len(tokens) else ""
        position += 1
        if token == "[":  # Callable's argument list
            items = arguments("]")
            return ("[]", items)
        if position < len(tokens) and tokens[position] == "[":
            position += 1
            return (token, arguments("]"))
        return (token, ())

    def arguments(close: str) -> tuple[_Type, ...]:
        nonlocal position
        items: list[_Type] = []
        while position < len(tokens) and tokens[position] != close:
            items.append(union())
            if position < len(tokens) and tokens[position] == ",":
                position += 1
        position += 1
        return tuple(items)

    return union()


def _accepts(declared: _Type, value: Any) -> bool:
    name, arguments = declared
    if name == "|":
        return any(_accepts(member, value) for member in arguments)
    if name in _SCALARS:
        return _SCALARS[name](value)
    if name in _MAPPINGS:
        if not isinstance(value, dict):
            return False
        if len(arguments) == 2:
            return all(_accepts(arguments[0], k) for k in value) and all(
                _accepts(arguments[1], v) for v in value.values()
            )
        return True
    if name in _SEQUENCES:
        if not isinstance(value, list):
            return False
        if len(arguments) == 1:
            return all(_accepts(arguments[0], item) for item in value)
        return True
    return False  # a function or an object: JSON cannot carry one


def _describe(declared: _Type, annotation: str) -> str:
    members = declared[1] if declared[0] == "|" else (declared,)
    if all(m[0] == "None" or m[0] not in (*_SCALARS, *_MAPPINGS, *_SEQUENCES) for m in members):
        return f"left unset (it takes {annotation}, which JSON cannot carry)"
    return annotation


def _is_pruner_spec(declared: str, value: Any) -> bool:
    return "BasePruner" in declared and value is not None


def _check_nested_pruner(field: str, value: Any) -> None:
    if not isinstance(value, Mapping) or not isinstance(value.get("name"), str):
        raise InvalidArgumentError.for_field(
            field, 'a wrapped pruner is a spec object: {"name": "median", ...its options}'
        )
    inner = AlgorithmSpec(value["name"], {k: v for k, v in value.items() if k != "name"})
    if inner.name not in PRUNERS:
        raise InvalidArgumentError.for_field(
            field,
            f"wrapped_pruner: unknown pruner {inner.name!r}; choose one of {', '.join(sorted(PRUNERS))}",
        )
    check_options("pruner", inner)
