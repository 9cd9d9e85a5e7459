"""The forecast's accounting: a study's totals from its trials' device-hours and energy.

One rule for what has been spent and what a replay forecasts: a trial costs its measured
energy (what tunecost's meter read: the calibration's energy scope, plus ``host_power_w``
over its duration) times the PUE, its device-hours, and what those cost through
:mod:`tunecost.accounting`. Time between trials is in the wall clock, not in the energy: no
meter reads it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tunecost import accounting
from tunecost.calibrate.energy_targets import trial_energy_j
from tunecost.calibrate.records import TrialRecord
from tunecost.live.settings import ForecastSettings
from tunecost.units import J_PER_KWH, S_PER_H

__all__ = ["energy_scope", "priced", "spent"]


def energy_scope(records: Sequence[TrialRecord]) -> str:
    """Which energy a study's meter read: the accelerator's where any trial has it, else the
    host's (the calibration's rule, :mod:`tunecost.calibrate.energy_targets`, for a few
    trials)."""
    return "accelerator" if any(r.energy_j is not None for r in records) else "host"


def priced(totals: dict[str, np.ndarray], settings: ForecastSettings) -> dict[str, np.ndarray]:
    """``totals`` with ``co2e_kg`` and ``usd`` added from its ``energy_kwh`` and
    ``device_hours`` where the settings give an intensity and a price."""
    out = dict(totals)
    if settings.g_co2e_per_kwh is not None:
        out["co2e_kg"] = np.asarray(accounting.co2e_kg(out["energy_kwh"],
                                                       settings.g_co2e_per_kwh))
    usd = None
    if settings.usd_per_device_hour is not None:
        usd = np.asarray(accounting.cloud_cost_usd(out["device_hours"],
                                                   settings.usd_per_device_hour))
    if settings.usd_per_kwh is not None:
        power = np.asarray(accounting.electricity_cost_usd(out["energy_kwh"],
                                                           settings.usd_per_kwh))
        usd = power if usd is None else usd + power
    if usd is not None:
        out["usd"] = usd
    return out


def spent(records: Sequence[TrialRecord], settings: ForecastSettings, *, elapsed_s: float,
          scope: str | None = None) -> tuple[dict[str, float], int]:
    """What the finished trials cost.

    Args:
        records: finished trials (a FAIL trial's cost is as real as any).
        settings: PUE, host power, prices.
        elapsed_s: the study's wall clock so far, s.
        scope: ``accelerator`` or ``host`` (default: :func:`energy_scope`).

    Returns:
        The totals (``trials``, ``device_hours``, ``wall_clock_h``, ``energy_kwh``, and
        ``co2e_kg``/``usd`` where priced), and how many trials had no energy reading (they
        count 0 J: wrap the objective in ``tunecost.calibrate.measured``).
    """
    scope = scope or energy_scope(records)
    joules = [trial_energy_j(r, scope) for r in records]
    unmeasured = sum(j is None for j in joules)
    duration_s = float(sum(r.duration_s for r in records))
    it_kwh = (sum(j for j in joules if j is not None)
              + settings.host_power_w * duration_s) / J_PER_KWH
    totals = {
        "trials": np.asarray(float(len(records))),
        "device_hours": np.asarray(duration_s / S_PER_H),
        "wall_clock_h": np.asarray(elapsed_s / S_PER_H),
        "energy_kwh": np.asarray(accounting.facility_energy_kwh(it_kwh, pue=settings.pue)),
    }
    return {k: float(v) for k, v in priced(totals, settings).items()}, unmeasured
