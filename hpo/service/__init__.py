"""The study service: the coordinator's rules, independent of transport.

The servicer in ``hpo.server`` decodes requests and calls :class:`StudyService`; tests call
it directly without a network.
"""

from __future__ import annotations

from hpo.service._algorithms import PRUNERS, SAMPLERS, AlgorithmSpec, build_pruner, build_sampler
from hpo.service._config import DEFAULT_LEASE_SECONDS, StudyConfig
from hpo.service._reaper import LeaseReaper
from hpo.service._registry import RegistryService, validate_model_name
from hpo.service._service import StudyService
from hpo.service._tracking import TrackingService
from hpo.service._views import AskOutcome, StudyView, TrialPage, TrialView

__all__ = [
    "DEFAULT_LEASE_SECONDS",
    "PRUNERS",
    "SAMPLERS",
    "AlgorithmSpec",
    "AskOutcome",
    "LeaseReaper",
    "RegistryService",
    "TrackingService",
    "StudyConfig",
    "StudyService",
    "StudyView",
    "TrialPage",
    "TrialView",
    "build_pruner",
    "build_sampler",
    "validate_model_name",
]
