"""Cost-model forms: a trial's duration or energy, as a function of its design row.

Candidate forms (:data:`FORMS`), all fitted on a design matrix ``X`` of shape ``(n, p)`` built
from the hyperparameters (numeric ones standardised, wide positive ones in log, categorical
ones one-hot; :mod:`tunecost.calibrate.features`):

- ``loglinear``: ``log y = b0 + X b`` by least squares (the baseline).
- ``overhead_loglinear``: ``y = exp(c) + exp(b0 + X b)``, a fixed per-trial overhead (model
  build, first-step compilation, evaluation) plus work that scales with the hyperparameters.
- ``loglinear_interactions``: ``loglinear`` plus pairwise products of the features, ridge
  penalty chosen by exact leave-one-out error on the training fold.
- ``power_model`` (energy only): ``energy = duration × power`` with mean power bounded to
  ``[idle_w, tdp_w]`` through a sigmoid, so extrapolated power stays physical.

Each form meets :class:`CostForm`; :mod:`tunecost.calibrate.selection` chooses one per target.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations
from typing import Any, ClassVar, Protocol

import numpy as np
from scipy import optimize

from tunecost.exceptions import ConfigError

__all__ = [
    "DURATION_FORMS",
    "ENERGY_FORMS",
    "FORMS",
    "CostForm",
    "FitContext",
    "LogLinear",
    "LogLinearInteractions",
    "OverheadLogLinear",
    "PowerModel",
]

_RIDGE_GRID = tuple(10.0 ** k for k in range(-4, 3))


@dataclass(frozen=True)
class FitContext:
    """What a form may need besides ``X`` and ``y``.

    Attributes:
        duration_s: measured durations, s, shape (n,) (for ``power_model``).
        duration_form: name of the duration form ``power_model`` uses for time.
        power_low_w, power_high_w: bounds of mean power, W.
    """

    duration_s: np.ndarray | None = None
    duration_form: str = "loglinear"
    power_low_w: float = 0.0
    power_high_w: float = math.inf


class CostForm(Protocol):
    """A fitted, frozen cost model ``y = f(X)`` (the protocol every entry of FORMS meets)."""

    name: ClassVar[str]

    @classmethod
    def fit(cls, X: np.ndarray, y: np.ndarray, *, ctx: FitContext | None = None) -> CostForm:
        """Fit to features ``X`` (n, p) and positive targets ``y`` (n,)."""
        ...

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predict ``y`` for ``X`` of shape (..., p); returns shape (...)."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """Parameters as a JSON-able dict (``from_dict`` inverts it)."""
        ...


def _as_2d(X: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    X = np.asarray(X, dtype=float)
    return X.reshape(-1, X.shape[-1]), X.shape[:-1]


def _check_target(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=float)
    if y.ndim != 1 or not np.all(np.isfinite(y)) or np.any(y <= 0):
        raise ConfigError(f"cost targets must be finite and > 0, but got {y!r}")
    return y


@dataclass(frozen=True)
class LogLinear:
    """``log y = b0 + X b``, ordinary least squares on log targets.

    Example:
        >>> X = np.linspace(0, 1, 8)[:, None]
        >>> LogLinear.fit(X, np.exp(1.0 + 2.0 * X[:, 0])).coef.round(6).tolist()
        [1.0, 2.0]
    """

    name: ClassVar[str] = "loglinear"
    coef: np.ndarray  # (p + 1,): intercept first

    @classmethod
    def fit(cls, X: np.ndarray, y: np.ndarray, *, ctx: FitContext | None = None) -> LogLinear:
        X2, _ = _as_2d(X)
        A = np.column_stack([np.ones(len(X2)), X2])
        coef, *_ = np.linalg.lstsq(A, np.log(_check_target(y)), rcond=None)
        return cls(coef=coef)

    def log_predict(self, X: np.ndarray) -> np.ndarray:
        X2, shape = _as_2d(X)
        return (self.coef[0] + X2 @ self.coef[1:]).reshape(shape)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.exp(self.log_predict(X))

    def to_dict(self) -> dict[str, Any]:
        return {"coef": self.coef.tolist()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LogLinear:
        return cls(coef=np.asarray(d["coef"], dtype=float))


@dataclass(frozen=True)
class OverheadLogLinear:
    """``y = exp(c) + exp(b0 + X b)``: fixed per-trial overhead plus scaling work.

    Fitted with ``scipy.optimize.least_squares`` on log residuals (so every trial weighs by
    its relative error), started from a log-linear fit of ``y`` minus two trial overheads
    (half and a tenth of the smallest ``y``); the better start wins.

    Example:
        >>> X = np.linspace(0, 1, 12)[:, None]
        >>> m = OverheadLogLinear.fit(X, 2.0 + np.exp(0.5 + 1.5 * X[:, 0]))
        >>> round(m.overhead, 4), m.coef.round(4).tolist()
        (2.0, [0.5, 1.5])
    """

    name: ClassVar[str] = "overhead_loglinear"
    log_overhead: float
    coef: np.ndarray  # (p + 1,)

    @property
    def overhead(self) -> float:
        """The fixed per-trial part, in the target's unit."""
        return math.exp(self.log_overhead)

    @classmethod
    def fit(
        cls, X: np.ndarray, y: np.ndarray, *, ctx: FitContext | None = None
    ) -> OverheadLogLinear:
        X2, _ = _as_2d(X)
        y = _check_target(y)
        A = np.column_stack([np.ones(len(X2)), X2])
        log_y = np.log(y)

        def resid(theta: np.ndarray) -> np.ndarray:
            return np.logaddexp(theta[0], A @ theta[1:]) - log_y

        best = None
        for share in (0.5, 0.1):
            c0 = share * y.min()
            b0, *_ = np.linalg.lstsq(A, np.log(y - c0), rcond=None)
            theta0 = np.concatenate([[math.log(c0)], b0])
            sol = optimize.least_squares(resid, theta0, method=_lsq_method(len(y), theta0.size),
                                         xtol=1e-12, ftol=1e-12)
            if best is None or sol.cost < best.cost:
                best = sol
        assert best is not None
        return cls(log_overhead=float(best.x[0]), coef=best.x[1:])

    def predict(self, X: np.ndarray) -> np.ndarray:
        X2, shape = _as_2d(X)
        return np.exp(np.logaddexp(self.log_overhead, self.coef[0] + X2 @ self.coef[1:])).reshape(
            shape
        )

    def to_dict(self) -> dict[str, Any]:
        return {"log_overhead": self.log_overhead, "coef": self.coef.tolist()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> OverheadLogLinear:
        return cls(log_overhead=float(d["log_overhead"]), coef=np.asarray(d["coef"], float))


def _pairwise(X2: np.ndarray) -> np.ndarray:
    pairs = [X2[:, i] * X2[:, j] for i, j in combinations(range(X2.shape[1]), 2)]
    return np.column_stack([X2, *pairs]) if pairs else X2


@dataclass(frozen=True)
class LogLinearInteractions:
    """``log y = b0 + X b + Σ_{i<j} b_ij x_i x_j``, ridge-regularised.

    The intercept and main effects are not penalised; the interaction terms are, with
    ``alpha`` picked from 1e-4 … 1e2 by exact leave-one-out error of the ridge fit on the
    training data (closed form through the hat matrix), so no extra random split is needed.
    Features are expected standardised (the calibration's design is), so one penalty suits
    all of them.

    Example:
        >>> from tunecost._rng import as_generator
        >>> X = as_generator(0).normal(size=(40, 2))
        >>> y = np.exp(1 + X[:, 0] - X[:, 1] + 0.5 * X[:, 0] * X[:, 1])
        >>> LogLinearInteractions.fit(X, y).coef.round(2).tolist()
        [1.0, 1.0, -1.0, 0.5]
    """

    name: ClassVar[str] = "loglinear_interactions"
    coef: np.ndarray  # (1 + p + p(p-1)/2,)
    alpha: float

    @classmethod
    def fit(
        cls, X: np.ndarray, y: np.ndarray, *, ctx: FitContext | None = None
    ) -> LogLinearInteractions:
        Z = _pairwise(_as_2d(X)[0])
        t = np.log(_check_target(y))
        z_mean, t_mean = Z.mean(axis=0), t.mean()
        Zc, tc = Z - z_mean, t - t_mean
        n, k = Zc.shape
        p = X.shape[-1]
        # Only the interaction terms are shrunk: main effects are the log-linear baseline,
        # which the data determine well; the p(p-1)/2 products are what overfits.
        penalty = np.diag(np.r_[np.zeros(p), np.ones(k - p)])
        best: tuple[float, float, np.ndarray] | None = None
        for alpha in _RIDGE_GRID:
            inv = np.linalg.inv(Zc.T @ Zc + alpha * n * penalty + 1e-10 * np.eye(k))
            b = inv @ Zc.T @ tc
            # Leave-one-out residual of a linear smoother: r_i / (1 - H_ii); the +1/n is the
            # unpenalised intercept's share of the hat matrix.
            h = np.einsum("ij,jk,ik->i", Zc, inv, Zc) + 1.0 / n
            loo = np.mean(((tc - Zc @ b) / np.clip(1.0 - h, 1e-9, None)) ** 2)
            if best is None or loo < best[0] - 1e-15:
                best = (loo, alpha, b)
        assert best is not None
        _, alpha, b = best
        return cls(coef=np.concatenate([[t_mean - z_mean @ b], b]), alpha=alpha)

    def predict(self, X: np.ndarray) -> np.ndarray:
        X2, shape = _as_2d(X)
        return np.exp(self.coef[0] + _pairwise(X2) @ self.coef[1:]).reshape(shape)

    def to_dict(self) -> dict[str, Any]:
        return {"coef": self.coef.tolist(), "alpha": self.alpha}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LogLinearInteractions:
        return cls(coef=np.asarray(d["coef"], float), alpha=float(d["alpha"]))


def _lsq_method(n_residuals: int, n_params: int) -> str:
    """Levenberg–Marquardt where it applies; it needs at least as many residuals as unknowns
    (a small study's cross-validation fold may have fewer), where trust-region works."""
    return "lm" if n_residuals >= n_params else "trf"


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


@dataclass(frozen=True)
class PowerModel:
    """``energy = duration(X) × power(X)``, ``power = lo + (hi − lo)·sigmoid(b0 + X b)``.

    Mean power ``E/t`` of each trial is fitted on log residuals with the bounded form, so
    predicted power stays in ``[power_low_w, power_high_w]`` (a catalog accelerator's idle and
    TDP) however far the features extrapolate. Time comes from a duration form
    (``ctx.duration_form``) fitted on the same trials.

    Example:
        >>> X = np.linspace(-1, 1, 10)[:, None]
        >>> t = np.exp(1 + X[:, 0])
        >>> p = 100 + 600 * _sigmoid(0.3 + 2 * X[:, 0])
        >>> ctx = FitContext(duration_s=t, power_low_w=100, power_high_w=700)
        >>> m = PowerModel.fit(X, t * p, ctx=ctx)
        >>> m.power_coef.round(4).tolist()
        [0.3, 2.0]
    """

    name: ClassVar[str] = "power_model"
    duration: CostForm
    power_coef: np.ndarray  # (p + 1,)
    power_low_w: float
    power_high_w: float

    @classmethod
    def fit(cls, X: np.ndarray, y: np.ndarray, *, ctx: FitContext | None = None) -> PowerModel:
        if ctx is None or ctx.duration_s is None or not math.isfinite(ctx.power_high_w):
            raise ConfigError(
                "power_model needs measured durations and finite power bounds in its context, "
                f"but got {ctx!r}"
            )
        X2, _ = _as_2d(X)
        t = _check_target(ctx.duration_s)
        power_w = _check_target(y) / t
        lo, hi = ctx.power_low_w, ctx.power_high_w
        A = np.column_stack([np.ones(len(X2)), X2])
        frac = np.clip((power_w - lo) / (hi - lo), 1e-3, 1 - 1e-3)
        start, *_ = np.linalg.lstsq(A, np.log(frac / (1 - frac)), rcond=None)

        def resid(b: np.ndarray) -> np.ndarray:
            return np.log(lo + (hi - lo) * _sigmoid(A @ b)) - np.log(power_w)

        sol = optimize.least_squares(resid, start, method=_lsq_method(len(y), start.size),
                                     xtol=1e-12, ftol=1e-12)
        duration = FORMS[ctx.duration_form].fit(X2, t, ctx=ctx)
        return cls(duration=duration, power_coef=sol.x, power_low_w=lo, power_high_w=hi)

    def predict_power_w(self, X: np.ndarray) -> np.ndarray:
        X2, shape = _as_2d(X)
        frac = _sigmoid(self.power_coef[0] + X2 @ self.power_coef[1:])
        return (self.power_low_w + (self.power_high_w - self.power_low_w) * frac).reshape(shape)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.duration.predict(X) * self.predict_power_w(X)

    def to_dict(self) -> dict[str, Any]:
        return {
            "duration_form": self.duration.name,
            "duration": self.duration.to_dict(),
            "power_coef": self.power_coef.tolist(),
            "power_low_w": self.power_low_w,
            "power_high_w": self.power_high_w,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PowerModel:
        return cls(
            duration=_form_from_dict(d["duration_form"], d["duration"]),
            power_coef=np.asarray(d["power_coef"], float),
            power_low_w=float(d["power_low_w"]),
            power_high_w=float(d["power_high_w"]),
        )


FORMS: dict[str, Any] = {
    f.name: f for f in (LogLinear, OverheadLogLinear, LogLinearInteractions, PowerModel)
}
"""Registry of cost-model forms by name."""

DURATION_FORMS = ("loglinear", "overhead_loglinear", "loglinear_interactions")
ENERGY_FORMS = (*DURATION_FORMS, "power_model")


def _form_from_dict(name: str, d: Mapping[str, Any]) -> Any:
    if name not in FORMS:
        raise ConfigError(f"cost-model form must be one of {sorted(FORMS)}, but got {name!r}")
    return FORMS[name].from_dict(d)
