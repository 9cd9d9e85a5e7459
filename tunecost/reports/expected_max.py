"""Expected best score as a function of budget: what the next bit of validation loss costs.

Given the N scores of a random search, the expected best of n <= N new trials:

* **Dodge et al. 2019** ("Show Your Work"): n i.i.d. draws from the empirical distribution.
  With the scores sorted ``v_(1) <= ... <= v_(N)``,
  ``E[max_n] = Σ_i v_(i) [(i/N)^n − ((i−1)/N)^n]``. It is biased: at n = N it is below
  the sample maximum it should match in expectation (draws with replacement repeat scores).
* **Tang et al. 2020** ("Showing Your Work Doesn't Always Work"): the unbiased estimator, the
  mean of the maximum over all n-subsets of the sample (a U-statistic),
  ``E[max_n] = Σ_j v_(j) C(j−1, n−1) / C(N, n)`` (castorini/meanmax,
  ``CorrectedMeanMaxEstimator``); at n = N it is the sample maximum.

For a loss (minimised) both are mirrored: ``E[min_n](v) = −E[max_n](−v)``. Bands are percentile
bootstrap intervals (resampling the N scores). Both estimators assume i.i.d. trials, i.e.
random search; for other strategies they are an approximation (Dodge et al. say so too).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import gammaln

from tunecost._rng import RngLike, as_generator
from tunecost.exceptions import ConfigError

__all__ = [
    "ESTIMATORS",
    "ExpectedBest",
    "expected_best_curve",
    "expected_max_dodge",
    "expected_max_unbiased",
]


def _check(values: np.ndarray) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0 or not np.isfinite(v).all():
        raise ConfigError(f"scores must be a non-empty array of finite numbers, got {v!r}")
    return np.sort(v)


def _budgets(n: int | np.ndarray | None, N: int) -> np.ndarray:
    ns = np.arange(1, N + 1) if n is None else np.atleast_1d(np.asarray(n, dtype=np.int64))
    if ns.min() < 1:
        raise ConfigError(f"budgets must be >= 1, got {ns.min()}")
    return ns


def expected_max_dodge(
    values: np.ndarray, n: int | np.ndarray | None = None, *, maximize: bool = True
) -> np.ndarray:
    """Dodge et al. 2019: expected best of ``n`` i.i.d. draws from the empirical distribution.

    Args:
        values: the N observed scores (any order).
        n: budgets (default ``1..N``); any n >= 1 is defined, though only n <= N is supported
            by the data.
        maximize: ``False`` for a loss: the expected *minimum*.

    Returns:
        One expected best score per budget.

    Example:
        >>> float(expected_max_dodge([1.0, 2.0, 3.0, 4.0], 2)[0])   # Σ i (2i − 1) / 16
        3.125
    """
    v = _check(values if maximize else -np.asarray(values, dtype=np.float64))
    N = v.size
    ns = _budgets(n, N)
    i = np.arange(1, N + 1)
    cdf = (i[None, :] / N) ** ns[:, None]
    prev = ((i[None, :] - 1) / N) ** ns[:, None]
    out = ((cdf - prev) * v[None, :]).sum(axis=1)
    return out if maximize else -out


def expected_max_unbiased(
    values: np.ndarray, n: int | np.ndarray | None = None, *, maximize: bool = True
) -> np.ndarray:
    """Tang et al. 2020: unbiased expected best of ``n <= N`` trials.

    The mean of the best score over all ``C(N, n)`` subsets of size ``n``:
    ``Σ_j v_(j) C(j−1, n−1) / C(N, n)``.

    Example:
        >>> round(float(expected_max_unbiased([1.0, 2.0, 3.0, 4.0], 2)[0]), 12)   # 20 / 6
        3.333333333333
    """
    v = _check(values if maximize else -np.asarray(values, dtype=np.float64))
    N = v.size
    ns = _budgets(n, N)
    if ns.max() > N:
        raise ConfigError(f"the unbiased estimator needs n <= N = {N}, got n = {ns.max()}")
    j = np.arange(1, N + 1)[None, :]
    nn = ns[:, None]
    ok = j >= nn
    # log C(j−1, n−1) − log C(N, n), in log space so large N does not overflow
    logw = (
        gammaln(j) - gammaln(nn) - gammaln(np.maximum(j - nn + 1, 1))
        - (gammaln(N + 1) - gammaln(nn + 1) - gammaln(N - nn + 1))
    )
    w = np.where(ok, np.exp(np.where(ok, logw, 0.0)), 0.0)
    w /= w.sum(axis=1, keepdims=True)  # exact weights sum to 1; this removes rounding
    out = (w * v[None, :]).sum(axis=1)
    return out if maximize else -out


ESTIMATORS = {"dodge2019": expected_max_dodge, "tang2020": expected_max_unbiased}
"""Estimator name → function."""


@dataclass(frozen=True, slots=True)
class ExpectedBest:
    """Expected best score vs budget, with bootstrap bands and the budget in cost units.

    Attributes:
        n: budgets 1..N (trials).
        curves: estimator → expected best score per budget.
        bands: estimator → ``(low, high)`` percentile bootstrap band per budget.
        cost_per_trial: unit → mean cost of one trial (``gpu_hours``, ``energy_kwh``,
            ``co2e_kg``, ``usd``); the x-axis in that unit is ``n × cost_per_trial[unit]``.
        maximize: whether higher scores are better.
        step: the score improvement priced by :meth:`cost_of_step` (0.01 by default).
    """

    n: np.ndarray
    curves: dict[str, np.ndarray]
    bands: dict[str, tuple[np.ndarray, np.ndarray]]
    cost_per_trial: dict[str, float]
    maximize: bool
    n_boot: int
    band_pct: tuple[float, float]
    step: float = 0.01
    notes: list[str] = field(default_factory=list)

    def budget_for(self, target: float, estimator: str = "tang2020") -> int | None:
        """Smallest budget whose expected best reaches ``target`` (``None``: none does)."""
        c = self.curves[estimator]
        ok = c >= target if self.maximize else c <= target
        hits = np.flatnonzero(ok)
        return int(self.n[hits[0]]) if hits.size else None

    def cost_of_step(self, estimator: str = "tang2020") -> dict[str, Any]:
        """What the last ``step`` of the score costs, within the observed budget.

        The expected best at the full budget N, ``b_N``; the smallest budget ``n`` whose
        expected best is within ``step`` of it; the extra trials ``N − n`` and their cost in
        every unit.
        """
        c = self.curves[estimator]
        best = float(c[-1])
        target = best - self.step if self.maximize else best + self.step
        n_from = self.budget_for(target, estimator)
        out: dict[str, Any] = {
            "estimator": estimator,
            "step": self.step,
            "best_at_N": best,
            "N": int(self.n[-1]),
            "from_score": target,
            "from_n": n_from,
        }
        if n_from is None:
            return out
        extra = int(self.n[-1]) - n_from
        out["extra_trials"] = extra
        out.update({f"extra_{u}": extra * c_ for u, c_ in self.cost_per_trial.items()})
        return out

    def to_rows(self) -> list[dict[str, Any]]:
        """One row per budget: the score estimates, bands and the budget in every unit."""
        rows = []
        for k, n in enumerate(self.n):
            row: dict[str, Any] = {"n_trials": int(n)}
            row.update({u: float(n * c) for u, c in self.cost_per_trial.items()})
            for name, curve in self.curves.items():
                row[name] = float(curve[k])
                row[f"{name}_low"] = float(self.bands[name][0][k])
                row[f"{name}_high"] = float(self.bands[name][1][k])
            rows.append(row)
        return rows


def expected_best_curve(
    values: np.ndarray,
    *,
    maximize: bool,
    cost_per_trial: dict[str, float] | None = None,
    n_boot: int = 1000,
    band_pct: tuple[float, float] = (5.0, 95.0),
    step: float = 0.01,
    rng: RngLike = 0,
) -> ExpectedBest:
    """Both estimators for budgets 1..N, with percentile bootstrap bands.

    Args:
        values: the N scores of the (random) search.
        maximize: higher is better (``False`` for a loss).
        cost_per_trial: unit → mean cost of one trial, for the cost axes.
        n_boot: bootstrap resamples of the N scores.
        band_pct: the band's percentiles.
        step: the score improvement to price (``cost_of_step``).
        rng: seed of the bootstrap.
    """
    v = _check(values)
    N = v.size
    gen = as_generator(rng)
    ns = np.arange(1, N + 1)
    curves = {k: f(v, ns, maximize=maximize) for k, f in ESTIMATORS.items()}
    idx = gen.integers(0, N, size=(n_boot, N))
    bands = {}
    for k, f in ESTIMATORS.items():
        boot = np.stack([f(v[row], ns, maximize=maximize) for row in idx])
        lo, hi = np.percentile(boot, band_pct, axis=0)
        bands[k] = (lo, hi)
    notes = []
    if N < 5:
        notes.append(f"only {N} scores: Dodge et al. advise reporting the raw values below 5")
    return ExpectedBest(
        ns, curves, bands, dict(cost_per_trial or {}), maximize, n_boot, band_pct, step, notes
    )
