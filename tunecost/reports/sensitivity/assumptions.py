"""The seven assumptions a campaign's totals are tested against, and their default ranges."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from tunecost.config import CampaignConfig
from tunecost.exceptions import ConfigError
from tunecost.simulate.pipeline import ResolvedCampaign

SPREAD_LEVELS = 9
"""Levels of the duration spread in a Sobol analysis (each costs one rebuild of the jobs)."""

ASSUMPTIONS = (
    "pue",
    "grid_intensity",
    "power",
    "price",
    "duration_spread",
    "n_trials",
    "failure_rate",
)
"""The assumptions, in the order they are reported."""

LABELS = {
    "pue": "PUE",
    "grid_intensity": "grid intensity (g/kWh)",
    "power": "IT power per trial (× base)",
    "price": "price (× base $/GPU-h and $/kWh)",
    "duration_spread": "duration spread (× base sigma)",
    "n_trials": "number of trials (× base)",
    "failure_rate": "failure rate (crash prob. per job)",
}

SHORT = {
    "pue": "PUE",
    "grid_intensity": "grid intensity",
    "power": "IT power per trial",
    "price": "price",
    "duration_spread": "duration spread",
    "n_trials": "number of trials",
    "failure_rate": "failure rate",
}

TOTALS = ("energy_kwh", "co2e_kg", "cost_usd", "electricity_usd")
"""Totals every evaluation returns (dollars are NaN where the campaign has no price)."""

RANK_BY = ("energy_kwh", "co2e_kg", "cost_usd", "electricity_usd")
"""Totals the tornado ranks by: kWh, CO2e and dollars, each by its swing relative to its base
(grid intensity moves CO2e alone; price moves dollars alone)."""


@dataclass(frozen=True, slots=True)
class Assumption:
    """One assumption's base value and the range it is moved over.

    Attributes:
        name: a key of :data:`ASSUMPTIONS`.
        base, low, high: the campaign's value and the ends of the range, in ``unit``.
        unit: what the numbers are (``"g/kWh"``, ``"× base"``, ...).
        why: where the range comes from, for the report.
    """

    name: str
    base: float
    low: float
    high: float
    unit: str
    why: str

    def __post_init__(self) -> None:
        if not (self.low <= self.base <= self.high) or self.low == self.high:
            raise ConfigError(
                f"assumption {self.name!r}: `low <= base <= high` and `low < high` must hold, "
                f"but got low={self.low!r}, base={self.base!r}, high={self.high!r}"
            )

    @property
    def label(self) -> str:
        """Name and unit, for tables and plots."""
        return LABELS[self.name]

    @property
    def short(self) -> str:
        """Name only, for sentences."""
        return SHORT[self.name]

    @property
    def range_text(self) -> str:
        """The range as tables and sentences print it (``×0.5–×1.5``, ``1.1–1.59``)."""
        if self.unit == "× base":
            return f"×{self.low:g}–×{self.high:g}"
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.low:.4g}–{self.high:.4g}{unit}"


def _mean_crash(cfg: CampaignConfig) -> float:
    ps = [s.failures.crash_probability for s in cfg.studies]
    weights = [s.count for s in cfg.studies]
    return float(np.average(ps, weights=weights))


def default_assumptions(
    campaign: ResolvedCampaign, overrides: Mapping[str, tuple[float, float]] | None = None
) -> list[Assumption]:
    """The seven assumptions with the default ranges, or ``overrides[name] = (low, high)``.

    Defaults: PUE from 1.10 (Google's fleet) to 1.59 (the global average; Dodge et al. 2022),
    widened to include the campaign's own; grid intensity ±40 % (average vs marginal intensity,
    year to year); IT power ±20 % (measured draw vs nameplate); price −50 %/+50 % (spot vs
    on-demand, region); duration spread ×0.5–×1.5; number of trials ×0.8–×1.25 (campaigns
    overrun more often than they stop early); failure rate 0 to 3× the campaign's (at least
    0 to 5 %).
    """
    cfg = campaign.config
    pue, ci = campaign.pue, campaign.g_co2e_per_kwh
    q = _mean_crash(cfg)
    specs = {
        "pue": (pue, min(pue, 1.10), max(pue, 1.59), "",
                "1.10 (hyperscale fleet) to 1.59 (global average), Dodge et al. 2022"),
        "grid_intensity": (ci, 0.6 * ci, 1.4 * ci, "g/kWh", "±40 %: average vs marginal, year"),
        "power": (1.0, 0.8, 1.2, "× base", "±20 %: measured draw vs nameplate"),
        "price": (1.0, 0.5, 1.5, "× base", "±50 %: spot vs on-demand, region"),
        "duration_spread": (1.0, 0.5, 1.5, "× base", "×0.5 to ×1.5 the log-sd, mean kept"),
        "n_trials": (1.0, 0.8, 1.25, "× base", "−20 % to +25 %: campaigns overrun"),
        "failure_rate": (q, 0.0, min(0.9, max(3 * q, 0.05)), "", "0 to 3× the campaign's"),
    }
    overrides = dict(overrides or {})
    unknown = set(overrides) - set(ASSUMPTIONS)
    if unknown:
        raise ConfigError(
            f"unknown assumption(s) {sorted(unknown)}; known: {', '.join(ASSUMPTIONS)}"
        )
    out = []
    for name in ASSUMPTIONS:
        base, low, high, unit, why = specs[name]
        if name in overrides:
            low, high = (float(v) for v in overrides[name])
            why = "given"
            if not low <= base <= high:
                raise ConfigError(
                    f"the range of {name!r} must contain its base value {base:g}, "
                    f"got ({low:g}, {high:g})"
                )
        if name == "grid_intensity" and base == 0:
            low, high, why = 0.0, 1.0, "base is 0 g/kWh: range 0 to 1 g/kWh"
        out.append(Assumption(name, float(base), float(low), float(high), unit, why))
    return out
