"""The surrogate objective: what a configuration costs and how its learning curve runs.

For each configuration the surrogate gives a full-fidelity duration, s, the accelerator power,
W, and the objective at ``n_evaluations`` evenly spaced points of training, all drawn from
models fitted on a real study (a :class:`~tunecost.calibrate.fit.Calibration`):

- **cost**: ``Calibration.sample_costs`` (fitted duration and energy with their correlated
  cross-validated residual noise); power is energy / duration;
- **final value**: a :class:`ValueModel` fitted on the study's records, plus run-to-run noise:
  the spread measured on repeated seeds (``Calibration.seed_noise.value_std``) where the study
  repeated configurations, else the model's leave-one-out residual spread;
- **learning curve**: ``Calibration.learning_curve.sample_curve`` through the final value;
- **the resource**: when the calibration has a resource parameter (``steps``: the parameter
  equal to a trial's fidelity), it is the trial's budget, not a hyperparameter: every trial
  is configured to its maximum and the ``n_evaluations`` reports fall along it, so a pruner's
  early stop is a real saving (``search_resource=True`` searches it like the others);
- **evaluation times**: proportional to training progress after the fixed per-trial overhead
  when the duration form has one (``overhead_loglinear``): evaluation ``k`` of ``K`` is at
  ``o + (D - o)·k/K`` into the trial, ``D`` its duration and ``o`` the overhead.

Without a calibration (a study with a duration model and a power model), durations come from
the duration model, power from the power model (the engine's business), and values are i.i.d.
standard normal with a synthetic curve ``v(f) = v + c·(1/f - 1)``, ``c = exp(0.5·z)``: the
costs are right and rung decisions are made, but no sampler can learn anything.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tunecost.calibrate.fit import Calibration, OverheadLogLinear
from tunecost.calibrate.records import read_records
from tunecost.durations import DurationModel
from tunecost.exceptions import ConfigError

__all__ = ["Draws", "Surrogate", "ValueModel"]

_RIDGE_GRID = tuple(10.0 ** k for k in range(-3, 4))


def _quadratic(X: np.ndarray) -> np.ndarray:
    """``[x_i, x_i², x_i·x_j (i<j)]`` of standardised features, shape ``(n, 2p + p(p-1)/2)``."""
    p = X.shape[1]
    cols = [X, X * X]
    cols += [X[:, [i]] * X[:, [j]] for i in range(p) for j in range(i + 1, p)]
    return np.concatenate(cols, axis=1)


@dataclass(frozen=True)
class ValueModel:
    """Final objective value as a quadratic function of the standardised hyperparameters.

    ``v = b0 + Σ b_i x_i + Σ c_i x_i² + Σ d_ij x_i x_j`` on the calibration's design matrix
    (numeric features standardised, wide positive ones in log). A quadratic because the
    objective has interior optima (a learning rate too high and too low are both bad), which
    TPE and CMA-ES must be able to find; ridge-penalised because 33 trials do not pin down 27
    coefficients: the penalty is picked from 1e-3…1e3 by exact leave-one-out error.

    Attributes:
        coef: ``(1 + n_terms,)``, intercept first.
        alpha: ridge penalty chosen.
        loo_rmse: leave-one-out root mean square error, objective units.
        n: trials fitted.

    Example:
        >>> X = np.random.default_rng(0).normal(size=(40, 2))
        >>> y = 1 + X[:, 0] ** 2 - 0.5 * X[:, 1]
        >>> m = ValueModel.fit_design(X, y)
        >>> bool(np.abs(m.predict_design(X) - y).max() < 0.05)
        True
    """

    coef: np.ndarray
    alpha: float
    loo_rmse: float
    n: int

    @classmethod
    def fit_design(cls, X: np.ndarray, y: np.ndarray) -> ValueModel:
        """Fit to a design matrix ``X`` (n, p) and values ``y`` (n,)."""
        Z = _quadratic(np.asarray(X, dtype=float))
        y = np.asarray(y, dtype=float)
        z_mean, y_mean = Z.mean(axis=0), y.mean()
        Zc, yc = Z - z_mean, y - y_mean
        n, k = Zc.shape
        best: tuple[float, float, np.ndarray] | None = None
        for alpha in _RIDGE_GRID:
            inv = np.linalg.inv(Zc.T @ Zc + alpha * np.eye(k))
            b = inv @ Zc.T @ yc
            # Leave-one-out residual of a linear smoother, r_i / (1 - H_ii); the 1/n is the
            # unpenalised intercept's share of the hat matrix.
            h = np.einsum("ij,jk,ik->i", Zc, inv, Zc) + 1.0 / n
            loo = float(np.mean(((yc - Zc @ b) / np.clip(1.0 - h, 1e-9, None)) ** 2))
            if best is None or loo < best[0] - 1e-15:
                best = (loo, alpha, b)
        assert best is not None
        loo, alpha, b = best
        return cls(np.concatenate([[y_mean - z_mean @ b], b]), alpha, math.sqrt(loo), n)

    @classmethod
    def fit(cls, calibration: Calibration, records_path: str | Path) -> ValueModel:
        """Fit on the COMPLETE records (with a value) of ``records_path``.

        Raises:
            ConfigError: fewer than 5 usable records, or parameters the calibration lacks.
        """
        recs = [r for r in read_records(records_path)
                if r.state == "COMPLETE" and r.value is not None]
        if len(recs) < 5:
            raise ConfigError(f"{records_path}: a value model needs >= 5 COMPLETE records with "
                              f"a value, but got {len(recs)}")
        params = {k: np.asarray([r.params[k] for r in recs]) for k in recs[0].params}
        X = calibration.design(params)
        return cls.fit_design(X, np.array([r.value for r in recs], dtype=float))

    def predict_design(self, X: np.ndarray) -> np.ndarray:
        """Values for a design matrix ``X`` (n, p); shape (n,)."""
        return self.coef[0] + _quadratic(np.asarray(X, dtype=float)) @ self.coef[1:]


@dataclass(frozen=True, slots=True)
class Draws:
    """What ``n`` trials cost and report, one row each.

    Attributes:
        duration_s: full-fidelity running time, s, (n,).
        overhead_s: fixed part before training progresses, s, (n,).
        accel_w: accelerator power while running, W, (n,); NaN without a calibration (the
            study's power model applies).
        values: objective at evaluations ``1..K``, (n, K); the last is the final value.
    """

    duration_s: np.ndarray
    overhead_s: np.ndarray
    accel_w: np.ndarray
    values: np.ndarray


class Surrogate:
    """Draws trials' cost and learning curves for given hyperparameters.

    Args:
        n_evaluations: ``K``, evaluations per full trial.
        calibration: fitted models (cost, curve, seed noise), or ``None``.
        duration: full-fidelity duration model when there is no calibration.
        value: final-value model (needs ``calibration``), or ``None`` for i.i.d. values.
        direction: ``minimize`` or ``maximize``.
        search_resource: search the calibration's resource parameter like the others
            instead of fixing it at its maximum.
    """

    def __init__(self, n_evaluations: int, *, calibration: Calibration | None,
                 duration: DurationModel | None, value: ValueModel | None,
                 direction: str, search_resource: bool = False) -> None:
        if calibration is None and duration is None:
            raise ConfigError("a surrogate needs a calibration or a duration model, got neither")
        if value is not None and calibration is None:
            raise ConfigError("a value model needs the calibration whose features it uses")
        self.n_evaluations = n_evaluations
        self.calibration = calibration
        self.duration = duration
        self.value = value
        self.direction = direction
        self.sign = 1.0 if direction == "minimize" else -1.0
        self.fidelity = np.arange(1, n_evaluations + 1) / n_evaluations
        self.overhead_s = 0.0
        self.value_sd = 0.0
        self.curve = None
        self.fixed: dict[str, float] = {}
        if calibration is not None:
            res = calibration.resource_param
            if res is not None and not search_resource and res in calibration.space:
                high = calibration.space[res].high
                self.fixed[res] = float(high) if high is not None else 1.0
            model = calibration.duration.model()
            if isinstance(model, OverheadLogLinear):
                self.overhead_s = model.overhead
            lc = calibration.learning_curve
            if lc is not None and lc.direction == direction:
                self.curve = lc
            noise = calibration.seed_noise
            if noise is not None and noise.value_std is not None:
                self.value_sd = noise.value_std
            elif value is not None:
                self.value_sd = value.loo_rmse

    @property
    def space(self) -> Mapping[str, Any]:
        """The searched space: the calibration's, less a fixed resource (``{}`` without a
        calibration)."""
        if self.calibration is None:
            return {}
        return {k: v for k, v in self.calibration.space.items() if k not in self.fixed}

    def sample_params(self, n: int, *, rng: np.random.Generator) -> dict[str, np.ndarray] | None:
        """Random configurations from :attr:`space`, shape (n,) each (``None`` without a
        calibration)."""
        if self.calibration is None:
            return None
        return {name: dim.sample((n,), rng) for name, dim in self.space.items()}

    def _complete(self, params: Mapping[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
        out = dict(params)
        for name, value in self.fixed.items():
            out[name] = np.full(n, value)
        return out

    def draw(self, params: Mapping[str, np.ndarray] | None, n: int, *,
             rng: np.random.Generator) -> Draws:
        """Draw ``n`` trials; ``params`` maps each name to an array of shape (n,).

        Args:
            params: hyperparameters (needed with a calibration), arrays of shape ``(n,)``.
            n: number of trials.
            rng: the only source of randomness.
        """
        cal = self.calibration
        if cal is None:
            assert self.duration is not None
            duration_s = np.asarray(self.duration.sample((n,), rng=rng), dtype=float)
            accel_w = np.full(n, np.nan)
            overhead = np.zeros(n)
        else:
            if params is None:
                raise ConfigError("a calibrated surrogate needs hyperparameters, got None")
            params = self._complete(params, n)
            duration_s, energy_j = cal.sample_costs(params, rng=rng)
            assert energy_j is not None  # checked when the calibration was loaded
            accel_w = energy_j / duration_s
            # A noisy short draw must keep some training time after the overhead.
            overhead = np.minimum(self.overhead_s, 0.5 * duration_s)
        values = self._curves(params, n, rng)
        return Draws(duration_s, overhead, accel_w, values)

    def _curves(self, params: Mapping[str, np.ndarray] | None, n: int,
                rng: np.random.Generator) -> np.ndarray:
        if self.value is None or self.calibration is None or params is None:
            final = rng.standard_normal(n)
        else:
            final = self.value.predict_design(self.calibration.design(params))
            final = final + self.value_sd * rng.standard_normal(n)
        if self.curve is None:
            c = np.exp(0.5 * rng.standard_normal(n))[:, None]
            return final[:, None] + self.sign * c * (1.0 / self.fidelity - 1.0)
        # The curve is a ratio to the gap beyond v_ref: a final value predicted past v_ref
        # (better than any trial measured) is held just short of it.
        v_ref = self.curve.v_ref
        final = v_ref + self.sign * np.maximum(self.sign * (final - v_ref),
                                               1e-6 * max(abs(v_ref), 1.0))
        return self.curve.sample_curve(final, self.fidelity, rng=rng)
