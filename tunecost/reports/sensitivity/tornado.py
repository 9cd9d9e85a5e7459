"""One assumption at a time to each end of its range: which moves the totals most."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunecost.reports.sensitivity.assumptions import RANK_BY, TOTALS, Assumption
from tunecost.reports.sensitivity.totals_model import Progress, TotalsModel


def dollars_key(totals: Mapping[str, Any]) -> str:
    """The dollar total reported: cloud rental when priced, else the electricity bill."""
    cost = np.asarray(totals["cost_usd"], dtype=float)
    return "electricity_usd" if np.isnan(cost).all() else "cost_usd"


@dataclass(frozen=True, slots=True)
class TornadoResult:
    """One-at-a-time swings of the totals.

    Attributes:
        assumptions: the ranges, in :data:`ASSUMPTIONS` order.
        base: total → value at every base value (mean over replicates).
        low, high: assumption → total → value with that assumption at its low / high end.
        ranking: assumption names, the one that moves the totals most first (largest
            relative swing of :data:`RANK_BY`: kWh, CO2e, cloud dollars, electricity dollars).
        score: assumption → that largest relative swing, (max − min) / base.
        dollars: which dollar total the ranking uses (``cost_usd`` or ``electricity_usd``).
        replicates, seed: of every evaluation.
    """

    assumptions: list[Assumption]
    base: dict[str, float]
    low: dict[str, dict[str, float]]
    high: dict[str, dict[str, float]]
    ranking: list[str]
    score: dict[str, float]
    dollars: str
    replicates: int
    seed: int

    def swing(self, name: str, total: str) -> float:
        """``|value at high − value at low|`` of ``total`` for assumption ``name``."""
        return abs(self.high[name][total] - self.low[name][total])

    def headline(self) -> str:
        """One line: which assumption moves the totals most, and by how much."""
        top = self.ranking[0]
        a = next(x for x in self.assumptions if x.name == top)
        labels = {"energy_kwh": ("energy", "{} kWh"), "co2e_kg": ("CO2e", "{} kg"),
                  "cost_usd": ("cloud cost", "${}"), "electricity_usd": ("electricity", "${}")}
        moved = [
            f"{labels[t][0]} by {labels[t][1].format(_sig(self.swing(top, t)))}"
            for t in RANK_BY
            if self.swing(top, t) > 0 and (t != "electricity_usd" or self.dollars == t)
        ]
        return (
            f"{a.short[0].upper()}{a.short[1:]} moves the totals most "
            f"({100 * self.score[top]:.0f} % of its base): over {a.range_text} ({a.why}) it "
            f"moves {', '.join(moved) or 'nothing'}."
        )

    def to_rows(self) -> list[dict[str, Any]]:
        """One row per assumption and end, for CSV/JSON."""
        rows = []
        for a in self.assumptions:
            for end, value in (("low", a.low), ("high", a.high)):
                vals = (self.low if end == "low" else self.high)[a.name]
                rows.append({"assumption": a.name, "end": end, "value": value, **vals})
        return rows


def _sig(x: float) -> str:
    """Three significant figures (all the integer digits), thousands separated."""
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    return f"{x:,.{max(0, 2 - int(math.floor(math.log10(abs(x)))))}f}"


def tornado(
    model: TotalsModel,
    assumptions: Sequence[Assumption],
    *,
    progress: Progress | None = None,
) -> TornadoResult:
    """Move each assumption to both ends of its range, the others at their base values."""
    base = np.array([a.base for a in assumptions])
    points = [base]
    for i, a in enumerate(assumptions):
        for v in (a.low, a.high):
            p = base.copy()
            p[i] = v
            points.append(p)
    totals = model.evaluate(np.array(points), progress=progress)
    means = {t: np.nanmean(v, axis=1) if not np.isnan(v).all() else np.full(len(v), np.nan)
             for t, v in totals.items() if t in TOTALS}
    base_vals = {t: float(means[t][0]) for t in TOTALS}
    low, high = {}, {}
    for i, a in enumerate(assumptions):
        low[a.name] = {t: float(means[t][1 + 2 * i]) for t in TOTALS}
        high[a.name] = {t: float(means[t][2 + 2 * i]) for t in TOTALS}
    dollars = dollars_key(base_vals)
    score = {}
    for a in assumptions:
        rel = []
        for t in RANK_BY:
            b = base_vals[t]
            if b and not math.isnan(b):
                rel.append(abs(high[a.name][t] - low[a.name][t]) / abs(b))
        score[a.name] = max(rel) if rel else 0.0
    ranking = sorted(
        (a.name for a in assumptions),
        key=lambda n: (-round(score[n], 9), -abs(high[n]["energy_kwh"] - low[n]["energy_kwh"])),
    )
    return TornadoResult(
        list(assumptions), base_vals, low, high, ranking, score, dollars,
        model.replicates, model.seed,
    )
