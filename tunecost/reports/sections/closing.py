"""The closing note: the top three assumptions by swing, and what carries the variance."""

from __future__ import annotations

import math

import numpy as np

from tunecost.reports.context import ReportContext
from tunecost.reports.formatting import figure, money
from tunecost.reports.render import Block, Para
from tunecost.reports.sections.base import Section
from tunecost.reports.sensitivity import SobolResult, TornadoResult

__all__ = ["ClosingSection", "closing_text"]

_WORDS = {4: "four", 7: "seven"}


class ClosingSection(Section):
    """The sensitivity analysis in one paragraph, at the end of the report."""

    title = "Closing note"
    needs = ("sensitivity",)

    def applies(self, ctx: ReportContext) -> bool:
        return ctx.findings.closing is not None

    def render(self, ctx: ReportContext) -> list[Block]:
        assert ctx.findings.closing is not None  # applies() checked it
        return [Para(ctx.findings.closing, "headline")]


def closing_text(tr: TornadoResult, sr: SobolResult) -> str:
    """The top three assumptions with their swings of kWh, kgCO2e and dollars, what moves
    CO2e most, and which assumption carries the largest share of the energy variance."""
    parts = []
    for rank, n in enumerate(tr.ranking[:3], start=1):
        a = next(x for x in tr.assumptions if x.name == n)
        dollars = [f"cloud {money(tr.swing(n, 'cost_usd'))}"] if math.isfinite(
            tr.base["cost_usd"]) else []
        if math.isfinite(tr.base["electricity_usd"]):
            dollars.append(f"electricity {money(tr.swing(n, 'electricity_usd'))}")
        parts.append(
            f"({rank}) {a.short} over {a.range_text}: {figure(tr.swing(n, 'energy_kwh'))} kWh, "
            f"{figure(tr.swing(n, 'co2e_kg'))} kgCO2e"
            + (", " + ", ".join(dollars) if dollars else "")
        )
    text = "Top three assumptions by swing of the totals: " + "; ".join(parts) + "."
    co2_top = max(tr.ranking, key=lambda n: tr.swing(n, "co2e_kg"))
    short = {a.name: a.short for a in tr.assumptions}
    text += (f" CO2e moves most with {short[co2_top]} "
             f"({figure(tr.swing(co2_top, 'co2e_kg'))} kgCO2e).")
    st = sr.indices.get("energy_kwh", {}).get("ST")
    if st and all(math.isfinite(x) for x in st):
        i = int(np.argmax(st))
        text += (f" Varying all {_WORDS.get(len(sr.names), len(sr.names))} together, "
                 f"{short[sr.names[i]]} carries the "
                 f"largest share of the energy variance (total Sobol index {st[i]:.2f}).")
    return text
