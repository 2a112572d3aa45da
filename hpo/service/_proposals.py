"""Proposals: the values a define-by-run trial will most likely ask for, chosen at Ask.

A trial that suggests five parameters costs five Suggest round trips. Most objectives suggest
the same parameters every time, so at Ask the coordinator lets the sampler choose, for each
parameter that every finished trial suggested (in the order the latest one did), exactly the
value Suggest would have chosen then, and hands them out with the trial without recording
them. A client that suggests one of them with the same distribution uses the value at once
and sends it back ("used") with its next call on the trial, which records it. Parameters the
trial never suggests are never part of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import optuna
from optuna.distributions import BaseDistribution
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial

from hpo._optuna_adapter import suggestions_forgotten, trial_id
from hpo.errors import InvalidArgumentError, ResourceExhaustedError
from hpo.service import _limits as limits
from hpo.service._algorithms import check_sampler_param
from hpo.service._rules import suggest_param
from hpo.service._runtime import StudyRuntime
from hpo.storage._unit import Unit

#: The trial's system attribute holding what Ask proposed (name -> Optuna's internal value).
PROPOSALS_ATTR = "hpo:proposals"


class ParamChoice(NamedTuple):
    """A parameter's name, its distribution and the value (as a user sees it)."""

    name: str
    distribution: BaseDistribution
    value: Any


def propose(
    runtime: StudyRuntime, unit: Unit, study: optuna.Study, trial: optuna.Trial
) -> list[ParamChoice]:
    """Values for ``trial`` (just asked, in ``unit``) of the parameters every finished trial
    suggested, in the order the study first saw them; nothing of them stays in the trial or
    the unit."""
    unasked = [n for n in unit.draft.model.param_distributions if n not in trial.params]
    if not unasked:  # a declared space the trial has already, say
        return []
    space = runtime.recurring_space.calculate(study)
    known = unit.draft.model.param_distributions
    names = [name for name in unasked if space.get(name) == known[name]]
    proposals: list[ParamChoice] = []
    try:
        with suggestions_forgotten(trial):
            for name in names:
                try:
                    check_sampler_param(runtime.config.sampler, "name", name)
                    value = suggest_param(trial, name, space[name])
                except InvalidArgumentError:  # e.g. a grid without it: Suggest will say so
                    break
                proposals.append(ParamChoice(name, space[name], value))
    finally:
        # What the sampler wrote meanwhile (QMC's sample id, say) stays: it is part of
        # having sampled, as it would be after a Suggest.
        unit.draft.drop_params(trial.number, names)
    if proposals:  # what "used" may record: exactly these values
        offered = {p.name: p.distribution.to_internal_repr(p.value) for p in proposals}
        frozen = unit.draft.trial(trial.number)
        trial.storage.set_trial_system_attr(trial_id(frozen), PROPOSALS_ATTR, offered)
    return proposals


def record_used(
    unit: Unit,
    view: BaseStorage,
    frozen: FrozenTrial,
    used: Sequence[ParamChoice],
) -> FrozenTrial:
    """Record the proposals a running trial used (``frozen`` as the unit sees it): each must
    be what Ask proposed to it, with the study's distribution for the name; a name the trial
    has already must come with the same value. The trial as it is afterwards."""
    for name, distribution, value in used:
        if name in frozen.distributions:
            if frozen.distributions[name] != distribution or frozen.params[name] != value:
                raise InvalidArgumentError.for_field(
                    "used",
                    f"trial {frozen.number} has {name!r} = {frozen.params[name]!r} from "
                    f"{frozen.distributions[name]}, not {value!r} from {distribution}",
                )
            continue
        _require_proposed(unit, frozen, name, distribution, value)
        if len(frozen.distributions) >= limits.MAX_PARAMS_PER_TRIAL:
            raise ResourceExhaustedError(
                f"used: trial {frozen.number} has {limits.MAX_PARAMS_PER_TRIAL} parameters, "
                "the most allowed"
            )
        limits.check_trial_growth("used", frozen, limits.param_bytes(name, distribution))
        view.set_trial_param(
            trial_id(frozen), name, distribution.to_internal_repr(value), distribution
        )
        frozen = unit.draft.trial(frozen.number)
    return frozen


def _require_proposed(
    unit: Unit, frozen: FrozenTrial, name: str, distribution: BaseDistribution, value: Any
) -> None:
    """``used`` records only what Ask proposed to this trial: the same distribution and the
    same value, of the same type (a grid's point, a sampler's choice; never the caller's)."""
    offered = frozen.system_attrs.get(PROPOSALS_ATTR, {})
    if name not in offered:
        raise InvalidArgumentError.for_field(
            "used", f"{name!r} was not proposed to trial {frozen.number}: call Suggest for it"
        )
    known = unit.draft.model.param_distributions.get(name)
    if distribution != known:
        raise InvalidArgumentError.for_field(
            "used", f"{name!r} comes from {known} in this study, not {distribution}"
        )
    # Proposed with this very distribution (checked above), so its value converts back.
    proposed = distribution.to_external_repr(offered[name])
    if type(proposed) is not type(value) or proposed != value:
        raise InvalidArgumentError.for_field(
            "used",
            f"{name!r} = {value!r} from {distribution} is not what Ask proposed to trial "
            f"{frozen.number}",
        )

