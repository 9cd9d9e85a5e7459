"""Grid carbon intensity over a simulated schedule: a constant, or a time series.

A constant intensity turns energy into CO2e by one multiplication. A time series (g/kWh,
repeated with its period, e.g. a 24-hour profile) is integrated exactly over each job's
``[start, end)`` interval, so a campaign that runs at night is charged the night's intensity.
Power is constant within a job, so ``co2e = power × ∫ intensity dt``.

The series is a step function. Row ``i`` holds from its start until the next row's start:
with an ``hour`` column, rows at hours 0, 1 and 12 hold for 1, 11 and ``step_h`` hours (a gap
holds the last value before it, as a meter that reports only changes); without one, rows are
``step_h`` apart. The last row holds ``step_h`` hours, and the period is its end.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tunecost._text import read_user_text
from tunecost.exceptions import ConfigError

__all__ = ["MAX_G_CO2E_PER_KWH", "MAX_SERIES_HOUR", "IntensitySeries", "load_intensity_series"]

MAX_G_CO2E_PER_KWH = 10_000.0
"""Largest grid intensity accepted, g/kWh: the dirtiest grids (lignite) are about 1,200;
beyond is a unit mistake (mg? per MWh?), and products with it leave float64."""

MAX_SERIES_HOUR = 1e6
"""Largest ``hour`` of a series row (114 years)."""


@dataclass(frozen=True, slots=True)
class IntensitySeries:
    """Piecewise-constant intensity, repeated every ``period_h``.

    Attributes:
        g_co2e_per_kwh: intensity of each step, shape ``(n,)``, each >= 0 and finite.
        step_h: length of each step, hours; with ``starts_h``, the last step's length.
        starts_h: start of each step, hours since the series began, shape ``(n,)``, starting
            at 0 and strictly increasing; ``None``: ``step_h`` apart.

    Example:
        >>> s = IntensitySeries(np.array([100.0, 300.0, 50.0]), starts_h=np.array([0, 1, 12]))
        >>> s.period_h, float(s.integral(0.0, 12.0))   # 1 h at 100 + 11 h at 300
        (13.0, 3400.0)
    """

    g_co2e_per_kwh: np.ndarray
    step_h: float = 1.0
    starts_h: np.ndarray | None = None
    _edges: np.ndarray = field(init=False, repr=False)
    _cum: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        values = np.asarray(self.g_co2e_per_kwh, dtype=np.float64)
        if values.ndim != 1 or values.size == 0:
            raise ConfigError(
                f"an intensity series needs at least one value, got shape {values.shape}"
            )
        ok = np.isfinite(values) & (values >= 0) & (values <= MAX_G_CO2E_PER_KWH)
        if not ok.all():
            i = int(np.flatnonzero(~ok)[0])
            raise ConfigError(
                f"`0 <= g_co2e_per_kwh <= {MAX_G_CO2E_PER_KWH:,.0f}` must hold for every step of "
                f"the series, but got {values[i]} at step {i}"
            )
        if not 0 < self.step_h < math.inf:
            raise ConfigError(f"`0 < step_h < inf` must hold, but got step_h={self.step_h}")
        if self.starts_h is None:
            edges = np.arange(values.size + 1) * float(self.step_h)
        else:
            starts = np.asarray(self.starts_h, dtype=np.float64)
            if starts.shape != values.shape:
                raise ConfigError(
                    f"`starts_h` needs one start per value, got {starts.shape} for {values.shape}"
                )
            if not np.isfinite(starts).all() or starts[0] != 0 or (np.diff(starts) <= 0).any():
                raise ConfigError(
                    "the hours of an intensity series must start at 0 and increase strictly, "
                    f"but got {starts.tolist()[:8]}{' ...' if starts.size > 8 else ''}"
                )
            edges = np.concatenate([starts, [starts[-1] + float(self.step_h)]])
        object.__setattr__(self, "g_co2e_per_kwh", values)
        object.__setattr__(self, "_edges", edges)
        cum = np.concatenate([[0.0], np.cumsum(values * np.diff(edges))])
        object.__setattr__(self, "_cum", cum)

    @property
    def period_h(self) -> float:
        """Length of one period, hours."""
        return float(self._edges[-1])

    @property
    def mean_g_co2e_per_kwh(self) -> float:
        """Time-average intensity over one period."""
        return float(self._cum[-1] / self.period_h)

    def _integral_from_zero(self, t_h: np.ndarray) -> np.ndarray:
        periods, rest = np.divmod(t_h, self.period_h)
        return periods * self._cum[-1] + np.interp(rest, self._edges, self._cum)

    def integral(self, start_h: np.ndarray, end_h: np.ndarray) -> np.ndarray:
        """∫ intensity dt over ``[start_h, end_h]``, g·h/kWh; broadcasts like numpy."""
        start = np.asarray(start_h, dtype=np.float64)
        end = np.asarray(end_h, dtype=np.float64)
        return self._integral_from_zero(end) - self._integral_from_zero(start)


def _number(path: Path, line: int, column: str, text: str | None) -> float:
    if text is None or not text.strip():
        raise ConfigError(f"{path}, line {line}: {column!r} is missing (a short row?)")
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(
            f"{path}, line {line}: {column!r} must be a number, but got {text!r}"
        ) from None
    if not math.isfinite(value):
        raise ConfigError(f"{path}, line {line}: {column!r} must be finite, but got {text!r}")
    return value


def load_intensity_series(path: str | Path, *, step_h: float = 1.0) -> IntensitySeries:
    """Read a CSV with a ``g_co2e_per_kwh`` column (one row per step) into a series.

    An optional ``hour`` column gives each row's start, hours since the series began (0 on
    the first row, strictly increasing); a row holds until the next one starts, the last for
    ``step_h`` hours. Without it, rows are ``step_h`` hours apart.

    Raises:
        ConfigError: the file is not UTF-8, lacks the column, or a row is short, not a
            number, not finite, negative or out of order; the message gives the line.
    """
    path = Path(path)
    text = read_user_text(path, what="a carbon series")
    reader = csv.DictReader(text.splitlines())
    columns = [c.strip() for c in reader.fieldnames or []]
    if "g_co2e_per_kwh" not in columns:
        raise ConfigError(f"{path}: needs a 'g_co2e_per_kwh' column, got {columns}")
    reader.fieldnames = columns
    has_hour = "hour" in columns
    values, hours = [], []
    for row in reader:
        line = reader.line_num
        if None in row:  # more fields than the header names
            raise ConfigError(
                f"{path}, line {line}: {len(columns) + len(row[None])} fields, but the header "
                f"names {len(columns)}"
            )
        if None in row.values():  # fewer fields than the header names
            given = sum(v is not None for v in row.values())
            raise ConfigError(
                f"{path}, line {line}: {given} field(s), but the header names {len(columns)} "
                f"({', '.join(columns)})"
            )
        value = _number(path, line, "g_co2e_per_kwh", row["g_co2e_per_kwh"])
        if not 0 <= value <= MAX_G_CO2E_PER_KWH:
            raise ConfigError(
                f"{path}, line {line}: `0 <= g_co2e_per_kwh <= {MAX_G_CO2E_PER_KWH:,.0f}` must "
                f"hold, but got {value:g}"
            )
        values.append(value)
        if has_hour:
            hour = _number(path, line, "hour", row["hour"])
            if hour > MAX_SERIES_HOUR:
                raise ConfigError(
                    f"{path}, line {line}: `hour <= {MAX_SERIES_HOUR:g}` must hold, got {hour:g}"
                )
            if not hours and hour != 0:
                raise ConfigError(f"{path}, line {line}: the first hour must be 0, got {hour:g}")
            if hours and hour <= hours[-1]:
                raise ConfigError(
                    f"{path}, line {line}: hours must increase strictly, but {hour:g} follows "
                    f"{hours[-1]:g}"
                )
            hours.append(hour)
    if not values:
        raise ConfigError(f"{path}: the carbon series has no rows")
    return IntensitySeries(
        np.array(values), step_h=step_h, starts_h=np.array(hours) if has_hour else None
    )
