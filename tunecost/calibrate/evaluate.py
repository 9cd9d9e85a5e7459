"""Scoring a calibration on other measured trials: per-trial predictions and % errors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tunecost.calibrate.calibration import Calibration
from tunecost.calibrate.energy_targets import trial_energy_j
from tunecost.calibrate.features import _param_columns, _union_names
from tunecost.calibrate.records import TrialRecord
from tunecost.calibrate.selection import _ape_pct
from tunecost.exceptions import ConfigError

__all__ = ["evaluate_on"]


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
    e_meas_list = [trial_energy_j(r, calibration.energy_scope) for r in recs]
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
