"""The learning-curve summary: how well early reports rank trials against their final values.

:class:`LearningCurve` summarises a study's curves on a common fidelity grid; the model that
draws curves for a replay is :class:`~tunecost.calibrate.curves.CurveModel`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict
from scipy import stats

from tunecost.calibrate.records import TrialRecord

__all__ = ["LearningCurve"]


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
