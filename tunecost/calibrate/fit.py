"""Fit per-trial cost models, a search space and learning curves to a small real study.

:func:`fit_calibration` turns measured :class:`~tunecost.calibrate.records.TrialRecord` s into
a frozen :class:`Calibration`: duration and energy of a trial as functions of its
hyperparameters (the cost model form chosen per target by k-fold cross-validated median
absolute percentage error), the residual spread for drawing realistic per-trial noise, the
search space the study sampled from, a learning-curve model for replaying pruning, and
seed-to-seed noise where configurations were repeated. The simulator then extrapolates from it.

Candidate forms (:data:`FORMS`), all fitted on a design matrix ``X`` of shape ``(n, p)`` built
from the hyperparameters (numeric ones standardised, wide positive ones in log, categorical
ones one-hot):

- ``loglinear``: ``log y = b0 + X b`` by least squares (the baseline).
- ``overhead_loglinear``: ``y = exp(c) + exp(b0 + X b)``, a fixed per-trial overhead (model
  build, first-step compilation, evaluation) plus work that scales with the hyperparameters.
- ``loglinear_interactions``: ``loglinear`` plus pairwise products of the features, ridge
  penalty chosen by exact leave-one-out error on the training fold.
- ``power_model`` (energy only): ``energy = duration × power`` with mean power bounded to
  ``[idle_w, tdp_w]`` through a sigmoid, so extrapolated power stays physical.

Real studies are fitted as they ran: a **conditional** space (Optuna's ``classifier`` with
branch-only ``svc_c`` / ``rf_max_depth``) gives each branch parameter columns that are 0
where it is inactive, plus a branch indicator where the parent's one-hot does not already
give one, and the space keeps each branch's :class:`ParamCondition`; **pruned** trials are
fitted at the resource they reached; records without usable energy give a duration-only
calibration that loads and simulates with an estimated power.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from scipy import optimize, stats

from tunecost._atomic import atomic_open
from tunecost._direction import normalize_direction
from tunecost._errors import one_line
from tunecost._rng import RngLike, as_generator
from tunecost._text import read_user_text
from tunecost.calibrate.curves import CurveModel
from tunecost.calibrate.records import TrialRecord
from tunecost.calibrate.timing import SetupTime, TrialOverhead
from tunecost.exceptions import ConfigError
from tunecost.report_schedule import ReportSchedule, infer_schedule

__all__ = [
    "FORMS",
    "Calibration",
    "CostForm",
    "FeatureSpec",
    "LearningCurve",
    "LogLinear",
    "LogLinearInteractions",
    "OverheadLogLinear",
    "ParamSpace",
    "ParamCondition",
    "PowerModel",
    "REACHED_PARAM",
    "SeedNoise",
    "TargetModel",
    "active_masks",
    "check_records",
    "evaluate_on",
    "fit_calibration",
    "infer_space",
    "sample_space",
    "seed_noise",
    "suggest_space",
]

_FIT_STATES = ("COMPLETE", "PRUNED")
# A positive numeric parameter whose observed range spans more than this factor enters the
# cost model in log: costs of neural-network training scale as powers of sizes and counts.
_LOG_FEATURE_RATIO = 3.0
_RIDGE_GRID = tuple(10.0 ** k for k in range(-4, 3))


# ---------------------------------------------------------------------------------------------
# Cost-model forms
# ---------------------------------------------------------------------------------------------


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
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(40, 2))
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


# ---------------------------------------------------------------------------------------------
# Search space and design matrix
# ---------------------------------------------------------------------------------------------


Category = str | bool | int | float
"""A categorical value as sampled (Optuna's choices may be any of these)."""

REACHED_PARAM = "tunecost:reached"
"""Design column of a trial's reached share of its budget, ``(last step + offset) / (budget
+ offset)`` (1 for a complete trial), for studies whose budget is not a hyperparameter: a
pruned trial is fitted as the part of a full run it did. Predictions without it are of full
runs."""


class ParamCondition(BaseModel):
    """When a dimension of a conditional search space is active.

    Attributes:
        parent: the categorical parameter it hangs under (``classifier``).
        values: the parent's values under which it is sampled (``["SVC"]``); the parent must
            itself be active.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    parent: str
    values: list[Category] = Field(min_length=1)


class ParamSpace(BaseModel):
    """One dimension of a search space.

    Attributes:
        type: ``int``, ``float`` or ``categorical``.
        low, high: bounds (numeric types), inclusive.
        log: sample log-uniformly (needs ``low > 0``).
        step: grid step of an ``int`` dimension from ``low`` (linear scale only).
        choices: the values of a ``categorical`` dimension.
        condition: where the dimension is sampled only under some values of a categorical
            parent (Optuna's define-by-run branches), that condition; ``None``: always.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["int", "float", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    # Integers sampled as int64 (and Optuna's suggest_int) need bounds well inside 2**63.
    step: int | None = Field(default=None, ge=1, le=2**53)
    choices: list[Category] | None = None
    condition: ParamCondition | None = None

    @model_validator(mode="after")
    def _check(self) -> ParamSpace:
        if self.type == "categorical":
            if not self.choices:
                raise ConfigError(f"a categorical dimension needs choices, but got {self.choices}")
            return self
        if self.low is None or self.high is None or not self.low <= self.high:
            raise ConfigError(f"low <= high must hold, but got (low={self.low}, high={self.high})")
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise ConfigError(
                f"low and high must be finite, but got (low={self.low}, high={self.high})")
        if self.log and self.low <= 0:
            raise ConfigError(f"a log dimension needs low > 0, but got low={self.low}")
        if self.type == "int" and max(abs(self.low), abs(self.high)) > 2**53:
            raise ConfigError(f"an int dimension needs |low|, |high| <= 2**53, but got "
                              f"(low={self.low:g}, high={self.high:g})")
        return self

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """Draw values of this dimension, shape ``shape`` (its condition is not applied:
        :func:`sample_space` does that)."""
        if self.type == "categorical":
            assert self.choices is not None
            return np.asarray(self.choices)[rng.integers(len(self.choices), size=shape)]
        assert self.low is not None and self.high is not None
        if self.type == "int" and not self.log:
            step = self.step or 1
            n_grid = int((self.high - self.low) // step) + 1
            return (self.low + step * rng.integers(n_grid, size=shape)).astype(np.int64)
        if self.log:
            x = np.exp(rng.uniform(math.log(self.low), math.log(self.high), size=shape))
        else:
            x = rng.uniform(self.low, self.high, size=shape)
        if self.type == "int":
            return np.clip(np.rint(x), self.low, self.high).astype(np.int64)
        return x


def _shape_of(params: Mapping[str, Any]) -> tuple[int, ...]:
    shapes = [np.shape(v) for v in params.values()]
    return np.broadcast_shapes(*shapes) if shapes else ()


def _present(x: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Where a parameter array holds a value: not NaN (numbers) and not ``None`` (objects)."""
    a = np.asarray(x)
    if a.dtype.kind == "f":
        out = ~np.isnan(a)
    elif a.dtype.kind == "O":
        # None marks an inactive category; a float NaN in an object array too (v != v).
        out = np.asarray(np.not_equal(a, None) & np.equal(a, a), dtype=bool)
    else:
        out = np.ones(a.shape, dtype=bool)
    return np.broadcast_to(out, shape)


def _equals(x: Any, value: Category, shape: tuple[int, ...]) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind in "biuf" and isinstance(value, str):
        return np.zeros(shape, dtype=bool)  # a number is never the string category
    if a.dtype.kind in "US" and not isinstance(value, str):
        return np.zeros(shape, dtype=bool)
    return np.broadcast_to(np.asarray(a == value, dtype=bool), shape)


def active_masks(space: Mapping[str, ParamSpace], params: Mapping[str, Any]
                 ) -> dict[str, np.ndarray]:
    """Where each parameter of ``params`` (and each conditional one of ``space``) is active.

    A value is active where it is present (not NaN/``None``) and, for a conditional
    dimension, its parent is active and takes one of the condition's values (nested branches
    follow their chain). A conditional parameter missing from ``params`` is inactive.

    Args:
        space: the search space with its conditions.
        params: ``{name: array of shape S}``.

    Returns:
        ``{name: bool array of shape S}``.

    Raises:
        ConfigError: conditions that form a cycle.

    Example:
        >>> space = {"clf": ParamSpace(type="categorical", choices=["RF", "SVC"]),
        ...          "c": ParamSpace(type="float", low=0.1, high=10,
        ...                          condition=ParamCondition(parent="clf", values=["SVC"]))}
        >>> active_masks(space, {"clf": np.array(["SVC", "RF"]),
        ...                      "c": np.array([1.0, 2.0])})["c"].tolist()
        [True, False]
    """
    shape = _shape_of(params)
    out: dict[str, np.ndarray] = {}

    def mask(name: str, chain: tuple[str, ...]) -> np.ndarray:
        if name in out:
            return out[name]
        if name in chain:
            raise ConfigError(
                f"search-space conditions must not form a cycle, but got {' -> '.join(chain)}"
                f" -> {name}")
        m = (_present(params[name], shape) if name in params
             else np.zeros(shape, dtype=bool))
        dim = space.get(name)
        if dim is not None and dim.condition is not None:
            cond = dim.condition
            if cond.parent not in params and cond.parent not in space:
                raise ConfigError(
                    f"{name!r} is conditional on {cond.parent!r}, which is not in the space")
            parent_m = mask(cond.parent, (*chain, name))
            hit = np.zeros(shape, dtype=bool)
            for value in cond.values if cond.parent in params else ():
                hit |= _equals(params[cond.parent], value, shape)
            m = m & parent_m & hit
        out[name] = m
        return m

    for name in [*params, *(k for k, d in space.items() if d.condition is not None)]:
        mask(name, ())
    return out


def sample_space(space: Mapping[str, ParamSpace], shape: tuple[int, ...],
                 rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Draw every dimension of ``space``, shape ``shape``, honouring its conditions.

    A conditional dimension is NaN (numbers, then float even for ``int``) or ``None``
    (categories, then an object array) where its condition does not hold: the trial never
    suggested it. Without conditions the draws are exactly :meth:`ParamSpace.sample`'s, in
    the space's order.
    """
    return mask_inactive(space, {name: dim.sample(shape, rng) for name, dim in space.items()})


def mask_inactive(space: Mapping[str, ParamSpace], params: Mapping[str, np.ndarray]
                  ) -> dict[str, np.ndarray]:
    """``params`` with each conditional dimension NaN/``None`` where its condition fails.

    Used by :func:`sample_space` and by whatever edits drawn configurations (PBT's explore
    step), so an inactive child never carries a value.
    """
    out = dict(params)
    if not any(d.condition is not None for d in space.values()):
        return out
    masks = active_masks(space, out)
    for name, dim in space.items():
        if dim.condition is None or name not in out:
            continue
        if dim.type == "categorical":
            x = np.asarray(out[name]).astype(object)
            x[~masks[name]] = None
        else:
            x = np.asarray(out[name]).astype(float)
            x[~masks[name]] = np.nan
        out[name] = x
    return out


def suggest_space(trial: Any, space: Mapping[str, ParamSpace]) -> dict[str, Any]:
    """Ask an Optuna trial (``study.ask()``) for the active dimensions of ``space`` only.

    Define-by-run, in the space's order (a parent before its children), with the same
    distributions as the space's: an Optuna sampler sees exactly the parameters the real
    objective suggested. Returns the suggested values (``trial.params``).
    """
    values: dict[str, Any] = {}
    for name, dim in space.items():
        cond = dim.condition
        if cond is not None and not (cond.parent in values and any(
                values[cond.parent] == v and type(values[cond.parent]) is type(v)
                for v in cond.values)):
            continue
        if dim.type == "categorical":
            values[name] = trial.suggest_categorical(name, list(dim.choices or []))
        elif dim.type == "int":
            values[name] = trial.suggest_int(name, int(dim.low or 0), int(dim.high or 0),
                                             step=1 if dim.log else (dim.step or 1),
                                             log=dim.log)
        else:
            values[name] = trial.suggest_float(name, float(dim.low or 0.0),
                                               float(dim.high or 0.0), log=dim.log)
    return values


def _ks_uniform(x: np.ndarray) -> float:
    lo, hi = x.min(), x.max()
    return float(stats.kstest((x - lo) / (hi - lo), "uniform").statistic)


def _union_names(records: Sequence[Any]) -> list[str]:
    """Parameter names of ``records`` (TrialRecords or param dicts), in first-seen order."""
    names: dict[str, None] = {}
    for r in records:
        names.update(dict.fromkeys(r.params if isinstance(r, TrialRecord) else r))
    return list(names)


def _is_category(v: Any) -> bool:
    return isinstance(v, str | bool)


def check_records(records: Sequence[TrialRecord]) -> None:
    """Refuse records no calibration can be fitted on, with one line naming what is wrong.

    Raises:
        ConfigError: no records; a parameter that is a category (string, bool) in one trial
            and a number in another.
    """
    if not records:
        raise ConfigError("records must hold at least one trial, but got none")
    first: dict[str, tuple[int, Any]] = {}
    for r in records:
        for name, v in r.params.items():
            if name not in first:
                first[name] = (r.number, v)
                continue
            number, v0 = first[name]
            if _is_category(v) != _is_category(v0) or (
                    isinstance(v, bool) != isinstance(v0, bool)):
                raise ConfigError(
                    f"params[{name!r}] must have one type in every trial (a number, a string "
                    f"or a bool), but trial {number} has {v0!r} and trial {r.number} has {v!r}")


def _infer_conditions(records: Sequence[TrialRecord], names: Sequence[str],
                      space: dict[str, ParamSpace]) -> dict[str, ParamSpace]:
    """Add the condition of each parameter absent from some records: the first categorical
    parameter (in order) whose values tell exactly where it is present."""
    out = dict(space)
    for name in names:
        has = [name in r.params for r in records]
        if all(has):
            continue
        for parent in names:
            dim = out[parent]
            if parent == name or dim.type != "categorical":
                continue
            on = {json.dumps(r.params[parent]) for r, h in zip(records, has, strict=True)
                  if h and parent in r.params}
            if not on or not all(parent in r.params for r, h in zip(records, has, strict=True)
                                 if h):
                continue
            values = [c for c in dim.choices or [] if json.dumps(c) in on]
            trial = {**out, name: out[name].model_copy(
                update={"condition": ParamCondition(parent=parent, values=values)})}
            cols = _param_columns(records, names)
            cols[name] = np.ones(len(records))  # present everywhere: the mask is the condition
            try:
                masks = active_masks(trial, cols)
            except ConfigError:
                continue  # a cycle through this parent
            if masks[name].tolist() == has:
                out = trial
                break
    return out


def infer_space(records: Sequence[TrialRecord]) -> dict[str, ParamSpace]:
    """The search space the records' parameters look sampled from.

    Strings and booleans become categorical. Numbers span their observed ``[min, max]``; a
    positive one spanning at least 4× is ``log`` when its values are closer (Kolmogorov–Smirnov
    distance) to uniform in log than in linear space: ``lr`` drawn log-uniformly, batch sizes
    16…128 in powers of two are log, ``dropout`` 0.004…0.19 drawn uniformly is not (a bare
    max/min rule would call it log). Integers on a linear scale keep their greatest common
    step (``d_model`` 128, 256, 384, 512 → step 128).

    A parameter absent from some records is conditional: its range is the one seen where it
    is present, and its :class:`ParamCondition` names the first categorical parameter whose
    values tell exactly where it is present (Optuna's ``classifier`` → ``svc_c``); where no
    parameter does, it has no condition (sampled always).

    Args:
        records: trials of one study.

    Returns:
        ``{name: ParamSpace}``, in the records' parameter order (first seen).
    """
    check_records(records)
    names = _union_names(records)
    space: dict[str, ParamSpace] = {}
    for name in names:
        vals = [r.params[name] for r in records if name in r.params]
        if any(isinstance(v, str | bool) for v in vals):
            space[name] = ParamSpace(type="categorical", choices=sorted(set(vals), key=str))
            continue
        x = np.asarray(vals, dtype=float)
        is_int = all(isinstance(v, int) for v in vals)
        lo, hi = float(x.min()), float(x.max())
        log = bool(lo > 0 and hi / lo >= 4 and _ks_uniform(np.log(x)) < _ks_uniform(x))
        step = None
        if is_int and not log and hi > lo:
            step = int(np.gcd.reduce((x - lo).astype(np.int64))) or None
            step = step if step and step > 1 else None
        space[name] = ParamSpace(
            type="int" if is_int else "float", low=lo, high=hi, log=log, step=step
        )
    return _infer_conditions(records, names, space)


class FeatureSpec(BaseModel):
    """How one hyperparameter enters the design matrix.

    Attributes:
        param: parameter name.
        kind: ``linear``, ``log`` (``log x``), ``onehot`` (``x == category``) or ``active``
            (1 where the parameter is active, for one absent from some trials whose presence
            the other columns do not already tell).
        category: the category of a one-hot column.
        center, scale: standardisation of the transformed value (over the trials where the
            parameter is active).
        optional: the parameter is absent from some trials (a conditional branch): where it
            is inactive its value columns are 0 (the standardised mean), so only its
            active trials inform their coefficients.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    param: str
    kind: Literal["linear", "log", "onehot", "active"]
    category: Category | None = None
    center: float = 0.0
    scale: float = 1.0
    optional: bool = False


def _param_columns(records: Sequence[Any], names: Sequence[str]) -> dict[str, np.ndarray]:
    """``{name: array (n,)}`` of records' (or param dicts') parameters; an absent one is NaN
    (numbers) or ``None`` (categories, object array)."""
    rows = [r.params if isinstance(r, TrialRecord) else r for r in records]
    out: dict[str, np.ndarray] = {}
    for name in names:
        vals = [row.get(name) for row in rows]
        if all(v is not None for v in vals):
            out[name] = np.asarray(vals)
        elif any(_is_category(v) for v in vals):
            out[name] = np.asarray(vals, dtype=object)
        else:
            out[name] = np.asarray([np.nan if v is None else v for v in vals], dtype=float)
    return out


def _raw_columns(spec: FeatureSpec, params: Mapping[str, Any],
                 active: Mapping[str, np.ndarray]) -> np.ndarray:
    """The transformed (not yet standardised) column; NaN where the parameter is inactive."""
    if spec.param == REACHED_PARAM and spec.param not in params:
        return np.zeros(()) if spec.kind == "log" else np.ones(())  # a full run
    if spec.param not in params and not spec.optional:
        raise ConfigError(f"params must include {spec.param!r}, but got {sorted(params)}")
    shape = _shape_of(params)
    on = active.get(spec.param, np.zeros(shape, dtype=bool))
    if spec.kind == "active":
        return on.astype(float)
    if not on.any():
        return np.full(shape, np.nan)
    x = np.broadcast_to(np.asarray(params[spec.param]), shape)
    if spec.kind == "onehot":
        return np.where(on, _equals(x, spec.category, shape), np.nan)  # type: ignore[arg-type]
    if x.dtype.kind in "OUS":
        bad = [v for v in x[on].ravel().tolist() if not isinstance(v, int | float)
               or isinstance(v, bool)]
        if bad:
            raise ConfigError(
                f"{spec.param!r} is a number in the cost model, but got {bad[0]!r}")
        x = np.where(on, x, np.nan)
    x = np.where(on, x.astype(float), np.nan)
    if spec.kind == "log":
        if np.any(x[on] <= 0):
            raise ConfigError(
                f"{spec.param!r} enters the cost model in log, so it must be > 0, "
                f"but got min {x[on].min()}"
            )
        return np.log(x, where=on, out=np.full(shape, np.nan))
    return x


def _build_features(params: Mapping[str, np.ndarray], active: Mapping[str, np.ndarray]
                    ) -> list[FeatureSpec]:
    """Feature specs of the design, from the fitted trials' parameter columns (n,)."""
    specs: list[FeatureSpec] = []
    for name, col in params.items():
        on = active[name]
        optional = not bool(on.all())
        vals = col[on]
        raw: list[FeatureSpec] = []
        if len(vals) and any(_is_category(v) for v in vals.tolist()):
            cats = sorted(set(vals.tolist()), key=str)
            # Drop the first category: the intercept (or the branch's indicator) absorbs it.
            raw = [FeatureSpec(param=name, kind="onehot", category=c, optional=optional)
                   for c in cats[1:]]
        elif len(vals):
            x = np.asarray(vals, dtype=float)
            if np.ptp(x) > 0:
                wide = x.min() > 0 and x.max() / x.min() > _LOG_FEATURE_RATIO
                raw = [FeatureSpec(param=name, kind="log" if wide else "linear",
                                   optional=optional)]
        if optional:
            raw.append(FeatureSpec(param=name, kind="active", optional=True))
        for spec in raw:
            c = _raw_columns(spec, params, active)
            c = c[on] if spec.kind != "active" else c
            sd = float(c.std())
            # The reached share is centred on a full run, so every full run's column is 0
            # (the learning-curve model, fitted on configured budgets, sees no constant).
            center = (float(_raw_columns(spec, {}, {})) if name == REACHED_PARAM
                      else float(c.mean()))
            if sd > 0:
                specs.append(spec.model_copy(update={"center": center, "scale": sd}))
    return _drop_redundant_indicators(specs, params, active)


def _drop_redundant_indicators(specs: list[FeatureSpec], params: Mapping[str, np.ndarray],
                               active: Mapping[str, np.ndarray]) -> list[FeatureSpec]:
    """Leave out each ``active`` column the intercept and the other columns already span
    (a branch parameter's indicator is its parent's one-hot): a collinear design would make
    the least-squares coefficients arbitrary."""
    if not any(s.kind == "active" for s in specs):
        return specs
    base = [s for s in specs if s.kind != "active"]
    n = len(next(iter(params.values())))
    A = np.column_stack([np.ones(n), *(_standard(s, params, active) for s in base)])
    kept = list(base)
    for s in (s for s in specs if s.kind == "active"):
        trial = np.column_stack([A, _standard(s, params, active)])
        if np.linalg.matrix_rank(trial, tol=1e-8 * max(1.0, n)) > np.linalg.matrix_rank(
                A, tol=1e-8 * max(1.0, n)):
            A = trial
            kept.append(s)
    return [s for s in specs if s in kept]


def _standard(spec: FeatureSpec, params: Mapping[str, Any],
              active: Mapping[str, np.ndarray]) -> np.ndarray:
    """The standardised column; 0 (the active trials' mean) where the parameter is
    inactive."""
    col = (_raw_columns(spec, params, active) - spec.center) / spec.scale
    return np.nan_to_num(col, nan=0.0)


def _design(specs: Sequence[FeatureSpec], params: Mapping[str, Any],
            space: Mapping[str, ParamSpace] | None = None) -> np.ndarray:
    """Design matrix ``S + (p,)`` of parameter arrays of shape ``S``; ``space`` gives the
    conditions under which each parameter is active."""
    if not specs:
        raise ConfigError("no hyperparameter varies in the records, so there is nothing to fit")
    active = active_masks(space or {}, params)
    shape = _shape_of(params)
    cols = [np.broadcast_to(_standard(s, params, active), shape) for s in specs]
    return np.stack(cols, axis=-1)


# ---------------------------------------------------------------------------------------------
# Learning curves and seed noise
# ---------------------------------------------------------------------------------------------


class LearningCurve(BaseModel):
    """Objective at fidelity ``f`` relative to the final objective, across trials: a summary
    of how informative early reports are (the replay draws curves from :class:`CurveModel`).

    With ``g(v) = log((v − v_ref) / (v_final − v_ref))`` for a minimised objective
    (``v_ref − v`` for a maximised one), ``g`` is 0 at ``f = 1`` and positive earlier (the
    trial still had to improve). ``v_ref`` sits just beyond the best value ever seen, so the
    ratio stays positive. Per grid point ``f`` we store the mean and std of ``g`` across trials
    and the Spearman rank correlation between ``v(f)`` and ``v_final`` across trials (how well
    an early evaluation predicts the final ranking, which is what pruning relies on).

    Attributes:
        direction: ``minimize`` or ``maximize``.
        v_ref: reference value of the ratio, objective units.
        f_grid: fidelities ``step / final step``, shape (k,), ascending, last one 1.
        mean_log_ratio, std_log_ratio: of ``g`` per grid point, shape (k,).
        spearman: rank correlation of ``v(f)`` with ``v_final`` per grid point, shape (k,).
        n_trials: trials with a point at each grid point, shape (k,).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    direction: Literal["minimize", "maximize"]
    v_ref: float
    f_grid: list[float]
    mean_log_ratio: list[float]
    std_log_ratio: list[float]
    spearman: list[float | None]
    n_trials: list[int]


def _fit_learning_curve(
    records: Sequence[TrialRecord], direction: Literal["minimize", "maximize"]
) -> LearningCurve | None:
    curves = [r.curve for r in records if r.state == "COMPLETE" and len(r.curve) >= 2]
    if len(curves) < 3:
        return None
    sign = 1.0 if direction == "minimize" else -1.0
    all_v = sign * np.concatenate([[p.value for p in c] for c in curves])
    finals = sign * np.array([c[-1].value for c in curves])
    best = all_v.min()
    # 5 % of the typical gap beyond the best value: keeps every ratio finite
    # without letting the best trial's ratio explode.
    v_ref_s = best - 0.05 * max(float(np.median(finals) - best), 1e-12)
    fracs = [np.array([p.step for p in c]) / c[-1].step for c in curves]
    # A common grid k/K (K the median number of evaluations) rather than the union of every
    # trial's fractions: integer eval steps (12, 24, ... of 100) would otherwise split one
    # evaluation into two sparsely populated grid points.
    n_eval = min(int(np.median([len(c) for c in curves])), 20)
    grid = np.arange(1, n_eval + 1) / n_eval
    G = np.full((len(curves), len(grid)), np.nan)
    V = np.full_like(G, np.nan)
    for i, (c, fr) in enumerate(zip(curves, fracs, strict=True)):
        v = sign * np.array([p.value for p in c])
        g = np.log((v - v_ref_s) / (v[-1] - v_ref_s))
        # Half a grid spacing of slack: a first evaluation at step 6 of 50 (f = 0.12) stands
        # for the grid point 1/9.
        inside = (grid >= fr.min() - 0.5 / n_eval) & (grid <= fr.max() + 1e-9)
        G[i, inside] = np.interp(grid[inside], fr, g)
        V[i, inside] = np.interp(grid[inside], fr, v)
    keep = (~np.isnan(G)).sum(axis=0) >= 3
    grid, G, V = grid[keep], G[:, keep], V[:, keep]
    rho: list[float | None] = []
    for j in range(len(grid)):
        ok = ~np.isnan(V[:, j])
        r = stats.spearmanr(V[ok, j], finals[ok]).statistic if ok.sum() >= 3 else np.nan
        rho.append(float(r) if np.isfinite(r) else None)
    n = (~np.isnan(G)).sum(axis=0)
    return LearningCurve(
        direction=direction,
        v_ref=float(sign * v_ref_s),
        f_grid=grid.tolist(),
        mean_log_ratio=np.nanmean(G, axis=0).tolist(),
        std_log_ratio=np.nanstd(G, axis=0).tolist(),
        spearman=rho,
        n_trials=n.astype(int).tolist(),
    )


class ConfigNoise(BaseModel):
    """Run-to-run spread of one repeated configuration.

    Attributes:
        params: the configuration.
        n: number of runs.
        duration_cv, energy_cv: std / mean (ddof 1) of duration and of energy.
        value_std, value_cv: std (objective units) and std / |mean| of the final value.
        duration_mean_s, energy_mean_j: means, s and J.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    params: dict[str, str | bool | int | float]
    n: int
    duration_mean_s: float
    duration_cv: float
    energy_mean_j: float | None
    energy_cv: float | None
    value_std: float | None
    value_cv: float | None


class SeedNoise(BaseModel):
    """Run-to-run noise from records that share identical parameters.

    Attributes:
        configs: one entry per repeated configuration.
        duration_cv, energy_cv, value_std: medians over configurations.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    configs: list[ConfigNoise]
    duration_cv: float
    energy_cv: float | None
    value_std: float | None


def _cv(x: list[float]) -> float:
    a = np.asarray(x, dtype=float)
    return float(a.std(ddof=1) / abs(a.mean()))


def seed_noise(records: Sequence[TrialRecord]) -> SeedNoise | None:
    """Run-to-run spread of duration, energy and value over repeated configurations.

    Args:
        records: trials; those with identical ``params`` (at least two, COMPLETE) form a
            configuration.

    Returns:
        The spread, or ``None`` when no configuration is repeated.
    """
    groups: dict[str, list[TrialRecord]] = {}
    for r in records:
        if r.state == "COMPLETE":
            groups.setdefault(json.dumps(r.params, sort_keys=True), []).append(r)
    configs = []
    for rs in groups.values():
        if len(rs) < 2:
            continue
        e = [r.energy_j for r in rs]
        v = [r.value for r in rs]
        has_e, has_v = all(x is not None for x in e), all(x is not None for x in v)
        configs.append(ConfigNoise(
            params=rs[0].params,
            n=len(rs),
            duration_mean_s=float(np.mean([r.duration_s for r in rs])),
            duration_cv=_cv([r.duration_s for r in rs]),
            energy_mean_j=float(np.mean(e)) if has_e else None,  # type: ignore[arg-type]
            energy_cv=_cv(e) if has_e else None,  # type: ignore[arg-type]
            value_std=float(np.std(v, ddof=1)) if has_v else None,  # type: ignore[arg-type]
            value_cv=_cv(v) if has_v else None,  # type: ignore[arg-type]
        ))
    if not configs:
        return None

    def med(key: str) -> float | None:
        xs = [getattr(c, key) for c in configs if getattr(c, key) is not None]
        return float(np.median(xs)) if xs else None

    duration_cv = float(np.median([c.duration_cv for c in configs]))
    return SeedNoise(configs=configs, duration_cv=duration_cv,
                     energy_cv=med("energy_cv"), value_std=med("value_std"))


# ---------------------------------------------------------------------------------------------
# The calibration
# ---------------------------------------------------------------------------------------------


class TargetModel(BaseModel):
    """The chosen cost model of one target (duration or energy) and how it was chosen.

    Attributes:
        form: name of the chosen form (a key of :data:`FORMS`).
        params: its fitted parameters (``form.to_dict()``), refitted on all trials.
        cv_mdape_pct: cross-validated median absolute % error of every candidate form.
        cv_mape_pct: cross-validated mean absolute % error of every candidate form.
        sigma_log: std of the chosen form's out-of-fold log residuals.
        residuals_log: those residuals, ``log(measured / predicted)``, one per fitted trial:
            sampled costs draw them (a residual bootstrap), so a few slow outliers raise the
            mean by what they measured, not by a lognormal's ``exp(sigma^2 / 2)``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    form: str
    params: dict[str, Any]
    cv_mdape_pct: dict[str, float]
    cv_mape_pct: dict[str, float]
    # A log-residual spread above 10 (x22,000 at one sigma) is no model; a file that says so
    # was edited, and would give inf totals.
    sigma_log: float = Field(ge=0, le=10, allow_inf_nan=False)
    residuals_log: list[Annotated[float, Field(allow_inf_nan=False)]] = Field(
        default_factory=list)

    def log_noise(self, index: np.ndarray | None, z: np.ndarray) -> np.ndarray:
        """Per-trial log noise: the measured out-of-fold residual ``index`` picks (scaled to
        :attr:`sigma_log`, which a sensitivity sweep may change), or ``sigma_log * z``
        without stored residuals (files written before they were stored)."""
        if index is None or not self.residuals_log:
            return self.sigma_log * z
        r = np.asarray(self.residuals_log, dtype=float)
        sd = float(r.std(ddof=1)) if r.size > 1 else 0.0
        return r[index] * (self.sigma_log / sd if sd > 0 else 0.0)

    @model_validator(mode="after")
    def _usable(self) -> TargetModel:
        if self.form not in self.cv_mdape_pct or self.form not in self.cv_mape_pct:
            raise ValueError(f"cv_mdape_pct and cv_mape_pct must include the chosen form "
                             f"{self.form!r}, but got {sorted(self.cv_mdape_pct)}")
        try:
            self.model()
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"params do not fit form {self.form!r} (missing or malformed "
                             f"{exc})") from None
        return self

    def model(self) -> Any:
        """The fitted form object."""
        return _form_from_dict(self.form, self.params)


class Calibration(BaseModel):
    """Per-trial cost models, search space and learning curves fitted on a real study.

    Build one with :func:`fit_calibration`. Parameter arrays passed to the methods may have
    any common shape ``S`` (``(n,)``, ``(n_reps, n_trials)``); outputs have shape ``S``.
    Predictions are medians: sampled costs multiply them by a measured trial's out-of-fold
    residual factor (``exp(N(0, sigma_log))`` in files without residuals).

    Attributes:
        schema_version: version of this file's layout (files without it are version 1).
        study: study name of the records.
        accelerator: catalog accelerator whose idle/TDP bound the power model, if given.
        power_low_w, power_high_w: those bounds, W (observed-range fallback without one;
            ``power_high_w`` is ``None`` in a duration-only calibration).
        n_records: trials fitted.
        n_pruned: of which pruned (fitted at the resource they reached).
        resource_param: parameter equal to the trial's fidelity (e.g. ``steps``), if any.
        direction: the objective's direction the curves were fitted with (``None`` in files
            written before it was stored).
        features: how parameters enter the design matrix.
        space: the search space (inferred, then overridden by the user's), with the
            conditions of a conditional space.
        duration, energy: the chosen models; ``energy`` is ``None`` in a duration-only
            calibration (no usable energy readings): a simulation then takes power from the
            study's power model or the catalog, and says it is estimated.
        energy_scope: what ``energy`` models: ``accelerator`` energy where every trial has
            it, else ``host`` (CPU + DRAM) energy, e.g. for a CPU-only study.
        energy_estimated: whether any fitted energy figure was an estimate, not a reading.
        energy_sources: where the fitted energy readings came from (``nvml``, ``rapl``,
            ``codecarbon``, ``estimated``), sorted; empty without an energy model.
        log_residual_corr: correlation of duration and energy out-of-fold log residuals.
        learning_curve: how early values rank trials against final ones (a summary), if the
            records have curves.
        curve_model: the objective as a function of the configuration and the step (what a
            replay's pruners and samplers see), if >= 4 trials have curves.
        report_schedule: the step numbers the objective reports at, inferred from the curves.
        setup: time (and energy) a trial spends before its first step.
        trial_overhead: the framework's per-trial overhead between trials, from the records'
            timestamps.
        seed_noise: run-to-run noise, if configurations were repeated.
        notes: what the fit left out or estimated (trials, readings), one line each.

    Example:
        >>> recs = [TrialRecord(number=i, state="COMPLETE", params={"steps": s},
        ...                     duration_s=1 + 0.01 * s, energy_j=150 * (1 + 0.01 * s))
        ...         for i, s in enumerate([50, 100, 200, 400, 800, 1600])]
        >>> cal = fit_calibration(recs, n_folds=3)
        >>> round(float(cal.predict_duration_s({"steps": np.array([300])})[0]), 2)
        4.0
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = 1
    study: str
    accelerator: str | None
    power_low_w: float
    power_high_w: float | None
    n_records: int
    n_pruned: int = 0
    resource_param: str | None
    direction: Literal["minimize", "maximize"] | None = None
    features: list[FeatureSpec]
    space: dict[str, ParamSpace]
    duration: TargetModel
    energy: TargetModel | None
    energy_scope: Literal["accelerator", "host"] = "accelerator"
    energy_estimated: bool = False
    energy_sources: list[str] = Field(default_factory=list)
    log_residual_corr: float | None
    learning_curve: LearningCurve | None = None
    curve_model: CurveModel | None = None
    report_schedule: ReportSchedule | None = None
    setup: SetupTime | None = None
    trial_overhead: TrialOverhead | None = None
    seed_noise: SeedNoise | None = None
    notes: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _predicts_finitely(self) -> Calibration:
        # A file is loaded only if its models give finite positive costs over its own space
        # (a hand-edited coefficient would otherwise turn into an inf or NaN total later).
        try:
            probe = self.sample_params(64, rng=0)
            with np.errstate(over="ignore", invalid="ignore"):
                checks = [("duration", self.predict_duration_s(probe))]
                if self.energy is not None:
                    checks.append(("energy", self.predict_energy_j(probe)))
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ValueError(f"the cost models do not fit the features and space: "
                             f"{str(exc).splitlines()[0]}") from None
        for name, pred in checks:
            pred = np.asarray(pred, dtype=float)
            if not np.all(np.isfinite(pred) & (pred > 0)):
                bad = pred[~(np.isfinite(pred) & (pred > 0))][0]
                raise ValueError(f"{name} predictions over the search space must be finite "
                                 f"and > 0, but the model gives {bad}")
        return self

    def design(self, params: Mapping[str, Any]) -> np.ndarray:
        """Design matrix, shape ``S + (n_features,)``, for parameter arrays of shape ``S``.

        A conditional parameter is inactive where its condition does not hold, whatever its
        value (a sampler that draws every dimension gets the branch's cost), and where it is
        NaN / ``None`` or missing from ``params``.
        """
        return _design(self.features, params, self.space)

    def predict_duration_s(self, params: Mapping[str, Any]) -> np.ndarray:
        """Median trial wall time, s, shape ``S``."""
        return self.duration.model().predict(self.design(params))

    def predict_energy_j(self, params: Mapping[str, Any]) -> np.ndarray:
        """Median trial accelerator energy, J, shape ``S``."""
        return self._energy_model().predict(self.design(params))

    def predict_power_w(self, params: Mapping[str, Any]) -> np.ndarray:
        """Mean accelerator power of a trial, W, shape ``S``.

        The bounded power of ``power_model`` when that is the energy form, else predicted
        energy over predicted duration.
        """
        model = self._energy_model()
        X = self.design(params)
        if isinstance(model, PowerModel):
            return model.predict_power_w(X)
        return model.predict(X) / self.duration.model().predict(X)

    def sample_costs(
        self, params: Mapping[str, Any], *, rng: RngLike = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Duration, s, and energy, J, with correlated per-trial noise, each shape ``S``.

        Log noise is bivariate normal with the cross-validated spreads and correlation, so a
        trial that runs long also uses more energy (``None`` energy without an energy model).
        """
        gen = as_generator(rng)
        X = self.design(params)
        shape = X.shape[:-1]
        idx = (gen.integers(len(self.duration.residuals_log), size=shape)
               if self.duration.residuals_log else None)
        z = gen.standard_normal((2, *shape))
        duration_s = (self.duration.model().predict(X)
                      * np.exp(self.duration.log_noise(idx, z[0])))
        if self.energy is None:
            return duration_s, None
        if idx is not None and len(self.energy.residuals_log) == len(self.duration.residuals_log):
            # The same measured trial's pair of residuals: their correlation is kept as is.
            ze = self.energy.log_noise(idx, z[1])
        else:
            rho = self.log_residual_corr or 0.0
            ze = self.energy.log_noise(
                None, rho * z[0] + math.sqrt(max(1.0 - rho * rho, 0.0)) * z[1])
        return duration_s, self._energy_model().predict(X) * np.exp(ze)

    def sample_duration_s(self, params: Mapping[str, Any], *, rng: RngLike = None) -> np.ndarray:
        """Trial wall times with per-trial noise, s, shape ``S``."""
        return self._sample(self.duration, self.predict_duration_s(params), as_generator(rng))

    def sample_energy_j(self, params: Mapping[str, Any], *, rng: RngLike = None) -> np.ndarray:
        """Trial energies with per-trial noise, J, shape ``S`` (independent of durations;
        use :meth:`sample_costs` for both, correlated)."""
        assert self.energy is not None
        return self._sample(self.energy, self.predict_energy_j(params), as_generator(rng))

    @staticmethod
    def _sample(target: TargetModel, mu: np.ndarray, gen: np.random.Generator) -> np.ndarray:
        idx = (gen.integers(len(target.residuals_log), size=mu.shape)
               if target.residuals_log else None)
        return mu * np.exp(target.log_noise(idx, gen.standard_normal(mu.shape)))

    def sample_params(self, n_shape: int | tuple[int, ...], *, rng: RngLike = None
                      ) -> dict[str, np.ndarray]:
        """Draw hyperparameters uniformly (log-uniformly where ``log``) from :attr:`space`,
        each conditional one only where its condition holds (:func:`sample_space`).

        Args:
            n_shape: output shape ``S``, e.g. ``(n_reps, n_trials)``.
            rng: seed or generator.

        Returns:
            ``{name: array of shape S}``; ints as int64 (a conditional one: float, NaN where
            inactive; a conditional category: ``None`` there).
        """
        gen = as_generator(rng)
        shape = (n_shape,) if isinstance(n_shape, int) else tuple(n_shape)
        return sample_space(self.space, shape, gen)

    def save(self, path: str | Path) -> None:
        """Write as JSON, atomically (a temporary file, then a rename)."""
        with atomic_open(path) as fh:
            fh.write(self.model_dump_json(indent=1))

    @classmethod
    def load(cls, path: str | Path) -> Calibration:
        """Read a calibration written by :meth:`save` (any version: fields added later take
        their defaults).

        Raises:
            ConfigError: the file cannot be read, or is not a calibration (one line).
        """
        text = read_user_text(path, what="a calibration")
        try:
            return cls.model_validate_json(text)
        except (ValidationError, ConfigError) as exc:
            raise ConfigError(f"{path}: not a calibration file ({one_line(exc)})") from None

    def _energy_model(self) -> Any:
        if self.energy is None:
            raise ConfigError("this calibration has no energy model: its records had no energy_j")
        return self.energy.model()


def _folds(n: int, n_folds: int, rng: np.random.Generator) -> list[np.ndarray]:
    return [f for f in np.array_split(rng.permutation(n), n_folds) if len(f)]


def _cv_predict(
    name: str, X: np.ndarray, y: np.ndarray, folds: list[np.ndarray], ctx: FitContext
) -> np.ndarray:
    out = np.empty_like(y)
    for test in folds:
        train = np.setdiff1d(np.arange(len(y)), test)
        sub = FitContext(
            duration_s=None if ctx.duration_s is None else ctx.duration_s[train],
            duration_form=ctx.duration_form,
            power_low_w=ctx.power_low_w,
            power_high_w=ctx.power_high_w,
        )
        out[test] = FORMS[name].fit(X[train], y[train], ctx=sub).predict(X[test])
    return out


def _ape_pct(pred: np.ndarray, y: np.ndarray) -> np.ndarray:
    return 100.0 * np.abs(pred - y) / y


# A form whose predictions over the search space leave [min/F, max*F] of what was measured is
# extrapolating, not interpolating: 10 CodeCarbon trials once gave an overhead_loglinear fit
# (coefficients -828, -176, +739) with the best median CV error that predicted 1e49 kWh.
_EXTRAPOLATION_FACTOR = 100.0


def _extrapolates_sanely(model: Any, X: np.ndarray, y: np.ndarray, n: int = 2000) -> bool:
    """Whether ``model`` stays within a factor of the measured targets over the space.

    The space is probed as a random search would visit it: each design column drawn
    independently from its own measured values (seeded: the fit stays deterministic).
    """
    if X.shape[1] == 0:
        return True
    gen = np.random.default_rng(0)
    probe = np.column_stack([gen.choice(X[:, j], size=n) for j in range(X.shape[1])])
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        pred = np.asarray(model.predict(probe), dtype=float)
    lo, hi = float(y.min()) / _EXTRAPOLATION_FACTOR, float(y.max()) * _EXTRAPOLATION_FACTOR
    return bool(np.all(np.isfinite(pred)) and pred.min() >= lo and pred.max() <= hi)


def _select(
    forms: Sequence[str], X: np.ndarray, y: np.ndarray, folds: list[np.ndarray], ctx: FitContext,
    notes: list[str],
) -> tuple[TargetModel, np.ndarray]:
    oof = {}
    mdape, mape = {}, {}
    for name in forms:
        if name not in FORMS:
            raise ConfigError(f"cost-model form must be one of {sorted(FORMS)}, but got {name!r}")
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            pred = _cv_predict(name, X, y, folds, ctx)
        if not np.all(np.isfinite(pred) & (pred > 0)):
            # A fold too small for the form (its extrapolation overflows): not a candidate.
            continue
        ape = _ape_pct(pred, y)
        if not np.all(np.isfinite(ape)):
            continue
        oof[name] = pred
        mdape[name], mape[name] = float(np.median(ape)), float(np.mean(ape))
    if not oof:
        raise ConfigError(
            f"no cost-model form of {list(forms)} predicts held-out trials finitely; more "
            f"trials (or fewer folds) are needed, but got {len(y)} trials in {len(folds)} "
            "folds")
    fitted = {name: FORMS[name].fit(X, y, ctx=ctx) for name in oof}
    # Held out or over the space, a form more than _EXTRAPOLATION_FACTOR off what was
    # measured is extrapolating: a median error can hide one wild fold.
    worst = {name: float(np.max(np.abs(np.log(oof[name] / y)))) for name in oof}
    sane = [name for name in oof if worst[name] <= math.log(_EXTRAPOLATION_FACTOR)
            and _extrapolates_sanely(fitted[name], X, y)]
    if sane:
        oof = {name: oof[name] for name in sane}
    else:
        keep = min(oof, key=lambda k: (worst[k], forms.index(k)))
        notes.append(f"every cost-model form of {list(oof)} extrapolates beyond "
                     f"{_EXTRAPOLATION_FACTOR:g}x the measured range (held out or over the "
                     f"search space); kept {keep}, the least far off: more trials are needed")
        oof = {keep: oof[keep]}
    # Ties go to the earlier (simpler) form in the candidate order.
    best = min(oof, key=lambda k: (round(mdape[k], 9), forms.index(k)))
    resid = np.log(oof[best] / y)
    model = fitted[best]
    target = TargetModel(form=best, params=model.to_dict(), cv_mdape_pct=mdape, cv_mape_pct=mape,
                         sigma_log=min(float(resid.std(ddof=1)), 10.0) if len(y) > 1 else 0.0,
                         residuals_log=(-resid).tolist() if len(y) > 1 else [])
    return target, resid


def _resource_param(records: Sequence[TrialRecord]) -> str | None:
    complete = [r for r in records if r.state == "COMPLETE" and r.fidelity is not None]
    if not complete:
        return None
    for name, v in complete[0].params.items():
        if isinstance(v, int | float) and not isinstance(v, bool) and all(
            r.params.get(name) == r.fidelity for r in complete
        ):
            return name
    return None


def _step_offset(steps: Sequence[float]) -> float | None:
    """What to add to reported steps to count the work they follow, or ``None`` (negative).

    0 unless a step is 0: Optuna's ``for step in range(n_epochs): trial.report(v, step)``
    reports the first epoch's value as step 0, so the work is one report spacing more (the
    gcd of integral steps, else the smallest positive one; 1 when every step is 0).

    >>> _step_offset([0, 1, 2, 11]), _step_offset([12, 24]), _step_offset([0, 0])
    (1.0, 0.0, 1.0)
    """
    x = np.asarray(steps, dtype=float)
    if x.size == 0 or np.any(x < 0):
        return None if x.size else 0.0
    if x.min() > 0:
        return 0.0
    positive = x[x > 0]
    if not positive.size:
        return 1.0
    if np.all(positive == np.round(positive)):
        return float(np.gcd.reduce(positive.astype(np.int64)))
    return float(positive.min())


def _reached_shares(records: Sequence[TrialRecord], offset: float | None
                    ) -> dict[int, float] | None:
    """Share of its budget each pruned trial ran, by record index, for a study whose budget
    is not a hyperparameter (``None`` without pruned trials or complete ones to set it).

    The budget is the complete trials' median last step. Steps counted from 0 (Optuna's
    ``for step in range(n_epochs): trial.report(v, step)``) are shifted by the report
    spacing, so a trial pruned at its first report (step 0) ran one report's work, not none.
    """
    complete = [r.fidelity for r in records if r.state == "COMPLETE" and r.fidelity is not None]
    pruned = {i: r.fidelity for i, r in enumerate(records)
              if r.state == "PRUNED" and r.fidelity is not None}
    if not complete or not pruned:
        return None
    if offset is None:
        return None
    budget = float(np.median(complete)) + offset
    if budget <= 0:
        return None
    return {i: min((float(f) + offset) / budget, 1.0) for i, f in pruned.items()}


def _energy_targets(records: Sequence[TrialRecord], notes: list[str]
                    ) -> tuple[Literal["accelerator", "host"] | None, np.ndarray | None]:
    """Which energy the fit models, and its per-trial targets, J (``None``: no energy model).

    The accelerator's where every trial has a reading and most are positive, else the host's
    (CPU + DRAM). A reading of 0 J is below the meter's resolution (the CPU estimate moves in
    0.12 J steps; a short trial may read no step at all): it is fitted at half the smallest
    positive reading, and a note (and a warning) gives the count. Where energy cannot be
    modelled, a note and a warning say why.
    """
    n = len(records)
    why = []
    for scope, get in (("accelerator", lambda r: r.energy_j), ("host", lambda r: r.host_energy_j)):
        vals = [get(r) for r in records]
        have = [v for v in vals if v is not None]
        if not have:
            continue
        if len(have) < n:
            why.append(f"{n - len(have)} of {n} trials have no {scope} energy reading")
            continue
        y = np.asarray(vals, dtype=float)
        positive = y[y > 0]
        if positive.size < max(2, (n + 1) // 2):
            why.append(f"{n - positive.size} of {n} trials read 0 J of {scope} energy")
            continue
        if positive.size < n:
            floor = 0.5 * float(positive.min())
            note = (f"{n - positive.size} of {n} trials read 0 J of {scope} energy (below "
                    f"the meter's resolution); fitted at {floor:.3g} J, half the smallest "
                    "reading")
            notes.append(note)
            warnings.warn(note, stacklevel=3)
            y = np.where(y > 0, y, floor)
        return scope, y  # type: ignore[return-value]
    if why:
        note = ("no energy model: " + "; ".join(why)
                + "; energy will be estimated from the study's power model or the catalog")
        notes.append(note)
        warnings.warn(note, stacklevel=3)
    return None, None


def _trial_energy_j(record: TrialRecord, scope: str | None) -> float | None:
    if scope == "accelerator":
        return record.energy_j
    if scope == "host":
        return record.host_energy_j
    return None


def _energy_source_label(record: TrialRecord, scope: str | None) -> str:
    """Where a record's fitted energy came from: its source, and CodeCarbon where a CodeCarbon
    row gave it (whose CPU and RAM figures are CodeCarbon's models: ``codecarbon
    (estimated)``)."""
    source = str(record.energy_source if scope != "host" else record.cpu_energy_source)
    if "codecarbon_line" in record.attrs and source != "codecarbon":
        return f"codecarbon ({source})"
    return source


def _energy_estimated(record: TrialRecord, scope: str | None) -> bool:
    source = record.energy_source if scope == "accelerator" else record.cpu_energy_source
    return source == "estimated"


def _direction_of(records: Sequence[TrialRecord], direction: str | None
                  ) -> Literal["minimize", "maximize"]:
    """The given direction, else the records' ``attrs["direction"]`` (Optuna's importer)
    or ``attrs["mode"]`` (Ray Tune's), else ``minimize``."""
    seen = {str(r.attrs.get("direction", r.attrs.get("mode"))) for r in records
            if r.attrs.get("direction", r.attrs.get("mode")) is not None}
    found = {normalize_direction(v, field='records\' attrs["direction"]') for v in seen}
    if direction is not None:
        given = normalize_direction(direction, field="direction")
        if found and found != {given}:
            warnings.warn(f"direction {direction!r} ({given}) overrides the direction the "
                          f"study recorded ({', '.join(sorted(found))})", stacklevel=3)
        return given
    if not found:
        return "minimize"
    if len(found) > 1:
        raise ConfigError(f'records\' attrs["direction"] must be one direction, but got '
                          f"{sorted(seen)}")
    return found.pop()


def fit_calibration(
    records: Sequence[TrialRecord],
    *,
    accelerator: str | None = None,
    n_folds: int = 5,
    space: Mapping[str, Mapping[str, Any] | ParamSpace] | None = None,
    duration_forms: Sequence[str] = DURATION_FORMS,
    energy_forms: Sequence[str] = ENERGY_FORMS,
    direction: str | None = None,
    repeats: Sequence[TrialRecord] = (),
    rng: RngLike = 0,
) -> Calibration:
    """Fit per-trial duration and energy models, search space and learning curves.

    COMPLETE and PRUNED records are fitted. A pruned trial ran only to its ``fidelity`` (the
    last step it reported). When a parameter equals the fidelity on every complete trial
    (``steps``), a pruned trial is fitted as a trial with that parameter set to its fidelity,
    so cost scales with the resource actually used. Otherwise (a fixed budget: Optuna's
    ``partial_fit`` loop over epochs) a pruned trial is fitted with its reached share of the
    complete trials' budget as a feature (:data:`REACHED_PARAM`), so per-step cost is learnt
    from every trial and full-run cost from the complete ones; predictions are of full runs.
    Only a pruned trial without any reported step is left out (a note says how many).

    A conditional search space (parameters absent from some trials) is fitted with each
    branch parameter's columns 0 where it is inactive and a branch indicator where the
    parent's one-hot does not already give one; the space stores the inferred conditions.

    Each target's form is chosen by ``n_folds``-fold cross-validated median absolute % error
    (the same shuffled folds for every candidate), then refitted on all trials. Without
    energy readings (or with too few positive ones) the calibration is duration-only
    (``energy`` ``None``): a simulation takes power from the study's power model or the
    catalog.

    Args:
        records: measured trials of one study.
        accelerator: catalog name; its idle and TDP power bound ``power_model``. Without it
            (and without a common ``record.accelerator``) the bounds are half the lowest and
            twice the highest observed mean power.
        n_folds: cross-validation folds, >= 2 (at most the number of trials).
        space: search-space dimensions overriding the inferred ones
            (``{"lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True}}``).
        duration_forms, energy_forms: candidate forms (keys of :data:`FORMS`).
        direction: whether the objective is minimised or maximised (for learning curves),
            any spelling :func:`~tunecost._direction.normalize_direction` takes; default:
            the records' ``attrs["direction"]`` (or Ray's ``attrs["mode"]``), else minimize.
        repeats: extra records with repeated configurations, used only for :attr:`seed_noise`.
        rng: seed or generator for the fold shuffle.

    Returns:
        The frozen calibration; same inputs and seed give identical JSON.

    Raises:
        ConfigError: no records, a parameter of two types, too few usable trials, bad
            ``n_folds``, unknown form, direction or accelerator.
    """
    from tunecost import catalog  # local: the catalog loads CSVs, only needed here

    check_records(records)
    direction = _direction_of(records, direction)
    gen = as_generator(rng)
    notes: list[str] = []
    resource = _resource_param(records)
    # One offset for every use of the steps (shares, schedule): from every reported step, not
    # only the last ones (a study whose trials were pruned at step 1 still counted from 0).
    offset = _step_offset([*(r.fidelity for r in records if r.fidelity is not None),
                           *(p.step for r in records for p in r.curve)])
    shares = _reached_shares(records, offset) if resource is None else None
    used: list[TrialRecord] = []
    rows: list[dict[str, Any]] = []
    unplaced = 0
    for i, r in enumerate(records):
        if r.state not in _FIT_STATES or r.duration_s <= 0:
            continue
        params: dict[str, Any] = dict(r.params)
        if r.state == "PRUNED":
            if resource is not None and r.fidelity is not None and r.fidelity > 0:
                params[resource] = r.fidelity
            elif shares is not None and i in shares:
                params[REACHED_PARAM] = shares[i]
            else:
                unplaced += 1
                continue
        elif shares is not None:
            params[REACHED_PARAM] = 1.0
        used.append(r)
        rows.append(params)
    if unplaced:
        note = (f"{unplaced} pruned trial(s) left out: no reported step places them against "
                "the complete trials' budget")
        notes.append(note)
        warnings.warn(note, stacklevel=2)
    if not 2 <= n_folds <= len(used):
        raise ConfigError(
            f"2 <= n_folds <= usable trials must hold, but got (n_folds={n_folds}, "
            f"usable trials={len(used)})"
        )
    full_space = infer_space(used)
    for name, dim in (space or {}).items():
        full_space[name] = dim if isinstance(dim, ParamSpace) else ParamSpace(**dim)
    cols = _param_columns(rows, _union_names(rows))
    features = _build_features(cols, active_masks(full_space, cols))
    X = _design(features, cols, full_space)
    duration_s = np.array([r.duration_s for r in used])
    folds = _folds(len(used), n_folds, gen)

    accel_name = accelerator or _common([r.accelerator for r in used])
    scope, energy_j = _energy_targets(used, notes)
    if accel_name is not None and scope == "accelerator":
        spec = catalog.accelerator(accel_name)
        if spec.idle_w is None:
            raise ConfigError(
                f"power bounds need the accelerator's idle_w, but {spec.name} has none"
            )
        if spec.tdp_w <= 0:
            raise ConfigError(
                f"accelerator {spec.name!r} draws no power (a CPU-only row), but "
                f"{len(used)} trials carry accelerator energy: give the accelerator they "
                "ran on, or records with cpu_energy_j only")
        lo_w, hi_w, accel_name = float(spec.idle_w), float(spec.tdp_w), spec.name
    elif energy_j is not None:
        p = energy_j / duration_s
        lo_w, hi_w = 0.5 * float(p.min()), 2.0 * float(p.max())
    else:
        lo_w, hi_w = 0.0, math.inf

    duration, d_resid = _select(tuple(duration_forms), X, duration_s, folds, FitContext(),
                                 notes)
    energy = corr = None
    if energy_j is not None:
        ctx = FitContext(duration_s=duration_s, duration_form=duration.form,
                         power_low_w=lo_w, power_high_w=hi_w)
        forms = tuple(f for f in energy_forms if f != "power_model" or math.isfinite(hi_w))
        energy, e_resid = _select(forms, X, energy_j, folds, ctx, notes)
        if len(used) > 2 and np.std(d_resid) > 0 and np.std(e_resid) > 0:
            corr = float(np.corrcoef(d_resid, e_resid)[0, 1])
    return Calibration(
        study=_common([r.study for r in used]) or "mixed",
        accelerator=accel_name,
        power_low_w=lo_w,
        power_high_w=hi_w if math.isfinite(hi_w) else None,
        n_records=len(used),
        n_pruned=sum(r.state == "PRUNED" for r in used),
        resource_param=resource,
        direction=direction,
        features=features,
        space=full_space,
        duration=duration,
        energy=energy,
        energy_scope=scope or "accelerator",
        energy_estimated=energy is not None and any(_energy_estimated(r, scope) for r in used),
        energy_sources=[] if energy is None else sorted(
            {_energy_source_label(r, scope) for r in used}),
        log_residual_corr=corr,
        learning_curve=_fit_learning_curve(used, direction),
        curve_model=fit_curve_model(used, features, resource, direction),
        report_schedule=_report_schedule(used, resource, offset, notes),
        setup=SetupTime.measure([r for r in used if r.state == "COMPLETE"]),
        trial_overhead=TrialOverhead.measure(records),
        seed_noise=seed_noise([*used, *repeats]),
        notes=notes,
    )


def fit_curve_model(records: Sequence[TrialRecord], features: Sequence[FeatureSpec],
                    resource: str | None, direction: Literal["minimize", "maximize"]
                    ) -> CurveModel | None:
    """The learning-curve model of the records' curves (COMPLETE and PRUNED trials alike: a
    pruned trial's early reports are data too), or ``None`` with fewer than 4 curves.

    With a resource parameter the axis is the fraction ``step / budget`` and each trial's
    design row has its configured budget (not the fidelity it was pruned at: its schedule
    was set by the budget); without one the axis is the step itself.
    """
    recs = [r for r in records if r.state in _FIT_STATES and r.curve
            and (resource is None or float(r.params.get(resource, 0) or 0) > 0)]
    if len(recs) < 4:
        return None
    required = {f.param for f in features if not f.optional and f.param != REACHED_PARAM}
    for r in recs:
        if not required <= set(r.params):
            raise ConfigError(
                f"the curve model's records must have the calibration's parameters "
                f"{sorted(required)}, but trial {r.number} has {sorted(r.params)}")
    names = [n for n in dict.fromkeys(f.param for f in features) if n != REACHED_PARAM]
    X = _design(features, _param_columns(recs, names))
    steps = [np.array([p.step for p in r.curve], dtype=float) for r in recs]
    positions = (steps if resource is None
                 else [s / float(r.params[resource]) for s, r in zip(steps, recs, strict=True)])
    values = [np.array([p.value for p in r.curve], dtype=float) for r in recs]
    if any(np.any(np.diff(p) <= 0) for p in positions):
        return None  # steps that go back (a resumed trial reporting twice): not one curve
    try:
        return CurveModel.fit(X, positions, values,
                              axis="step" if resource is None else "fraction",
                              direction=direction)
    except ConfigError:
        return None  # too few trials share a report position: no model, say nothing wrong


def _report_schedule(records: Sequence[TrialRecord], resource: str | None,
                     offset: float | None, notes: list[str]) -> ReportSchedule | None:
    """The schedule the complete trials reported on, in work steps; ``offset``
    (:func:`_step_offset`) maps them back to the numbers the objective reports (Optuna's
    ``range(n)`` loop reports the first epoch as step 0)."""
    complete = [r for r in records if r.state == "COMPLETE" and r.curve]
    if offset is not None and offset > 0 and resource is not None and any(
            r.curve[-1].step >= float(r.params[resource]) for r in complete):
        # A report at step 0 and one at the budget itself: 0 is an evaluation before any
        # work, not the first epoch; no schedule holds that.
        offset = None
    if offset is None:
        notes.append("report schedule not inferred: the curves report at negative steps, or "
                     "at step 0 and at the budget; give the strategy a report schedule")
        return None
    budgets = [float(r.params[resource]) if resource is not None
               else float(r.fidelity if r.fidelity is not None else r.curve[-1].step) + offset
               for r in complete]
    schedule = infer_schedule([[p.step + offset for p in r.curve] for r in complete], budgets)
    return None if schedule is None else schedule.model_copy(update={"offset": offset})


def _common(values: Sequence[str | None]) -> str | None:
    return values[0] if values and all(v == values[0] for v in values) else None


def evaluate_on(calibration: Calibration, records: Sequence[TrialRecord]) -> dict[str, Any]:
    """Predict other measured trials with a calibration and score the predictions.

    Args:
        calibration: fitted calibration.
        records: COMPLETE trials with the calibration's parameters.

    Returns:
        ``rows`` (per record: measured and predicted duration, s, energy, J, power, W, and
        signed % errors), plus ``duration_mdape_pct``, ``duration_mape_pct``,
        ``duration_median_signed_pct`` and the same for energy (``None`` without energy).
    """
    recs = [r for r in records if r.state == "COMPLETE"]
    if not recs:
        raise ConfigError("evaluate_on needs at least one COMPLETE record, but got none")
    params = _param_columns(recs, _union_names(recs))
    d_pred = calibration.predict_duration_s(params)
    d_meas = np.array([r.duration_s for r in recs])
    e_meas_list = [_trial_energy_j(r, calibration.energy_scope) for r in recs]
    has_e = calibration.energy is not None and all(e is not None for e in e_meas_list)
    e_pred = calibration.predict_energy_j(params) if has_e else None
    e_meas = np.array(e_meas_list, dtype=float) if has_e else None
    rows = []
    for i, r in enumerate(recs):
        row: dict[str, Any] = {
            "number": r.number, "params": r.params,
            "duration_s": float(d_meas[i]), "duration_pred_s": float(d_pred[i]),
            "duration_err_pct": float(100 * (d_pred[i] / d_meas[i] - 1)),
        }
        if e_pred is not None and e_meas is not None:
            row.update(energy_j=float(e_meas[i]), energy_pred_j=float(e_pred[i]),
                       energy_err_pct=float(100 * (e_pred[i] / e_meas[i] - 1)),
                       power_w=float(e_meas[i] / d_meas[i]),
                       power_pred_w=float(e_pred[i] / d_pred[i]))
        rows.append(row)
    out: dict[str, Any] = {"rows": rows}
    for key, pred, meas in (("duration", d_pred, d_meas), ("energy", e_pred, e_meas)):
        if pred is None or meas is None:
            out.update({f"{key}_mdape_pct": None, f"{key}_mape_pct": None,
                        f"{key}_median_signed_pct": None})
            continue
        ape = _ape_pct(pred, meas)
        out[f"{key}_mdape_pct"] = float(np.median(ape))
        out[f"{key}_mape_pct"] = float(np.mean(ape))
        out[f"{key}_median_signed_pct"] = float(np.median(100 * (pred / meas - 1)))
    return out

