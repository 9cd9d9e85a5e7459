"""Grid carbon intensity over a simulated schedule: a constant, or a time series.

A constant intensity turns energy into CO2e by one multiplication. A time series (hourly
g/kWh, repeated with its period, e.g. a 24-hour profile) is integrated exactly over each
job's ``[start, end)`` interval, so a campaign that runs at night is charged the night's
intensity. Power is constant within a job, so ``co2e = power × ∫ intensity dt``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tunecost.exceptions import ConfigError

__all__ = ["IntensitySeries", "load_intensity_series"]


@dataclass(frozen=True, slots=True)
class IntensitySeries:
    """Piecewise-constant intensity, repeated every ``period_h``.

    Attributes:
        g_co2e_per_kwh: intensity of each step, shape ``(n,)``.
        step_h: length of each step, hours.
    """

    g_co2e_per_kwh: np.ndarray
    step_h: float = 1.0
    _cum: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        values = np.asarray(self.g_co2e_per_kwh, dtype=np.float64)
        if values.ndim != 1 or values.size == 0:
            raise ConfigError(
                f"an intensity series needs at least one value, got shape {values.shape}"
            )
        if not (values >= 0).all():
            raise ConfigError("`g_co2e_per_kwh >= 0` must hold for every step of the series")
        if not self.step_h > 0:
            raise ConfigError(f"`step_h > 0` must hold, but got step_h={self.step_h}")
        object.__setattr__(self, "g_co2e_per_kwh", values)
        object.__setattr__(self, "_cum", np.concatenate([[0.0], np.cumsum(values) * self.step_h]))

    @property
    def period_h(self) -> float:
        """Length of one period, hours."""
        return self.g_co2e_per_kwh.size * self.step_h

    @property
    def mean_g_co2e_per_kwh(self) -> float:
        """Time-average intensity over one period."""
        return float(self.g_co2e_per_kwh.mean())

    def _integral_from_zero(self, t_h: np.ndarray) -> np.ndarray:
        periods, rest = np.divmod(t_h, self.period_h)
        grid = np.arange(self._cum.size) * self.step_h
        return periods * self._cum[-1] + np.interp(rest, grid, self._cum)

    def integral(self, start_h: np.ndarray, end_h: np.ndarray) -> np.ndarray:
        """∫ intensity dt over ``[start_h, end_h]``, g·h/kWh; broadcasts like numpy."""
        start = np.asarray(start_h, dtype=np.float64)
        end = np.asarray(end_h, dtype=np.float64)
        return self._integral_from_zero(end) - self._integral_from_zero(start)


def load_intensity_series(path: str | Path, *, step_h: float = 1.0) -> IntensitySeries:
    """Read a CSV with a ``g_co2e_per_kwh`` column (one row per step) into a series."""
    path = Path(path)
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or "g_co2e_per_kwh" not in reader.fieldnames:
            raise ConfigError(f"{path}: needs a 'g_co2e_per_kwh' column, got {reader.fieldnames}")
        try:
            values = [float(row["g_co2e_per_kwh"]) for row in reader]
        except ValueError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    return IntensitySeries(np.array(values), step_h=step_h)
