"""Section 4: which assumption moves the totals most, one at a time (tornado) and all at once
(Sobol indices)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from tunecost.reports import plots
from tunecost.reports.context import ReportContext
from tunecost.reports.formatting import figure, fixed, money
from tunecost.reports.render import Block, Image, Para, Table
from tunecost.reports.sections.base import Section
from tunecost.reports.sections.closing import closing_text
from tunecost.reports.sensitivity import (
    SCALE_ASSUMPTIONS,
    ScaledTotalsModel,
    SobolResult,
    TornadoResult,
    TotalsModel,
    default_assumptions,
    sobol,
    tornado,
)

__all__ = ["SensitivitySection"]


@dataclass(frozen=True, slots=True)
class _Analysis:
    tornado: TornadoResult
    sobol: SobolResult
    sobol_replicates: int
    replayed: bool  # only the assumptions that scale the totals exactly were varied


class SensitivitySection(Section):
    """The assumptions and their ranges, the tornado and the Sobol indices of the totals."""

    title = "4. Which assumption moves the total most"

    def applies(self, ctx: ReportContext) -> bool:
        return ctx.run is not None and ctx.inputs.campaign is not None

    def unavailable(self, ctx: ReportContext) -> str:
        return "Not available: it needs a campaign (CONFIG or --calibration)."

    def render(self, ctx: ReportContext) -> list[Block]:
        a = _analyse(ctx)
        tr, sr = a.tornado, a.sobol
        blocks = _show(tr, sr, ctx, a.replayed)
        closing = closing_text(tr, sr)
        ctx.findings.tornado, ctx.findings.sobol, ctx.findings.closing = tr, sr, closing
        ctx.data["tornado"] = {
            "ranking": tr.ranking, "score": tr.score, "base": tr.base, "dollars": tr.dollars,
            "replicates": tr.replicates, "seed": tr.seed, "headline": tr.headline(),
            "assumptions": [
                {"name": x.name, "label": x.label, "base": x.base, "low": x.low,
                 "high": x.high, "unit": x.unit, "why": x.why} for x in tr.assumptions
            ],
        }
        ctx.data["sobol"] = {"n_base": sr.n_base, "n_evals": sr.n_evals,
                             "replicates": a.sobol_replicates, "indices": sr.indices}
        ctx.data["closing_note"] = closing
        return blocks


def _analyse(ctx: ReportContext) -> _Analysis:
    """Run the tornado and the Sobol analysis of the campaign's totals."""
    run, campaign, settings = ctx.run, ctx.inputs.campaign, ctx.settings
    assert run is not None and campaign is not None  # applies() checked them
    seed = ctx.inputs.seed
    assumptions = default_assumptions(run.resolved, settings.ranges)
    replayed = getattr(run.result, "engine", "vectorized") == "replay"
    if replayed:
        # The replay loops over replicates: re-running it per tornado or Sobol point is
        # out of reach, so only the assumptions that scale its totals exactly are varied.
        assumptions = [a for a in assumptions if a.name in SCALE_ASSUMPTIONS]
        model: Any = ScaledTotalsModel(run.result.metrics, run.resolved, seed=run.result.seed)
        sobol_model: Any = model
        sobol_replicates = sobol_model.replicates
    else:
        k_max = next(a.high for a in assumptions if a.name == "n_trials")
        model = TotalsModel(campaign, replicates=settings.sensitivity_replicates,
                            rng=seed, k_max=k_max)
        sobol_model = TotalsModel(campaign, replicates=settings.sobol_replicates,
                                  rng=seed, k_max=k_max)
        sobol_replicates = settings.sobol_replicates
    tr = tornado(model, assumptions,
                 progress=lambda d, t: ctx.tick("tornado (one at a time)", d, t))
    sr = sobol(sobol_model, assumptions, n_base=settings.sobol_n, rng=seed,
               progress=lambda d, t: ctx.tick("Sobol indices (SALib)", d, t))
    return _Analysis(tr, sr, sobol_replicates, replayed)


def _show(tr: TornadoResult, sr: SobolResult, ctx: ReportContext,
          replayed: bool) -> list[Block]:
    """The headline, how the analysis was done, the assumptions, then the tornado and the
    Sobol indices as tables and plots."""
    blocks: list[Block] = [Para(tr.headline(), "headline"), Para(_how(tr, sr, replayed))]
    rows = [[a.label, fixed(a.base, ".4g"), a.range_text, a.why] for a in tr.assumptions]
    blocks.append(Table(["assumption", "base", "range", "why this range"], rows,
                        "Assumptions and their ranges"))
    ctx.tables["assumptions"] = [
        {"assumption": a.name, "base": a.base, "low": a.low, "high": a.high, "unit": a.unit,
         "why": a.why} for a in tr.assumptions
    ]
    totals = ["energy_kwh", "co2e_kg", tr.dollars]
    blocks += _tornado_blocks(tr, totals, ctx)
    blocks += _sobol_blocks(tr, sr, totals, ctx)
    return blocks


def _how(tr: TornadoResult, sr: SobolResult, replayed: bool) -> str:
    how = (
        "PUE, grid intensity, power and price scale the replay's simulated totals exactly. "
        "This campaign runs on the replay engine (real samplers, pruners and schedulers, one "
        "replicate at a time), too slow to re-run at every point, so the duration spread, "
        "the number of trials and the failure rate are not varied here."
        if replayed else
        "PUE, grid intensity, power and price scale the simulated totals exactly; duration "
        "spread, number of trials and failure rate re-run the vectorised simulator."
    )
    return (
        "Each assumption is moved over its range with the others at their base values "
        f"(tornado; {tr.replicates} replicates per evaluation, the same random numbers in "
        f"each, seed {tr.seed}), then all at once, uniform over the ranges (Sobol indices, "
        f"SALib Saltelli scheme, N = {sr.n_base}, {sr.n_evals:,} evaluations). " + how
        + " Ranking: the largest relative swing of kWh, kgCO2e, cloud dollars or electricity "
        "dollars.")


def _tornado_blocks(tr: TornadoResult, totals: list[str], ctx: ReportContext) -> list[Block]:
    """The tornado's table and plot (writing ``tornado.png`` and the ``tornado`` table)."""
    trows = []
    for rank, n in enumerate(tr.ranking, start=1):
        a = next(x for x in tr.assumptions if x.name == n)
        trows.append([
            str(rank), a.label, a.range_text,
            f"{figure(tr.low[n]['energy_kwh'])} – {figure(tr.high[n]['energy_kwh'])}",
            figure(tr.swing(n, "energy_kwh")), figure(tr.swing(n, "co2e_kg")),
            money(tr.swing(n, "cost_usd")), money(tr.swing(n, "electricity_usd")),
            f"{100 * tr.score[n]:.1f} %",
        ])
    blocks: list[Block] = [Table(
        ["rank", "assumption", "range", "kWh (low – high end)", "kWh swing", "kgCO2e swing",
         "cloud $ swing", "electricity $ swing", "largest relative swing"], trows,
        f"Tornado: base {figure(tr.base['energy_kwh'])} kWh, {figure(tr.base['co2e_kg'])} "
        f"kgCO2e, {money(tr.base['cost_usd'])} cloud, {money(tr.base['electricity_usd'])} "
        "electricity")]
    ctx.tables["tornado"] = tr.to_rows()
    png = plots.tornado_png(tr, totals, ctx.out / "tornado.png")
    ctx.pngs.append(png)
    blocks.append(Image(png, "tornado: one-at-a-time swings", ["tornado.csv",
                                                                "assumptions.csv"]))
    return blocks


def _sobol_blocks(tr: TornadoResult, sr: SobolResult, totals: list[str],
                  ctx: ReportContext) -> list[Block]:
    """The Sobol indices' table, and their plot where every index is finite (writing
    ``sobol.png`` and the ``sobol`` table)."""
    labels = {a.name: a.label for a in tr.assumptions}
    srows = []
    for n_i, n in enumerate(sr.names):
        srows.append([labels[n]] + [
            "—" if not math.isfinite(sr.indices[t]["S1"][n_i]) else
            f"{sr.indices[t]['S1'][n_i]:.2f} / {sr.indices[t]['ST'][n_i]:.2f}"
            for t in totals])
    blocks: list[Block] = [Table(
        ["assumption"] + [f"{plots.TOTAL_LABELS[t]}: S1 / ST" for t in totals],
        srows, "Sobol indices (first order / total effect)")]
    ctx.tables["sobol"] = sr.to_rows()
    sobol_totals = [t for t in totals if all(math.isfinite(x) for x in sr.indices[t]["S1"])]
    if sobol_totals:
        png = plots.sobol_png(sr, sobol_totals, labels, ctx.out / "sobol.png")
        ctx.pngs.append(png)
        blocks.append(Image(png, "Sobol indices", ["sobol.csv"]))
    return blocks
