"""The one accounting step: what a schedule used, to kWh, CO2e and dollars.

Both schedulers (the vectorised list scheduler and the event engine) reduce their intervals
to a :class:`Usage`: per study and replicate, the hours and the IT energy of running,
waiting and framework overhead, before PUE, grid intensity and prices. :func:`totals` turns
it into the campaign's metrics through :mod:`tunecost.accounting`, the only place PUE, CO2e
and dollars are applied, so the engines cannot drift apart in their arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tunecost import accounting
from tunecost.exceptions import ConfigError
from tunecost.simulate._resolve import ResolvedCampaign
from tunecost.units import W_PER_KW

__all__ = ["METRICS", "STUDY_METRICS", "Totals", "Usage", "dollars", "energy_weighted_intensity",
           "totals"]

METRICS = (
    "n_trials",
    "gpu_hours",
    "wall_clock_h",
    "energy_kwh",
    "co2e_kg",
    "cost_usd",
    "electricity_usd",
    "waiting_energy_kwh",
)
"""Campaign metrics of every engine, each ``(m,)`` per chunk of ``m`` replicates; the event
engine adds ``overhead_energy_kwh``."""

STUDY_METRICS = tuple(k for k in METRICS if k != "wall_clock_h")
"""Metrics reported per study (a study has no wall clock of its own)."""


@dataclass(slots=True)
class Usage:
    """What ``m`` replicates of a campaign used, per study ``(S, m)`` or replicate ``(m,)``.

    Attributes:
        n_trials: trials started.
        busy_h: slot-hours running trials (one slot is ``gpus`` accelerators).
        busy_it_kwh: IT energy of running, kWh (before PUE).
        waiting_it_kwh: IT energy of slots held at synchronisation points, kWh; NaN where a
            study waits on hardware whose idle power is unknown.
        paid_h: slot-hours rented: running, waiting and overhead.
        wall_clock_h: makespan, ``(m,)``.
        unused_slot_h: slot-hours of the pool spent neither running nor waiting, ``(m,)``:
            what a reserved pool still powers and pays.
        overhead_it_kwh: IT energy of the framework's work between trials, kWh, or ``None``
            where the engine does not model it.
        g_co2e_per_kwh: the energy-weighted grid intensity each study ran at, g/kWh, from an
            hourly series; ``None``: the campaign's constant intensity.
    """

    n_trials: np.ndarray
    busy_h: np.ndarray
    busy_it_kwh: np.ndarray
    waiting_it_kwh: np.ndarray
    paid_h: np.ndarray
    wall_clock_h: np.ndarray
    unused_slot_h: np.ndarray
    overhead_it_kwh: np.ndarray | None = None
    g_co2e_per_kwh: np.ndarray | None = None


@dataclass(slots=True)
class Totals:
    """Metrics of ``m`` replicates: campaign-wide ``(m,)`` and per study ``(S, m)``."""

    campaign: dict[str, np.ndarray]
    studies: dict[str, np.ndarray]


def energy_weighted_intensity(
    campaign: ResolvedCampaign, it_kwh: np.ndarray, grid_g: np.ndarray
) -> np.ndarray:
    """Each study's grid intensity over its intervals, weighted by their energy, g/kWh:
    ``Σ kW × ∫ intensity dt`` (``grid_g``) over ``Σ kWh`` (``it_kwh``), both ``(S, m)``; the
    campaign's mean intensity where a study used no energy. Both schedulers fill
    :attr:`Usage.g_co2e_per_kwh` with it under an hourly series."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(it_kwh > 0, grid_g / it_kwh, campaign.g_co2e_per_kwh)


def dollars(hours: np.ndarray, rate: np.ndarray | float) -> np.ndarray:
    """Cloud dollars ``hours × rate`` through :func:`tunecost.accounting.cloud_cost_usd`,
    NaN where there is no price (``rate`` NaN: no pricing); broadcasts."""
    rate = np.asarray(rate, dtype=np.float64)
    priced = ~np.isnan(rate)
    if priced.all():
        return np.asarray(accounting.cloud_cost_usd(hours, rate))
    out = np.full(np.broadcast_shapes(np.shape(hours), rate.shape), np.nan)
    if priced.any():
        safe = np.where(priced, rate, 0.0)
        out = np.where(priced, accounting.cloud_cost_usd(hours, safe), np.nan)
    return out


def _electricity(energy_kwh: np.ndarray, usd_per_kwh: float) -> np.ndarray:
    if np.isnan(usd_per_kwh):
        return np.full_like(energy_kwh, np.nan)
    return np.asarray(accounting.electricity_cost_usd(energy_kwh, usd_per_kwh))


def _check_idle_power(campaign: ResolvedCampaign, usage: Usage) -> None:
    bad = np.isnan(usage.waiting_it_kwh).any(axis=1)
    if bad.any():
        study = campaign.studies[int(np.argmax(bad))]
        raise ConfigError(
            f"study {study.name!r} waits at synchronisation points, but the catalog has no idle "
            f"power for {study.accelerators[0]!r}; set power.idle_w"
        )


def totals(campaign: ResolvedCampaign, usage: Usage) -> Totals:
    """The campaign's metrics from what its schedule used.

    - energy: IT energy (running + waiting + overhead) × PUE;
    - CO2e: energy × grid intensity (the study's energy-weighted one under an hourly series);
    - cloud dollars: rented slot-hours × GPUs per slot × rate; a reserved pool pays every slot
      for the whole wall clock instead, and powers its unused slots at idle;
    - electricity dollars: energy × price.

    Raises:
        ConfigError: a study waits, or a reserved pool idles, on hardware without a known
            idle power.
    """
    _check_idle_power(campaign, usage)
    pue = campaign.pue
    n_studies = len(campaign.studies)
    m = usage.wall_clock_h.shape[0]
    gpus = np.array([s.gpus for s in campaign.studies], dtype=np.float64)[:, None]
    rate = np.array([s.usd_per_accelerator_hour for s in campaign.studies])[:, None]
    g = (
        usage.g_co2e_per_kwh
        if usage.g_co2e_per_kwh is not None
        else np.full((n_studies, m), campaign.g_co2e_per_kwh)
    )
    overhead_it = (
        usage.overhead_it_kwh if usage.overhead_it_kwh is not None else np.zeros((n_studies, m))
    )
    waiting_kwh = np.asarray(accounting.facility_energy_kwh(usage.waiting_it_kwh, pue=pue))
    energy = np.asarray(accounting.facility_energy_kwh(
        usage.busy_it_kwh + usage.waiting_it_kwh + overhead_it, pue=pue))
    per = {
        "n_trials": usage.n_trials.astype(np.float64),
        "gpu_hours": usage.busy_h * gpus,
        "energy_kwh": energy,
        "waiting_energy_kwh": waiting_kwh,
        "co2e_kg": np.asarray(accounting.co2e_kg(energy, g)),
        "cost_usd": dollars(usage.paid_h * gpus, rate),
        "electricity_usd": _electricity(energy, campaign.usd_per_kwh),
    }
    if usage.overhead_it_kwh is not None:
        per["overhead_energy_kwh"] = np.asarray(
            accounting.facility_energy_kwh(usage.overhead_it_kwh, pue=pue))

    reserved_kwh = np.zeros(m)
    cost = per["cost_usd"].sum(axis=0)
    if campaign.config.reserved:
        study = campaign.studies[0]  # a reserved pool is one accelerator model (config rule)
        if np.isnan(study.idle_kw[0]):
            raise ConfigError(
                f"a reserved pool draws idle power, but the catalog has none for "
                f"{study.accelerators[0]!r}; set power.idle_w"
            )
        reserved_kwh = np.asarray(accounting.energy_kwh(
            usage.unused_slot_h, study.idle_kw[0] * W_PER_KW, pue=pue))
        cost = dollars(campaign.config.workers * study.gpus * usage.wall_clock_h,
                        study.usd_per_accelerator_hour)
    energy_total = per["energy_kwh"].sum(axis=0) + reserved_kwh
    campaign_totals = {
        "n_trials": per["n_trials"].sum(axis=0),
        "gpu_hours": per["gpu_hours"].sum(axis=0),
        "wall_clock_h": usage.wall_clock_h,
        "energy_kwh": energy_total,
        "co2e_kg": per["co2e_kg"].sum(axis=0)
        + np.asarray(accounting.co2e_kg(reserved_kwh, campaign.g_co2e_per_kwh)),
        "cost_usd": cost,
        "electricity_usd": _electricity(energy_total, campaign.usd_per_kwh),
        "waiting_energy_kwh": per["waiting_energy_kwh"].sum(axis=0) + reserved_kwh,
    }
    if "overhead_energy_kwh" in per:
        campaign_totals["overhead_energy_kwh"] = per["overhead_energy_kwh"].sum(axis=0)
    return Totals(campaign_totals, per)
