"""Section 1's seed variance: how much the objective, duration and energy move across seeds."""

from __future__ import annotations

from tunecost.reports import plots
from tunecost.reports.context import ReportContext
from tunecost.reports.formatting import fixed
from tunecost.reports.importance import SeedVariance, seed_variance
from tunecost.reports.render import Block, Image, Para, Table
from tunecost.reports.sections.base import Section

__all__ = ["SeedVarianceSection"]


class SeedVarianceSection(Section):
    """The repeated configurations, each a row, against the search's spread."""

    title = "Seed variance"
    level = 3

    def applies(self, ctx: ReportContext) -> bool:
        return bool(ctx.inputs.repeats)

    def unavailable(self, ctx: ReportContext) -> str:
        return ("Not available: no repeated configurations were given (pass --repeats "
                "FILE.jsonl: the same parameters run with several seeds).")

    def render(self, ctx: ReportContext) -> list[Block]:
        sv = seed_variance(ctx.inputs.repeats, ctx.inputs.records)
        if sv is None:
            return [Para("Not available: no configuration in --repeats was run more than "
                         "once.", "note")]
        ctx.findings.seed_variance = sv
        blocks = [_configs_table(sv), Para(_spread_line(sv))]
        ctx.tables["seed_variance"] = sv.to_rows()
        png = plots.seed_variance_png(sv.configs, sv.value_std_search,
                                      ctx.out / "seed_variance.png")
        ctx.pngs.append(png)
        blocks.append(Image(png, "seed variance of repeated configurations",
                            ["seed_variance.csv"]))
        ctx.data["seed_variance"] = {
            "value_std_seed": sv.value_std_seed, "value_std_search": sv.value_std_search,
            "seed_share": sv.seed_share, "duration_cv": sv.duration_cv,
            "energy_cv": sv.energy_cv,
            "configs": [{k: v for k, v in c.items()} for c in sv.configs],
        }
        return blocks


def _configs_table(sv: SeedVariance) -> Table:
    rows = []
    for i, c in enumerate(sv.configs):
        rows.append([
            f"config {i}", ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                     for k, v in c["params"].items()),
            str(c["n"]), fixed(c["value_mean"], ".4f"), fixed(c["value_std"], ".4f"),
            fixed(c["duration_mean_s"], ".2f"), f"{100 * c['duration_cv']:.1f} %",
            fixed(c["energy_mean_j"], ",.0f"),
            "—" if c["energy_cv"] is None else f"{100 * c['energy_cv']:.1f} %",
        ])
    return Table(
        ["", "parameters", "runs", "objective mean", "objective std", "duration mean (s)",
         "duration CV", "energy mean (J)", "energy CV"], rows)


def _spread_line(sv: SeedVariance) -> str:
    """How far seeds move each quantity, and what share of the search's spread that is."""
    share = sv.seed_share
    line = (f"Across seeds the objective moves by a std of {fixed(sv.value_std_seed, '.4f')} "
            f"(median over configurations); duration by {100 * sv.duration_cv:.1f} % and "
            + ("energy by " + f"{100 * sv.energy_cv:.1f} %" if sv.energy_cv is not None
               else "energy unmeasured") + " (CV).")
    if share is not None:
        line += (f" Across the search's hyperparameters the objective's std is "
                 f"{sv.value_std_search:.4f}: seeds account for {100 * share:.1f} % of that "
                 "spread, so differences between configurations larger than about "
                 f"{2 * sv.value_std_seed:.4f} are not seed noise.")
    return line
