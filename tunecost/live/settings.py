"""What a forecast needs besides the study: its size, the pool, the prices, how hard to look."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tunecost.carbon import MAX_G_CO2E_PER_KWH

__all__ = ["ForecastSettings", "Metric", "METRICS"]

Metric = Literal["trials", "device_hours", "wall_clock_h", "energy_kwh", "co2e_kg", "usd"]
METRICS: tuple[str, ...] = ("trials", "device_hours", "wall_clock_h", "energy_kwh", "co2e_kg",
                            "usd")
"""The totals a forecast gives, spent so far and at the end (``co2e_kg`` needs an intensity,
``usd`` a price)."""


class ForecastSettings(BaseModel):
    """How to forecast a study's final totals.

    Attributes:
        n_trials: trials the study will run in all (finished ones included), >= 1.
        workers: trials that run at once; ``None``: the most that overlapped so far.
        accelerator: catalog name of what a trial runs on (default: the trials' own
            ``accelerator``, else ``cpu``).
        host_power_w: CPU + DRAM power of a trial's machine share besides what the meter
            measured, W (0: the meter's reading is the trial's energy).
        pue: facility overhead on the measured IT energy, >= 1.
        g_co2e_per_kwh: grid intensity, g/kWh; ``None``: no kgCO2e totals.
        usd_per_kwh: electricity price, $/kWh; usd_per_device_hour: rental price of one
            trial's device per hour; ``usd`` is the priced parts' sum (``None`` unpriced).
        prior: a calibration file to forecast from until the study has ``min_trials``
            measured trials (or when refitting on them fails).
        calibration: ``auto``: the prior until the study has ``min_trials`` measured
            trials, then a refit on them; ``prior``: always the prior.
        min_trials: measured finished trials needed to recalibrate on the study itself
            (default: 16 with a prior, 8 without: in ``benchmarks/bench_forecast.py`` refits
            on 10 trials forecast the fidelity studies' final energy worse than their prior,
            a median error of 43 % against 15 %, refits on 20 better, 7 % against 9 %;
            without a prior a rough refit beats no forecast).
        replicates: replays of the remaining trials (each with its own sampler seed, costs
            and curves).
        horizon: trials each replay asks of the real sampler; later ones repeat its own
            proposals (bounds the cost: TPE's asks grow with the study); ``None``: all.
        space: the search space as a config's ``calibration.search_space`` (``{"lr": {"type":
            "float", "low": 1e-4, "high": 1e-2, "log": true}}``), for records (a live Optuna
            study's distributions give it); ``None``: inferred from the trials so far.
        strategy: the remaining trials' search as a config ``strategy`` (``{"kind":
            "ray_tune", "scheduler": {...}}``) when the study is given as records; a live
            Optuna study brings its own sampler and pruner.
        seed: the forecast's seed (the same seed and study give the same forecast).
        backend: where replicates run (``"local"``: this process, what a callback wants).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_trials: int = Field(ge=1, le=10_000_000)
    workers: int | None = Field(default=None, ge=1, le=1_000_000)
    accelerator: str | None = None
    host_power_w: float = Field(default=0.0, ge=0, le=100_000)
    pue: float = Field(default=1.0, ge=1, le=10)
    g_co2e_per_kwh: float | None = Field(default=None, ge=0, le=MAX_G_CO2E_PER_KWH)
    usd_per_kwh: float | None = Field(default=None, gt=0, le=100)
    usd_per_device_hour: float | None = Field(default=None, gt=0, le=10_000)
    prior: Path | None = None
    calibration: Literal["auto", "prior"] = "auto"
    min_trials: int | None = Field(default=None, ge=4, le=100_000)
    replicates: int = Field(default=32, ge=1, le=100_000)
    horizon: int | None = Field(default=50, ge=0, le=10_000_000)
    space: dict[str, dict[str, Any]] | None = None
    strategy: dict[str, Any] | None = None
    seed: int = Field(default=0, ge=0, lt=2**63)
    backend: str = "local"

    @property
    def trials_to_refit(self) -> int:
        """:attr:`min_trials`, or its default (16 with a prior, 8 without)."""
        if self.min_trials is not None:
            return self.min_trials
        return 16 if self.prior is not None else 8
