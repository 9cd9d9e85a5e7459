"""Cost accounting: pure, vectorised functions from device-hours to kWh, CO2e and dollars.

Every function accepts floats or numpy arrays (broadcasting as numpy does) and returns the
same. Inputs are checked once for the rule they must obey (no negative hours, PUE >= 1) and a
:class:`~tunecost.exceptions.ConfigError` names the argument and the offending value.

The energy model is Strubell et al. 2019, Eq. 1, generalised::

    energy_kwh = hours * (n_accelerators * accelerator_power_w + cpu_power_w + dram_power_w)
                 * pue / 1000

and CO2e is energy times the grid's carbon intensity (Eq. 2).

Example:
    >>> from tunecost import accounting
    >>> kwh = accounting.energy_kwh(12.0, 1415.78, pue=1.58)   # Strubell Table 3, T2T_base
    >>> round(float(kwh), 2)
    26.84
    >>> round(float(accounting.co2e_lbs(kwh, 432.72712098)), 2)
    25.61
"""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tunecost.exceptions import ConfigError
from tunecost.units import G_PER_KG, HOURS_PER_YEAR, LBS_PER_KG, W_PER_KW

__all__ = [
    "co2e_kg",
    "co2e_kg_integrated",
    "co2e_lbs",
    "cloud_cost_usd",
    "electricity_cost_usd",
    "embodied_co2e_kg",
    "energy_kwh",
    "facility_energy_kwh",
    "it_power_w",
    "kg_to_lbs",
    "lbs_to_kg",
]

FloatOrArray: TypeAlias = float | NDArray[np.float64]

DEFAULT_LIFETIME_YEARS = 5.0
"""Service life over which a device's embodied carbon is spread; LLMCarbon (Faiz et al. 2024)
uses 5 years for accelerators and servers."""


def _checked(name: str, value: ArrayLike, *, minimum: float = 0.0) -> NDArray[np.float64] | float:
    arr = np.asarray(value, dtype=np.float64)
    bad = ~(arr >= minimum)  # also catches NaN
    if bad.any():
        first = arr[bad].flat[0] if arr.ndim else float(arr)
        raise ConfigError(f"`{name} >= {minimum:g}` must hold, but got {name}={first!r}")
    return float(arr) if arr.ndim == 0 else arr


def it_power_w(
    accelerator_power_w: ArrayLike,
    *,
    n_accelerators: ArrayLike = 1,
    cpu_power_w: ArrayLike = 0.0,
    dram_power_w: ArrayLike = 0.0,
) -> FloatOrArray:
    """Power drawn by one machine's IT equipment, W (Strubell Eq. 1's ``p_c + p_r + g*p_g``).

    Args:
        accelerator_power_w: average power of **one** accelerator, W.
        n_accelerators: accelerators in use (``g``).
        cpu_power_w: average power of all CPU sockets, W.
        dram_power_w: average power of all DRAM, W.
    """
    return (
        _checked("n_accelerators", n_accelerators)
        * _checked("accelerator_power_w", accelerator_power_w)
        + _checked("cpu_power_w", cpu_power_w)
        + _checked("dram_power_w", dram_power_w)
    )


def energy_kwh(hours: ArrayLike, power_w: ArrayLike, *, pue: ArrayLike = 1.0) -> FloatOrArray:
    """Facility energy of running IT equipment that draws ``power_w`` for ``hours``, kWh.

    Args:
        hours: wall-clock hours the equipment runs.
        power_w: average IT power over that time, W (e.g. from :func:`it_power_w`).
        pue: power usage effectiveness of the facility (>= 1); 1 gives IT energy only.
    """
    return (
        _checked("hours", hours)
        * _checked("power_w", power_w)
        * _checked("pue", pue, minimum=1.0)
        / W_PER_KW
    )


def facility_energy_kwh(it_energy_kwh: ArrayLike, *, pue: ArrayLike = 1.0) -> FloatOrArray:
    """Facility energy of IT equipment that used ``it_energy_kwh``, kWh (``× pue``).

    The same rule as :func:`energy_kwh`, for energy already summed over intervals of
    different power (what a schedule of many jobs used).
    """
    return _checked("it_energy_kwh", it_energy_kwh) * _checked("pue", pue, minimum=1.0)


def co2e_kg(energy_kwh: ArrayLike, g_co2e_per_kwh: ArrayLike) -> FloatOrArray:
    """Operational emissions of consuming ``energy_kwh`` at a grid intensity, kg CO2e."""
    return (
        _checked("energy_kwh", energy_kwh) * _checked("g_co2e_per_kwh", g_co2e_per_kwh) / G_PER_KG
    )


def co2e_kg_integrated(
    power_w: ArrayLike, intensity_integral: ArrayLike, *, pue: ArrayLike = 1.0
) -> FloatOrArray:
    """Operational emissions of drawing IT ``power_w`` over a period in which the grid's
    intensity integrates to ``intensity_integral`` (g·h/kWh, e.g.
    :meth:`tunecost.carbon.IntensitySeries.integral`), kg CO2e.

    With a constant intensity ``g`` over ``hours`` this is :func:`co2e_kg` of
    :func:`energy_kwh`: ``intensity_integral = g × hours``.

    Example:
        >>> a = co2e_kg_integrated(500.0, 400.0 * 2, pue=1.5)
        >>> a == co2e_kg(energy_kwh(2, 500.0, pue=1.5), 400.0)
        True
    """
    return (
        _checked("power_w", power_w)
        / W_PER_KW
        * _checked("intensity_integral", intensity_integral)
        * _checked("pue", pue, minimum=1.0)
        / G_PER_KG
    )


def co2e_lbs(energy_kwh: ArrayLike, g_co2e_per_kwh: ArrayLike) -> FloatOrArray:
    """Like :func:`co2e_kg`, in pounds (the unit of Strubell et al. 2019)."""
    return kg_to_lbs(co2e_kg(energy_kwh, g_co2e_per_kwh))


def kg_to_lbs(kg: ArrayLike) -> FloatOrArray:
    """Convert kilograms to pounds."""
    return np.asarray(kg, dtype=np.float64) * LBS_PER_KG if np.ndim(kg) else float(kg) * LBS_PER_KG


def lbs_to_kg(lbs: ArrayLike) -> FloatOrArray:
    """Convert pounds to kilograms."""
    return (
        np.asarray(lbs, dtype=np.float64) / LBS_PER_KG if np.ndim(lbs) else float(lbs) / LBS_PER_KG
    )


def cloud_cost_usd(
    accelerator_hours: ArrayLike, usd_per_accelerator_hour: ArrayLike
) -> FloatOrArray:
    """Cloud bill for renting accelerators by the hour, US dollars.

    Pass a pair of rates (e.g. ``np.array([0.43, 1.46])`` for pre-emptible and on-demand) to
    get a cost range in one call.
    """
    return _checked("accelerator_hours", accelerator_hours) * _checked(
        "usd_per_accelerator_hour", usd_per_accelerator_hour
    )


def electricity_cost_usd(energy_kwh: ArrayLike, usd_per_kwh: ArrayLike) -> FloatOrArray:
    """Cost of the electricity itself, US dollars (Strubell Table 4's electricity column)."""
    return _checked("energy_kwh", energy_kwh) * _checked("usd_per_kwh", usd_per_kwh)


def embodied_co2e_kg(
    device_hours: ArrayLike,
    embodied_kgco2e_per_device: ArrayLike,
    *,
    lifetime_years: ArrayLike = DEFAULT_LIFETIME_YEARS,
) -> FloatOrArray:
    """Share of manufacturing emissions attributed to ``device_hours`` of use, kg CO2e.

    The device's embodied emissions are spread evenly over its service life (LLMCarbon's
    ``t / lifespan`` rule), so one device-hour carries ``embodied / (lifetime_years * 8760)``.
    """
    lifetime_h = _checked("lifetime_years", lifetime_years, minimum=1e-9) * HOURS_PER_YEAR
    return (
        _checked("device_hours", device_hours)
        * _checked("embodied_kgco2e_per_device", embodied_kgco2e_per_device)
        / lifetime_h
    )
