"""Feature encoding: how trials' hyperparameters become the cost models' design matrix.

Numeric parameters are standardised (wide positive ones in log), categorical ones one-hot;
a conditional parameter's columns are 0 where it is inactive, plus a branch indicator where
the parent's one-hot does not already give one. The design matrix has shape ``S + (p,)`` for
parameter arrays of shape ``S``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from tunecost.calibrate.records import TrialRecord
from tunecost.calibrate.space import (
    Category,
    ParamSpace,
    _equals,
    _is_category,
    _shape_of,
    active_masks,
)
from tunecost.exceptions import ConfigError

__all__ = ["REACHED_PARAM", "FeatureSpec"]

# A positive numeric parameter whose observed range spans more than this factor enters the
# cost model in log: costs of neural-network training scale as powers of sizes and counts.
_LOG_FEATURE_RATIO = 3.0

REACHED_PARAM = "tunecost:reached"
"""Design column of a trial's reached share of its budget, ``(last step + offset) / (budget
+ offset)`` (1 for a complete trial), for studies whose budget is not a hyperparameter: a
pruned trial is fitted as the part of a full run it did. Predictions without it are of full
runs."""


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


def _union_names(records: Sequence[Any]) -> list[str]:
    """Parameter names of ``records`` (TrialRecords or param dicts), in first-seen order."""
    names: dict[str, None] = {}
    for r in records:
        names.update(dict.fromkeys(r.params if isinstance(r, TrialRecord) else r))
    return list(names)


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
