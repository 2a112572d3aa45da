"""Pruners hpo adds to Optuna's; the coordinator builds them by name like Optuna's own.

``learning_curve`` (:class:`LearningCurvePruner`) extrapolates each trial's curve and stops
the trials that will surely end worse than the best. It is an ordinary Optuna pruner, so it
also works in a plain ``optuna.create_study(pruner=...)``.
"""

from __future__ import annotations

from hpo.pruners._curves import Forecast, forecast
from hpo.pruners._learning_curve import LearningCurvePruner

__all__ = ["Forecast", "LearningCurvePruner", "forecast"]
