"""Named unit constants.

Quantities in tunecost are plain floats and arrays whose *names* carry the unit
(``energy_kwh``, ``power_w``, ``co2e_kg``). This module holds the conversion factors, each
exact by definition unless a comment says otherwise.
"""

from __future__ import annotations

J_PER_KWH = 3.6e6
"""Joules in one kilowatt-hour."""

W_PER_KW = 1000.0
"""Watts in one kilowatt."""

S_PER_H = 3600.0
"""Seconds in one hour."""

H_PER_DAY = 24.0
"""Hours in one day."""

KG_PER_LB = 0.45359237
"""Kilograms in one avoirdupois pound (exact, international yard and pound agreement 1959)."""

LBS_PER_KG = 1.0 / KG_PER_LB
"""Pounds in one kilogram."""

KG_PER_TONNE = 1000.0
"""Kilograms in one metric tonne."""

G_PER_KG = 1000.0
"""Grams in one kilogram."""

KWH_PER_MWH = 1000.0
"""Kilowatt-hours in one megawatt-hour."""

HOURS_PER_YEAR = 8760.0
"""Hours in a 365-day year; used to spread embodied carbon over a service life."""
