"""The per-job ledger: replicate 0's jobs as CSV rows, the same columns for both engines.

Each job's energy, CO2e and dollars come from :mod:`tunecost.accounting` here, by the rules
of the campaign totals (:mod:`tunecost.simulate._totals`): running at the job's power,
waiting before it at the slot's idle power, × PUE; CO2e at the grid intensity of the hours it
ran; dollars for its rented slot-hours.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from tunecost import accounting
from tunecost._atomic import atomic_open
from tunecost.simulate._resolve import ResolvedCampaign
from tunecost.simulate._totals import dollars
from tunecost.units import W_PER_KW

__all__ = ["LEDGER_COLUMNS", "job_costs", "write_ledger"]

LEDGER_COLUMNS = (
    "study",
    "instance",
    "trial",
    "config",
    "fidelity",
    "state",
    "start_h",
    "duration_h",
    "wait_h",
    "worker",
    "accelerator",
    "gpus",
    "preemptions",
    "energy_kwh",
    "co2e_kg",
    "cost_usd",
)


def job_costs(
    campaign: ResolvedCampaign,
    study: np.ndarray,
    start_h: np.ndarray,
    duration_h: np.ndarray,
    wait_h: np.ndarray,
    busy_kw: np.ndarray,
    idle_kw: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Energy (kWh), CO2e (kg) and cloud dollars (NaN unpriced) of each job, ``(J,)`` each.

    Args:
        study: each job's study index, ``(J,)``.
        start_h: when it started running, hours since the campaign began.
        duration_h: how long it ran; ``wait_h``: how long its slot waited before it.
        busy_kw, idle_kw: IT power while running and while waiting, kW (idle may be NaN
            where the job never waited).
    """
    pue = campaign.pue
    waited = wait_h > 0
    idle_kw = np.where(waited, idle_kw, 0.0)
    energy = np.asarray(
        accounting.energy_kwh(duration_h, busy_kw * W_PER_KW, pue=pue)
        + accounting.energy_kwh(wait_h, idle_kw * W_PER_KW, pue=pue)
    )
    if campaign.series is None:
        co2 = np.asarray(accounting.co2e_kg(energy, campaign.g_co2e_per_kwh))
    else:  # the intensity of the hours each job ran and waited
        series = campaign.series
        co2 = np.asarray(
            accounting.co2e_kg_integrated(
                busy_kw * W_PER_KW, series.integral(start_h, start_h + duration_h), pue=pue)
            + accounting.co2e_kg_integrated(
                idle_kw * W_PER_KW, series.integral(start_h - wait_h, start_h), pue=pue)
        )
    gpus = np.array([s.gpus for s in campaign.studies], dtype=np.float64)[study]
    rate = np.array([s.usd_per_accelerator_hour for s in campaign.studies])[study]
    return energy, co2, dollars((duration_h + wait_h) * gpus, rate)


def _cell(value: object) -> str:
    if isinstance(value, float | np.floating):
        return "" if np.isnan(value) else f"{value:.6g}"
    return str(value)


def write_ledger(path: str | Path, rows: Iterable[Sequence[object]]) -> None:
    """Write :data:`LEDGER_COLUMNS` and ``rows`` via a temporary file and an atomic rename.

    Rows hold the columns in order; times are written with 6 decimals (``start_h``,
    ``duration_h``, ``wait_h``; pass them pre-formatted), other floats with 6 significant
    digits, NaN as an empty cell.
    """
    with atomic_open(Path(path), newline="") as fh:
        w = csv.writer(fh)
        w.writerow(LEDGER_COLUMNS)
        for row in rows:
            w.writerow([_cell(v) for v in row])
