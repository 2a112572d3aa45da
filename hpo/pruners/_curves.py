"""A small weighted family of parametric learning curves, fitted to one trial's values.

Each model is fitted by least squares (``scipy.optimize.curve_fit``) on steps and values
rescaled to about unit size; models are weighted by AICc (Akaike weights), and the forecast
at a later step is their weighted mean. Its spread combines, per model, the residual
variance and the parameters' covariance carried to the forecast (delta method), plus the
models' disagreement, so a noisy or short curve forecasts wide and is pruned late.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

CurveFunction = Callable[..., np.ndarray]


@dataclass(frozen=True)
class CurveModel:
    """A curve ``f(x, *theta)`` of the rescaled step ``x`` in (0, 1] (1 = the latest step).

    Every model is ``c - a * shape(x, b)`` or, without ``b``, linear in its parameters: for a
    fixed ``b`` the best ``c`` and ``a`` are a linear least-squares solution, so the fit
    starts from the best ``b`` on a grid and ``curve_fit`` only refines it (fast, and the
    same start every time).
    """

    name: str
    function: CurveFunction
    #: shape(x, b) for the nonlinear models; ``None`` for a model linear in its parameters.
    shape: Callable[[np.ndarray, float], np.ndarray] | None
    #: Grid of ``b`` for the starting point, and its bounds.
    b_grid: tuple[float, ...] = ()

    @property
    def n_params(self) -> int:
        return 3 if self.shape is not None else 2


def _pow3(x: np.ndarray, c: float, a: float, b: float) -> np.ndarray:
    return c - a * np.power(x, -b)


def _exp3(x: np.ndarray, c: float, a: float, b: float) -> np.ndarray:
    return c - a * np.exp(-b * x)


def _log_linear(x: np.ndarray, c: float, a: float) -> np.ndarray:
    return c - a * np.log(x)


#: The family: saturating power law, saturating exponential, and the (optimistic, never
#: saturating) log-linear trend. Steps are rescaled so that the latest one is 1, values so
#: that the latest is 0 and the curve's range is 1.
MODELS: tuple[CurveModel, ...] = (
    CurveModel(
        "pow3",
        _pow3,
        lambda x, b: np.power(x, -b),
        b_grid=tuple(float(b) for b in np.geomspace(0.01, 10.0, 25)),
    ),
    CurveModel(
        "exp3",
        _exp3,
        lambda x, b: np.exp(-b * x),
        b_grid=tuple(float(b) for b in np.geomspace(0.05, 100.0, 25)),
    ),
    CurveModel("log_linear", _log_linear, None),
)


@dataclass(frozen=True)
class Forecast:
    """The forecast value at a step, its standard deviation, and each model's weight."""

    mean: float
    std: float
    weights: dict[str, float]


@dataclass(frozen=True)
class _Fit:
    name: str
    aicc: float
    mean: float
    variance: float


def forecast(steps: Sequence[int], values: Sequence[float], target_step: int) -> Forecast | None:
    """Forecast the curve ``values`` (reported at ``steps``) at ``target_step``.

    Only finite values count. A model takes part once the curve has at least two more points
    than it has parameters; ``None`` when no model could be fitted.
    """
    points = sorted((s, v) for s, v in zip(steps, values, strict=True) if math.isfinite(v))
    if not points:
        return None
    x_raw = np.array([s for s, _ in points], dtype=float) + 1.0
    y_raw = np.array([v for _, v in points], dtype=float)
    x_scale = x_raw[-1]
    y_shift = y_raw[-1]
    y_scale = float(np.ptp(y_raw)) or max(1.0, abs(y_shift)) * 1e-6
    x = x_raw / x_scale
    y = (y_raw - y_shift) / y_scale
    x_target = (target_step + 1.0) / x_scale

    fits = [fit for model in MODELS if (fit := _fit(model, x, y, x_target)) is not None]
    if not fits:
        return None
    best_aicc = min(f.aicc for f in fits)
    raw = [math.exp(-(f.aicc - best_aicc) / 2) for f in fits]
    weights = [w / sum(raw) for w in raw]
    mean = sum(w * f.mean for w, f in zip(weights, fits, strict=True))
    variance = sum(
        w * (f.variance + (f.mean - mean) ** 2) for w, f in zip(weights, fits, strict=True)
    )
    return Forecast(
        mean=y_shift + y_scale * mean,
        std=y_scale * math.sqrt(variance),
        weights={f.name: w for f, w in zip(fits, weights, strict=True)},
    )


def _fit(model: CurveModel, x: np.ndarray, y: np.ndarray, x_target: float) -> _Fit | None:
    from scipy.optimize import OptimizeWarning, curve_fit

    n, k = len(x), model.n_params
    if n < k + 2:
        return None
    start = _start(model, x, y)
    bounds = ([-np.inf] * k, [np.inf] * k)
    if model.shape is not None:
        bounds[0][2], bounds[1][2] = model.b_grid[0] / 10, model.b_grid[-1] * 10
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            theta, covariance = curve_fit(
                model.function, x, y, p0=start, bounds=bounds, method="trf", max_nfev=30
            )
    except (RuntimeError, ValueError):
        return None
    rss = float(np.sum((model.function(x, *theta) - y) ** 2))
    if not (math.isfinite(rss) and np.all(np.isfinite(covariance))):
        return None  # parameters the curve cannot pin down: no stated confidence
    mean = float(model.function(np.array([x_target]), *theta)[0])
    gradient = _gradient(model.function, x_target, theta)
    variance = float(gradient @ covariance @ gradient) + rss / (n - k)
    if not (math.isfinite(mean) and math.isfinite(variance)):
        return None
    # AICc; a floor on the residual keeps a perfect fit from weighing infinitely.
    aicc = n * math.log(max(rss / n, 1e-12)) + 2 * k + 2 * k * (k + 1) / (n - k - 1)
    return _Fit(model.name, aicc, mean, max(variance, 0.0))


def _start(model: CurveModel, x: np.ndarray, y: np.ndarray) -> tuple[float, ...]:
    """(c, a[, b]): the linear least-squares solution at the best ``b`` of the grid."""
    if model.shape is None:
        return tuple(_linear(np.log(x), y)[1])
    best: tuple[float, tuple[float, ...]] | None = None
    for b in model.b_grid:
        rss, (c, a) = _linear(model.shape(x, b), y)
        if best is None or rss < best[0]:
            best = (rss, (c, a, b))
    assert best is not None
    return best[1]


def _linear(g: np.ndarray, y: np.ndarray) -> tuple[float, tuple[float, float]]:
    """Least squares of ``y = c - a * g``: the residual sum of squares and (c, a)."""
    design = np.column_stack([np.ones_like(g), -g])
    (c, a), *_ = np.linalg.lstsq(design, y, rcond=None)
    return float(np.sum((design @ (c, a) - y) ** 2)), (float(c), float(a))


def _gradient(function: CurveFunction, x: float, theta: np.ndarray) -> np.ndarray:
    """d f(x; theta) / d theta by central differences."""
    point = np.array([x])
    gradient = np.empty(len(theta))
    for i in range(len(theta)):
        h = 1e-6 * max(1.0, abs(theta[i]))
        up, down = theta.copy(), theta.copy()
        up[i] += h
        down[i] -= h
        gradient[i] = (function(point, *up)[0] - function(point, *down)[0]) / (2 * h)
    return gradient
