"""Section 3: where the cost explodes, one run → one tune → the whole campaign."""

from __future__ import annotations

from tunecost.reports import plots
from tunecost.reports.breakdown import Breakdown, breakdown
from tunecost.reports.context import ReportContext
from tunecost.reports.formatting import figure, money
from tunecost.reports.render import Block, Image, Para, Table
from tunecost.reports.sections.base import Section

__all__ = ["BreakdownSection"]


class BreakdownSection(Section):
    """Strubell et al.'s Table 4 for the campaign, and the tuning multiplier's spread."""

    title = "3. Where the cost explodes: one run → one tune → campaign"

    def applies(self, ctx: ReportContext) -> bool:
        return ctx.run is not None

    def unavailable(self, ctx: ReportContext) -> str:
        return "Not available: it needs a campaign (CONFIG or --calibration)."

    def render(self, ctx: ReportContext) -> list[Block]:
        assert ctx.run is not None  # applies
        bd = breakdown(ctx.run.result, ctx.run.resolved)
        ctx.findings.breakdown = bd
        blocks = _show(bd, ctx)
        ctx.data["breakdown"] = {"tuning_multiplier": bd.tuning_multiplier,
                                 "reference_how": bd.reference_how, "replicates": bd.replicates}
        return blocks


def _show(bd: Breakdown, ctx: ReportContext) -> list[Block]:
    """The table, the multiplier's line and its plot (writing ``breakdown.png`` and the
    ``breakdown`` and ``tuning_multiplier_histogram`` tables)."""
    unit = ctx.hours_unit
    rows = []
    for r in bd.rows:
        rows.append([
            r["level"], r["name"], str(r["count"]), figure(r["gpu_hours"]),
            figure(r["energy_kwh"]), figure(r["co2e_kg"]), money(r["cost_usd"]),
            money(r["electricity_usd"]), f"{r['x_reference']:,.1f}×",
        ])
    blocks: list[Block] = [Para(
        "The shape of Strubell et al.'s Table 4: the one final run, one tune (one instance "
        "of each study: its total divided by its count), and the whole campaign; P50 over "
        f"{bd.replicates:,} replicates. The reference run is {bd.reference_how}.")]
    blocks.append(Table(
        ["level", "name", "count", unit, "kWh", "kgCO2e", "cloud $", "electricity $",
         "× one run (kWh)"], rows))
    tm = bd.tuning_multiplier
    blocks.append(Para(bd.explosion(unit) + (
        "" if tm is None else f" Tuning multiplier mean {tm['mean']:,.1f}×, "
                              f"std {tm['std']:,.1f}×.")))
    ctx.tables["breakdown"] = bd.rows
    edges, counts = bd.histogram
    ctx.tables["tuning_multiplier_histogram"] = [
        {"bin_low": lo, "bin_high": hi, "replicates": c}
        for lo, hi, c in zip(edges[:-1], edges[1:], counts, strict=True)
    ]
    if tm is None:
        return blocks
    png = plots.breakdown_png(bd.rows, edges, counts, tm["p50"], ctx.out / "breakdown.png")
    ctx.pngs.append(png)
    blocks.append(Image(png, "cost breakdown and tuning multiplier",
                        ["breakdown.csv", "tuning_multiplier_histogram.csv"]))
    return blocks
