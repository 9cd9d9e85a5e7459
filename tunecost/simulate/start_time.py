"""Carbon-aware start time: when, within a window, to start a campaign so that its power
schedule meets the cleanest hours of an hourly carbon series.

A :class:`PowerProfile` is the campaign's IT power over time, relative to its start. Shifted
by a start offset ``t``, its operational CO2e is ``Σ power × ∫ intensity dt`` over the
shifted intervals (:func:`tunecost.accounting.co2e_kg_integrated`, the rule the simulation
charges a job by), × PUE. :func:`best_start` evaluates every offset ``0, step_h, 2·step_h, …
<= window_h`` at once and returns the one of least CO2e. Offset 0 is the series' hour 0,
where the simulation starts the campaign ("now").

Example:
    >>> from tunecost.carbon import IntensitySeries
    >>> series = IntensitySeries(np.array([400.0, 100.0, 400.0, 400.0]))   # g/kWh, hourly
    >>> block = PowerProfile.block(duration_h=1.0, power_kw=1.0)   # 1 kW for 1 h
    >>> choice = best_start(block, series, window_h=3.0)
    >>> choice.offset_h, round(choice.co2e_kg, 6), round(choice.co2e_kg_now, 6)
    (1.0, 0.1, 0.4)
    >>> round(choice.saving_kg, 6), round(choice.saving_pct, 6)
    (0.3, 75.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunecost import accounting
from tunecost.carbon import IntensitySeries
from tunecost.exceptions import ConfigError
from tunecost.units import W_PER_KW

__all__ = [
    "MAX_START_CANDIDATES",
    "MAX_START_WINDOW_H",
    "PowerProfile",
    "StartChoice",
    "best_start",
    "start_offsets_h",
]

MAX_START_CANDIDATES = 100_000
"""Most start offsets one search evaluates (a year in 6-minute steps is 87,600)."""

MAX_START_WINDOW_H = 1e6
"""Longest start window, hours (114 years, the longest series hour accepted)."""

_TIE_RELATIVE = 1e-9
"""CO2e within this fraction of the largest candidate's count as equal: the series' cumulative
sums round differently at different offsets, and a constant series must keep offset 0."""

_CHUNK_ELEMENTS = 1_000_000
"""Candidates × intervals integrated at once, so a long profile does not exhaust memory."""


@dataclass(frozen=True, slots=True)
class PowerProfile:
    """A campaign's IT power over time, hours since it started.

    Attributes:
        start_h: each interval's start, shape ``(n,)``, finite, ``>= 0``.
        end_h: each interval's end, ``(n,)``, finite, ``>= start_h``.
        power_kw: IT power over each interval, kW, ``(n,)``, finite, ``>= 0``; intervals
            may overlap (several workers at once), their powers add.
        pue: the facility's PUE (``>= 1``), applied on top as the simulation does.
        how: what the profile was built from, for reports.
    """

    start_h: np.ndarray
    end_h: np.ndarray
    power_kw: np.ndarray
    pue: float = 1.0
    how: str = ""

    def __post_init__(self) -> None:
        arrays = {k: np.asarray(getattr(self, k), dtype=np.float64)
                  for k in ("start_h", "end_h", "power_kw")}
        shapes = {a.shape for a in arrays.values()}
        if len(shapes) != 1 or arrays["start_h"].ndim != 1:
            raise ConfigError(
                "a power profile needs 1-D start_h, end_h and power_kw of one length, but got "
                f"shapes {[a.shape for a in arrays.values()]}"
            )
        for name, a in arrays.items():
            bad = ~(np.isfinite(a) & (a >= 0))
            if bad.any():
                raise ConfigError(
                    f"`0 <= {name} < inf` must hold in a power profile, but got "
                    f"{name}={float(a[bad][0])!r}"
                )
        short = arrays["end_h"] < arrays["start_h"]
        if short.any():
            i = int(np.flatnonzero(short)[0])
            raise ConfigError(
                f"`end_h >= start_h` must hold in a power profile, but interval {i} runs "
                f"from {float(arrays['start_h'][i])!r} to {float(arrays['end_h'][i])!r} h"
            )
        if not 1 <= self.pue < math.inf:
            raise ConfigError(f"`1 <= pue < inf` must hold, but got pue={self.pue!r}")
        for name, a in arrays.items():
            object.__setattr__(self, name, a)
        object.__setattr__(self, "pue", float(self.pue))

    @classmethod
    def block(
        cls, *, duration_h: float, power_kw: float, pue: float = 1.0, how: str = ""
    ) -> PowerProfile:
        """``power_kw`` of IT power, constant for ``duration_h`` hours from the start."""
        return cls(np.array([0.0]), np.array([duration_h], dtype=np.float64),
                   np.array([power_kw], dtype=np.float64), pue=pue, how=how)

    @property
    def duration_h(self) -> float:
        """Hours from the start to the end of the last interval (0 for no interval)."""
        return float(self.end_h.max()) if self.end_h.size else 0.0

    @property
    def energy_kwh(self) -> float:
        """Facility energy of the whole profile, kWh (× PUE)."""
        hours = self.end_h - self.start_h
        return float(np.sum(accounting.energy_kwh(hours, self.power_kw * W_PER_KW,
                                                  pue=self.pue)))


@dataclass(frozen=True, slots=True)
class StartChoice:
    """The start of least CO2e within a window, and the CO2e of every candidate start.

    Attributes:
        offset_h: the best start, hours after offset 0 (the series' hour 0); the earliest
            of equal ones.
        co2e_kg: the profile's operational CO2e starting at ``offset_h``, kg.
        co2e_kg_now: the same starting at offset 0, kg.
        saving_kg: ``co2e_kg_now - co2e_kg``, kg (``>= 0``).
        saving_pct: ``saving_kg`` as a percentage of ``co2e_kg_now`` (0 when that is 0).
        offsets_h: every candidate offset, hours, shape ``(k,)``.
        co2e_kg_by_offset: the CO2e at each, kg, ``(k,)``.
        window_h, step_h: the window searched and the step between candidates, hours.
        profile: the power profile shifted.
    """

    offset_h: float
    co2e_kg: float
    co2e_kg_now: float
    saving_kg: float
    saving_pct: float
    offsets_h: np.ndarray
    co2e_kg_by_offset: np.ndarray
    window_h: float
    step_h: float
    profile: PowerProfile

    def to_dict(self) -> dict[str, Any]:
        """The choice as JSON-ready values: the figures, the profile, and the full table."""
        return {
            "window_h": self.window_h,
            "step_h": self.step_h,
            "best_offset_h": self.offset_h,
            "co2e_kg": self.co2e_kg,
            "co2e_kg_now": self.co2e_kg_now,
            "saving_kg": self.saving_kg,
            "saving_pct": self.saving_pct,
            "profile": {
                "how": self.profile.how,
                "duration_h": self.profile.duration_h,
                "energy_kwh": self.profile.energy_kwh,
                "pue": self.profile.pue,
            },
            "offsets_h": self.offsets_h.tolist(),
            "co2e_kg_by_offset": self.co2e_kg_by_offset.tolist(),
        }


def start_offsets_h(*, window_h: float, step_h: float = 1.0) -> np.ndarray:
    """The candidate start offsets ``0, step_h, 2·step_h, … <= window_h``, hours, ``(k,)``.

    A ``window_h`` within rounding of a multiple of ``step_h`` includes it
    (``window_h=0.3, step_h=0.1`` gives four offsets, the last 0.3).

    Raises:
        ConfigError: ``window_h`` is not in ``[0, 1e6]``, ``step_h`` is not finite and
            ``> 0``, or the window holds more than :data:`MAX_START_CANDIDATES` offsets.
    """
    if not 0 <= window_h <= MAX_START_WINDOW_H:
        raise ConfigError(
            f"`0 <= window_h <= {MAX_START_WINDOW_H:,.0f}` must hold for a start window (hours), "
            f"but got window_h={window_h!r}"
        )
    if not 0 < step_h < math.inf:
        raise ConfigError(
            f"`0 < step_h < inf` must hold for the start step (hours), but got step_h={step_h!r}"
        )
    ratio = window_h / step_h
    if not ratio < MAX_START_CANDIDATES:
        raise ConfigError(
            f"a start window of {window_h:g} h in steps of {step_h:g} h has more than "
            f"{MAX_START_CANDIDATES:,} candidate starts; use a larger step or a shorter window"
        )
    count = math.floor(ratio + 1e-9) + 1
    return np.minimum(np.arange(count) * float(step_h), float(window_h))


def best_start(
    profile: PowerProfile, series: IntensitySeries, *, window_h: float, step_h: float = 1.0
) -> StartChoice:
    """The start offset within ``window_h`` hours at which ``profile`` emits the least CO2e.

    Every candidate of :func:`start_offsets_h` is evaluated exactly (the series is integrated
    over each shifted interval; it repeats with its period, so a window or a profile longer
    than the series wraps around it). CO2e within one part in 10^9 of the least count as
    equal, and the earliest of them is chosen.

    Args:
        profile: the campaign's IT power schedule, relative to its start.
        series: the grid's intensity, g/kWh; its hour 0 is offset 0.
        window_h: latest start considered, hours after offset 0.
        step_h: hours between candidate starts.

    Raises:
        ConfigError: as :func:`start_offsets_h`.
    """
    offsets = start_offsets_h(window_h=window_h, step_h=step_h)
    n = profile.start_h.size
    power_w = profile.power_kw * W_PER_KW
    co2e = np.zeros(offsets.size)
    rows = max(1, _CHUNK_ELEMENTS // max(n, 1))
    for lo in range(0, offsets.size if n else 0, rows):
        shift = offsets[lo:lo + rows, None]
        integral = series.integral(shift + profile.start_h, shift + profile.end_h)  # (k, n)
        co2e[lo:lo + rows] = np.sum(
            accounting.co2e_kg_integrated(power_w, integral, pue=profile.pue), axis=1)
    tie = _TIE_RELATIVE * float(co2e.max())
    best = int(np.flatnonzero(co2e <= co2e.min() + tie)[0])
    now, at_best = float(co2e[0]), float(co2e[best])
    saving = now - at_best
    return StartChoice(
        offset_h=float(offsets[best]),
        co2e_kg=at_best,
        co2e_kg_now=now,
        saving_kg=saving,
        saving_pct=100.0 * saving / now if now > 0 else 0.0,
        offsets_h=offsets,
        co2e_kg_by_offset=co2e,
        window_h=float(window_h),
        step_h=float(step_h),
        profile=profile,
    )
