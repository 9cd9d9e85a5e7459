"""Learning curves as a function of the configuration and the step, fitted on measured curves.

What a pruner or a scheduler decides depends on how a configuration's objective at step ``s``
compares with other configurations' at the same step: a large learning rate is ahead early
and behind late, a bigger model is ahead from the start, a longer schedule is behind at the
same early step. :class:`CurveModel` predicts ``v(x, s)`` for a configuration's design row
``x`` (the calibration's standardised features, the resource parameter among them when there
is one) at report position ``s`` on a grid:

- the axis is the **step** (the objective's own counter) when every trial had the same
  budget, or the **fraction** ``step / budget`` when the budget is a hyperparameter (then the
  budget is also a feature, so a longer schedule's slower start is learnt);
- at each grid point ``k`` the transformed value ``u = log v`` (``v`` itself when some value
  is <= 0) is a linear function of ``x`` plus a Gaussian-process residual with an ARD
  squared-exponential kernel (universal kriging: kernel interpolation between the measured
  curves around a linear trend, so the model extrapolates along the trend when a search
  leaves the calibrated range and bends to the data inside it);
- the length scales and the noise ratio, shared by all grid points, minimise the exact
  leave-one-out error summed over the grid (closed form, no refit per held-out trial: for
  the linear smoother ``û = u − λ·Q·u`` the held-out residual of trial ``i`` is
  ``(Q u)_i / Q_ii``).

A replayed trial's curve is the prediction plus the leave-one-out residual curve of a
calibration trial drawn at random: the measured spread around the model, with its
correlation across steps (a trial that is lucky early stays lucky), and including the
model's own error at configurations it was not fitted on.

Validation is where it matters: :attr:`CurveModel.cv` holds, leave one trial out, the rank
correlation of predicted and measured values at each report, and how often a median rule and
a keep-the-best-third rule (Hyperband, ASHA with reduction factor 3) decide on the prediction
as they decided on the measured value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, PrivateAttr
from scipy import linalg, optimize, stats

from tunecost._rng import RngLike, as_generator
from tunecost.exceptions import ConfigError

__all__ = ["CurveCV", "CurveModel", "MAX_GRID", "decision_agreement"]

MAX_GRID = 24
"""Grid points at most: a trial reporting every step of 1,000 is thinned to 24 positions."""

_LOG_BOUNDS = ((math.log(0.2), math.log(50.0)), (math.log(1e-4), math.log(10.0)))


def decision_agreement(measured: np.ndarray, predicted: np.ndarray, *, keep: float,
                       sign: float = 1.0) -> tuple[int, int]:
    """How often a rank rule decides on a prediction as it decided on the measured value.

    At one report, trial ``i`` is kept when the share of the *other* trials' measured values
    that are better than its value is below ``keep`` (``keep = 0.5``: the median rule; 1/3:
    Hyperband and ASHA with reduction factor 3). The decision is taken once with its
    measured value and once with its predicted one.

    Args:
        measured, predicted: values of the trials at one report, shape (n,).
        keep: share of trials kept, in (0, 1).
        sign: 1 when lower values are better, -1 when higher ones are.

    Returns:
        ``(agreements, decisions)``.

    Example:
        >>> decision_agreement(np.array([1., 2., 3., 4.]), np.array([1., 2., 3., 4.]),
        ...                    keep=0.5)
        (4, 4)
    """
    m, p = sign * np.asarray(measured, float), sign * np.asarray(predicted, float)
    n = m.size
    if n < 3:
        return 0, 0
    agree = 0
    for i in range(n):
        others = np.delete(m, i)
        meas_keep = np.mean(others < m[i]) < keep
        pred_keep = np.mean(others < p[i]) < keep
        agree += int(meas_keep == pred_keep)
    return agree, n


class CurveCV(BaseModel):
    """Leave-one-trial-out quality of a :class:`CurveModel`.

    Attributes:
        grid: grid positions, (K,).
        rank_corr: Spearman correlation of held-out predictions and measured values at
            each grid position, (K,) (``None`` where fewer than 3 trials).
        value_mdape_pct: median absolute % error of held-out predicted values, all reports.
        median_rule_agreement: share of (trial, report) pairs where the median rule decides
            on the held-out prediction as on the measured value (a random ranking agrees on
            half).
        top_third_agreement: the same for keeping the best third (random: 5/9).
        baseline_median_rule_agreement, baseline_top_third_agreement: the same decisions
            made from the linear trend alone (no kernel), for comparison.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    grid: list[float]
    rank_corr: list[float | None]
    value_mdape_pct: float
    median_rule_agreement: float
    top_third_agreement: float
    baseline_median_rule_agreement: float
    baseline_top_third_agreement: float

    def describe(self) -> str:
        """One line for the calibrate command."""
        rc = [r for r in self.rank_corr if r is not None]
        return (
            f"learning-curve model, leave one trial out: pruning decisions agree "
            f"{100 * self.median_rule_agreement:.0f} % (median rule) and "
            f"{100 * self.top_third_agreement:.0f} % (keep best third); linear trend alone "
            f"{100 * self.baseline_median_rule_agreement:.0f} % / "
            f"{100 * self.baseline_top_third_agreement:.0f} %; rank correlation per report "
            f"{min(rc, default=float('nan')):.2f}–{max(rc, default=float('nan')):.2f}; "
            f"value error {self.value_mdape_pct:.1f} % (median)"
        )


class CurveModel(BaseModel):
    """``v(x, s)``: objective of configuration ``x`` at report position ``s``.

    Build one with :meth:`fit`. ``X`` arguments are design rows of the calibration's
    features, shape ``(n, p)``; positions are steps (``axis == "step"``) or fractions of the
    trial's budget (``axis == "fraction"``).

    Attributes:
        direction: ``minimize`` or ``maximize`` (which way is better, for the rank rules).
        transform: ``log`` (``u = log v``) or ``identity``.
        axis: ``step`` or ``fraction``.
        grid: positions, ascending, (K,).
        X: design rows of the fitted trials, (n, p).
        U: transformed values, (n, K); ``None`` where a trial has no report.
        length_scales: kernel length scales per feature, (p,).
        noise: noise-to-signal ratio of the kernel (the ridge ``λ``).
        residuals: leave-one-out residual curves, (n, K), ``u`` units, gaps filled from the
            trial's nearest report.
        cv: leave-one-trial-out quality.

    Example:
        >>> X = np.linspace(-1, 1, 12)[:, None]
        >>> steps = np.arange(1.0, 5.0)
        >>> V = np.exp(0.5 * X + 1.0 / steps)      # log v = 0.5 x + 1/s: linear in x
        >>> m = CurveModel.fit(X, [steps] * 12, [V[i] for i in range(12)], axis="step")
        >>> bool(np.allclose(m.predict(np.array([[0.3]]), steps), np.exp(0.15 + 1 / steps),
        ...                  rtol=1e-3))
        True
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    direction: Literal["minimize", "maximize"] = "minimize"
    transform: Literal["log", "identity"]
    axis: Literal["step", "fraction"]
    grid: list[float]
    X: list[list[float]]
    U: list[list[float | None]]
    length_scales: list[float]
    noise: float
    residuals: list[list[float]]
    cv: CurveCV | None = None

    # The per-grid-point solves, computed on first use; keyed by the fields they depend on,
    # so a model_copy(update=...) of a used model does not predict with stale ones.
    _solved: tuple[Any, list[tuple[np.ndarray, np.ndarray, np.ndarray, bool]]] | None = (
        PrivateAttr(default=None))

    # ------------------------------------------------------------------------------ fitting

    @classmethod
    def fit(cls, X: np.ndarray, positions: Sequence[Sequence[float]],
            values: Sequence[Sequence[float]], *, axis: Literal["step", "fraction"],
            direction: Literal["minimize", "maximize"] = "minimize",
            max_grid: int = MAX_GRID, theta: Sequence[float] | None = None) -> CurveModel:
        """Fit to measured curves.

        Args:
            X: design rows of the trials, (n, p).
            positions: each trial's report positions (steps or fractions), ascending.
            values: each trial's objective at those positions.
            axis: what the positions are.
            direction: which way is better.
            max_grid: grid points at most.
            theta: log length scales (one per design column) and log noise to use instead
                of choosing them (:attr:`theta` of an earlier fit on fewer of the same
                study's trials: a refit as trials come in then costs a few solves, not an
                optimisation).

        Raises:
            ConfigError: fewer than 4 trials with curves, a non-finite value, or a ``theta``
                of the wrong length.
        """
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or len(positions) != len(X) or len(values) != len(X):
            raise ConfigError(f"X (n, p), positions and values must describe the same trials, "
                              f"but got X {X.shape}, {len(positions)} and {len(values)} curves")
        pos = [np.asarray(p, dtype=float) for p in positions]
        val = [np.asarray(v, dtype=float) for v in values]
        keep = [i for i in range(len(X)) if len(pos[i]) >= 1 and len(pos[i]) == len(val[i])]
        if len(keep) < 4:
            raise ConfigError(f"a learning-curve model needs >= 4 trials with curves, but got "
                              f"{len(keep)}")
        if not all(np.all(np.isfinite(val[i])) for i in keep):
            raise ConfigError("learning-curve values must be finite")
        X = X[keep]
        pos, val = [pos[i] for i in keep], [val[i] for i in keep]
        transform: Literal["log", "identity"] = (
            "log" if all(np.all(v > 0) for v in val) else "identity")
        grid = _grid(pos, axis, max_grid)
        U = np.full((len(X), len(grid)), np.nan)
        for i, (p, v) in enumerate(zip(pos, val, strict=True)):
            u = np.log(v) if transform == "log" else v
            lo = p[0] - (0.5 * (grid[1] - grid[0]) if axis == "fraction" and len(grid) > 1
                         else 1e-9)
            inside = (grid >= lo) & (grid <= p[-1] + 1e-9)
            U[i, inside] = np.interp(grid[inside], p, u)
        covered = (~np.isnan(U)).sum(axis=0) >= 4
        if not covered.any():
            raise ConfigError("no report position is shared by >= 4 trials' curves")
        grid, U = grid[covered], U[:, covered]
        if theta is None:
            theta = _best_theta(X, U)
        elif len(theta) != X.shape[1] + 1:
            raise ConfigError(f"theta needs {X.shape[1] + 1} entries (a log length scale per "
                              f"design column and the log noise), but got {len(theta)}")
        theta = np.asarray(theta, dtype=float)
        loo = _loo_residuals(X, U, np.exp(theta[:-1]), float(np.exp(theta[-1])))
        lin = _loo_residuals(X, U, np.full(X.shape[1], 1e6), 1e6)  # the trend alone
        model = cls(
            direction=direction, transform=transform, axis=axis, grid=grid.tolist(),
            X=X.tolist(), U=_nan_to_none(U), length_scales=np.exp(theta[:-1]).tolist(),
            noise=float(np.exp(theta[-1])), residuals=_fill_rows(loo).tolist(),
        )
        return model.model_copy(update={"cv": _cv(model, U, loo, lin)})

    # --------------------------------------------------------------------------- prediction

    @property
    def theta(self) -> list[float]:
        """Log length scales and log noise: what :meth:`fit` takes back as ``theta``."""
        return [*np.log(self.length_scales).tolist(), math.log(self.noise)]

    def predict_u(self, X: np.ndarray) -> np.ndarray:
        """Transformed values at every grid position, shape ``(n, K)``."""
        Xq = np.asarray(X, dtype=float).reshape(-1, len(self.length_scales))
        out = np.empty((len(Xq), len(self.grid)))
        for k, (Xk, beta, alpha, with_trend) in enumerate(self._solve()):
            out[:, k] = _phi(Xq, with_trend) @ beta + _kernel(Xq, Xk, self._ls) @ alpha
        return out

    def predict(self, X: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Predicted objective of each configuration at ``positions``.

        Args:
            X: design rows, (n, p).
            positions: (m,) positions shared by all, or (n, m) one row per configuration;
                held at the first and last grid position outside the grid.

        Returns:
            Values, (n, m).
        """
        return self._back(self._at(self.predict_u(X), positions))

    def sample(self, X: np.ndarray, positions: np.ndarray, *, rng: RngLike = None
               ) -> np.ndarray:
        """Draw curves: the prediction plus a calibration trial's held-out residual curve.

        Args:
            X: design rows, (n, p).
            positions: (m,) or (n, m), as in :meth:`predict`.
            rng: seed or generator; one draw (which residual curve) per configuration.

        Returns:
            Values, (n, m).
        """
        gen = as_generator(rng)
        u = self.predict_u(X)
        res = np.asarray(self.residuals)
        u = u + res[gen.integers(len(res), size=len(u))]
        return self._back(self._at(u, positions))

    # ------------------------------------------------------------------------------ helpers

    @property
    def _ls(self) -> np.ndarray:
        return np.asarray(self.length_scales)

    def _solve(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, bool]]:
        key = (id(self.X), id(self.U), tuple(self.length_scales), self.noise)
        if self._solved is None or self._solved[0] != key:
            X, U = np.asarray(self.X), _none_to_nan(self.U)
            self._solved = (key, [_solve_point(X[~np.isnan(U[:, k])], U[~np.isnan(U[:, k]), k],
                                               self._ls, self.noise)
                                  for k in range(U.shape[1])])
        return self._solved[1]

    def _at(self, u: np.ndarray, positions: np.ndarray) -> np.ndarray:
        grid = np.asarray(self.grid)
        pos = np.asarray(positions, dtype=float)
        if pos.ndim == 1:
            pos = np.broadcast_to(pos, (len(u), len(pos)))
        if pos.shape[0] != len(u):
            raise ConfigError(f"positions must be (m,) or (n, m) with n = {len(u)}, but got "
                              f"shape {pos.shape}")
        if len(grid) == 1:
            return np.repeat(u, pos.shape[1], axis=1)
        return np.stack([np.interp(pos[i], grid, u[i]) for i in range(len(u))])

    def _back(self, u: np.ndarray) -> np.ndarray:
        return np.exp(u) if self.transform == "log" else u


# ------------------------------------------------------------------------------ the algebra


def _grid(pos: list[np.ndarray], axis: str, max_grid: int) -> np.ndarray:
    if axis == "fraction":
        n = int(min(max(np.median([len(p) for p in pos]), 1), max_grid))
        return np.arange(1, n + 1) / n
    steps = np.unique(np.concatenate(pos))
    if len(steps) <= max_grid:
        return steps
    return np.unique(np.quantile(steps, np.linspace(0, 1, max_grid), method="nearest"))


def _kernel(A: np.ndarray, B: np.ndarray, ls: np.ndarray) -> np.ndarray:
    d = (A[:, None, :] - B[None, :, :]) / ls
    return np.exp(-0.5 * np.einsum("ijk,ijk->ij", d, d))


def _phi(X: np.ndarray, with_trend: bool) -> np.ndarray:
    ones = np.ones((len(X), 1))
    return np.hstack([ones, X]) if with_trend else ones


def _with_trend(n: int, p: int) -> bool:
    # A linear trend in p features needs a few more trials than unknowns.
    return n >= p + 3


def _q_matrix(X: np.ndarray, ls: np.ndarray, lam: float) -> tuple[np.ndarray, Any, np.ndarray,
                                                                    np.ndarray]:
    """``Q = K⁻¹ − K⁻¹Φ(ΦᵀK⁻¹Φ)⁻¹ΦᵀK⁻¹`` for ``K = k(X, X) + λI``; with its factors."""
    n, p = X.shape
    Phi = _phi(X, _with_trend(n, p))
    c = linalg.cho_factor(_kernel(X, X, ls) + lam * np.eye(n), lower=True)
    KiPhi = linalg.cho_solve(c, Phi)
    A = Phi.T @ KiPhi
    A += 1e-10 * np.trace(A) / len(A) * np.eye(len(A))
    Q = linalg.cho_solve(c, np.eye(n)) - KiPhi @ np.linalg.solve(A, KiPhi.T)
    return Q, c, Phi, A


def _solve_point(X: np.ndarray, u: np.ndarray, ls: np.ndarray, lam: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """``(X, β, α, with_trend)`` of one grid point: ``û(x) = φ(x)β + k(x, X)α``."""
    Q, c, Phi, A = _q_matrix(X, ls, lam)
    beta = np.linalg.solve(A, Phi.T @ linalg.cho_solve(c, u))
    alpha = Q @ u
    return X, beta, alpha, Phi.shape[1] > 1


def _loo_residuals(X: np.ndarray, U: np.ndarray, ls: np.ndarray, lam: float) -> np.ndarray:
    """``u_ik − û_{−i}(x_i)`` for every trial and grid point, (n, K), NaN where no value."""
    out = np.full_like(U, np.nan)
    masks: dict[bytes, list[int]] = {}
    for k in range(U.shape[1]):
        masks.setdefault((~np.isnan(U[:, k])).tobytes(), []).append(k)
    for key, ks in masks.items():
        rows = np.frombuffer(key, dtype=bool)
        Q = _q_matrix(X[rows], ls, lam)[0]
        sub = U[np.ix_(rows, ks)]
        out[np.ix_(rows, ks)] = (Q @ sub) / np.diag(Q)[:, None]
    return out


def _best_theta(X: np.ndarray, U: np.ndarray) -> np.ndarray:
    """Log length scales and log noise minimising the standardised leave-one-out error."""
    p = X.shape[1]
    scale = np.nanvar(U, axis=0)
    scale = np.where(scale > 0, scale, 1.0)

    def loss(theta: np.ndarray) -> float:
        try:
            r = _loo_residuals(X, U, np.exp(theta[:-1]), float(np.exp(theta[-1])))
        except (np.linalg.LinAlgError, ValueError):
            return 1e12
        return float(np.nanmean(r * r / scale))

    bounds = [_LOG_BOUNDS[0]] * p + [_LOG_BOUNDS[1]]
    best = None
    for ls0, lam0 in ((math.sqrt(p), 0.1), (3.0 * math.sqrt(p), 1.0)):
        x0 = np.array([math.log(ls0)] * p + [math.log(lam0)])
        sol = optimize.minimize(loss, x0, method="L-BFGS-B", bounds=bounds,
                                options={"maxiter": 200})
        if best is None or sol.fun < best.fun:
            best = sol
    assert best is not None
    return np.asarray(best.x)


def _fill_rows(R: np.ndarray) -> np.ndarray:
    """Each row's gaps filled from its nearest value (a partial curve's residual is held)."""
    out = R.copy()
    idx = np.arange(R.shape[1])
    for i in range(len(R)):
        ok = ~np.isnan(R[i])
        out[i] = np.interp(idx, idx[ok], R[i, ok]) if ok.any() else 0.0
    return out


def _cv(model: CurveModel, U: np.ndarray, loo: np.ndarray, lin: np.ndarray) -> CurveCV:
    sign = 1.0 if model.direction == "minimize" else -1.0
    back = model._back
    rho: list[float | None] = []
    counts = np.zeros((2, 2, 2), dtype=np.int64)  # (model/trend, rule, agree/total)
    ape = []
    for k in range(U.shape[1]):
        ok = ~np.isnan(U[:, k])
        meas = back(U[ok, k])
        pred = back(U[ok, k] - loo[ok, k])
        trend = back(U[ok, k] - lin[ok, k])
        ape.append(100 * np.abs(pred - meas) / np.maximum(np.abs(meas), 1e-12))
        r = stats.spearmanr(pred, meas).statistic if ok.sum() >= 3 else np.nan
        rho.append(float(r) if np.isfinite(r) else None)
        for m, p in enumerate((pred, trend)):
            for j, keep in enumerate((0.5, 1.0 / 3.0)):
                counts[m, j] += decision_agreement(meas, p, keep=keep, sign=sign)
    share = counts[..., 0] / np.maximum(counts[..., 1], 1)
    return CurveCV(grid=model.grid, rank_corr=rho, value_mdape_pct=float(np.median(
        np.concatenate(ape))), median_rule_agreement=float(share[0, 0]),
        top_third_agreement=float(share[0, 1]), baseline_median_rule_agreement=float(
            share[1, 0]), baseline_top_third_agreement=float(share[1, 1]))


def _nan_to_none(A: np.ndarray) -> list[list[float | None]]:
    return [[None if math.isnan(v) else float(v) for v in row] for row in A]


def _none_to_nan(rows: list[list[float | None]]) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=float)
