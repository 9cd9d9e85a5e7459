"""What one measured trial costs on average, in every unit the expected-best axes use."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tunecost.calibrate import TrialRecord
from tunecost.units import J_PER_KWH, S_PER_H

__all__ = ["per_trial_costs"]


def per_trial_costs(records: Sequence[TrialRecord], campaign: Any) -> dict[str, float]:
    """Mean cost of one measured trial in every unit, at the campaign's PUE, grid and prices.

    Args:
        records: the measured trials; only COMPLETE ones with a value count.
        campaign: the resolved campaign (its first study's accelerators per trial and rental
            rate, its PUE, grid intensity and electricity price), or ``None``: one
            accelerator, PUE 1, no CO2e or dollars.

    Returns:
        ``n_trials`` (1), ``gpu_hours`` (accelerator-hours), and where the trials measured
        energy ``energy_kwh`` (facility kWh), then with a campaign ``co2e_kg`` and ``usd``
        (the rental rate, else the electricity price, where the campaign has one).
    """
    done = [r for r in records if r.state == "COMPLETE" and r.value is not None]
    out: dict[str, float] = {"n_trials": 1.0}
    gpus = campaign.studies[0].gpus if campaign is not None else 1
    gpu_h = float(np.mean([r.duration_s for r in done])) / S_PER_H * gpus
    out["gpu_hours"] = gpu_h
    joules = [
        (r.energy_j or 0.0) + (r.cpu_energy_j or 0.0) + (r.dram_energy_j or 0.0) for r in done
    ]
    if not any(r.energy_j is not None or r.cpu_energy_j is not None for r in done):
        return out
    pue = campaign.pue if campaign is not None else 1.0
    kwh = float(np.mean(joules)) / J_PER_KWH * pue
    out["energy_kwh"] = kwh
    if campaign is None:
        return out
    out["co2e_kg"] = kwh * campaign.g_co2e_per_kwh / 1000.0
    rate = campaign.studies[0].usd_per_accelerator_hour
    if not math.isnan(rate):
        out["usd"] = gpu_h * rate
    elif not math.isnan(campaign.usd_per_kwh):
        out["usd"] = kwh * campaign.usd_per_kwh
    return out
