"""Inferring the search space a study sampled from its measured trials.

Types, ranges, log scale and integer step from the values seen; the condition of each
parameter absent from some trials from the categorical parameter that tells where it is
present.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from tunecost.calibrate.features import _param_columns, _union_names
from tunecost.calibrate.records import TrialRecord
from tunecost.calibrate.space import ParamCondition, ParamSpace, _is_category, active_masks
from tunecost.exceptions import ConfigError

__all__ = ["check_records", "infer_space"]


def _ks_uniform(x: np.ndarray) -> float:
    lo, hi = x.min(), x.max()
    return float(stats.kstest((x - lo) / (hi - lo), "uniform").statistic)


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
