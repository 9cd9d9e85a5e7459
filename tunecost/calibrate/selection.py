"""Choosing a target's cost-model form by k-fold cross-validation.

Every candidate form is scored by its out-of-fold median absolute percentage error on the
same shuffled folds; a form that extrapolates beyond a factor of the measured range is
dropped; the best is refitted on all trials into a :class:`TargetModel`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tunecost._rng import as_generator
from tunecost.calibrate.cost_models import FORMS, FitContext
from tunecost.calibrate.target_model import TargetModel
from tunecost.exceptions import ConfigError


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
    gen = as_generator(0)
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
