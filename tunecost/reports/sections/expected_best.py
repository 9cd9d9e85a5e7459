"""Section 2: the expected best score after n trials, against n in every cost unit."""

from __future__ import annotations

import numpy as np

from tunecost.reports import plots
from tunecost.reports.context import ReportContext
from tunecost.reports.expected_max import ExpectedBest, expected_best_curve
from tunecost.reports.formatting import figure
from tunecost.reports.render import Block, Image, Para, Table
from tunecost.reports.sections.base import Section
from tunecost.reports.trial_costs import per_trial_costs

__all__ = ["ExpectedBestSection", "step_line"]

UNIT_NAMES = {"n_trials": "trials", "gpu_hours": "GPU-h", "energy_kwh": "kWh",
              "co2e_kg": "kgCO2e", "usd": "$"}
"""Column names of the cost units (``gpu_hours``: the campaign's hours unit instead)."""

STEP = "expected best vs budget (bootstrap)"
"""The progress step's name while the bands are bootstrapped."""

BUDGETS = (1, 2, 5, 10, 20)
"""Numbers of trials the table shows (and all the measured trials)."""


class ExpectedBestSection(Section):
    """Dodge et al. 2019 and Tang et al. 2020 estimates with bootstrap bands, plotted and
    tabulated, and what the last step of the objective costs."""

    title = "2. Expected best score vs budget"

    def applies(self, ctx: ReportContext) -> bool:
        return len(_scores(ctx)) >= 2

    def unavailable(self, ctx: ReportContext) -> str:
        return ("Not available: it needs the scores of at least 2 measured trials "
                "(pass --records, --optuna-storage or --ray-results).")

    def render(self, ctx: ReportContext) -> list[Block]:
        n_boot = ctx.settings.n_boot
        resolved = ctx.run.resolved if ctx.run is not None else None
        ctx.tick(STEP, 0, 1)
        eb = expected_best_curve(
            np.array(_scores(ctx)), maximize=ctx.inputs.maximize,
            cost_per_trial=per_trial_costs(ctx.inputs.records, resolved), n_boot=n_boot,
            rng=ctx.inputs.seed,
        )
        ctx.tick(STEP, 1, 1)
        ctx.findings.expected_best = eb
        blocks = _show(eb, ctx)
        ctx.data["expected_best"] = {
            "maximize": ctx.inputs.maximize, "n_boot": n_boot, "band_pct": list(eb.band_pct),
            "cost_per_trial": eb.cost_per_trial, "cost_of_step": eb.cost_of_step(),
            "cost_of_step_dodge": eb.cost_of_step("dodge2019"), "notes": eb.notes,
        }
        return blocks


def _show(eb: ExpectedBest, ctx: ReportContext) -> list[Block]:
    """The blocks of ``eb``: how it was estimated, the plot and the table (writing
    ``expected_best.png`` and the ``expected_best`` table)."""
    unit = ctx.hours_unit
    units = list(eb.cost_per_trial)
    names = {**UNIT_NAMES, "gpu_hours": unit}
    blocks: list[Block] = [Para(
        f"Expected best objective after n random-search trials, estimated from the "
        f"{eb.n[-1]} measured ones: Dodge et al. 2019 (n draws with replacement from the "
        "empirical distribution; biased low for maxima, high for losses) and the unbiased "
        "estimator of Tang et al. 2020 (mean best over all n-subsets). Bands: "
        f"{eb.band_pct[0]:g}–{eb.band_pct[1]:g} % percentile bootstrap ({eb.n_boot} "
        "resamples). The cost axes are n × the mean measured trial: "
        + ", ".join(f"{figure(c)} {names[u]}" for u, c in eb.cost_per_trial.items()
                    if u != "n_trials") + " per trial.")]
    blocks += [Para(n, "note") for n in eb.notes]
    rows = eb.to_rows()
    ctx.tables["expected_best"] = rows
    png = plots.expected_best_png(rows, units, list(eb.curves), eb.maximize,
                                  ctx.out / "expected_best.png", hours_unit=unit)
    ctx.pngs.append(png)
    blocks.append(Image(png, "expected best score vs budget", ["expected_best.csv"]))
    picks = sorted({*BUDGETS, int(eb.n[-1])} & set(int(n) for n in eb.n))
    trows = []
    for n in picks:
        r = rows[n - 1]
        trows.append([str(n)] + [figure(r[u]) for u in units if u != "n_trials"] + [
            f"{r['dodge2019']:.4f}", f"{r['tang2020']:.4f} "
            f"[{r['tang2020_low']:.4f}, {r['tang2020_high']:.4f}]"])
    blocks.append(Table(
        ["trials"] + [names[u] for u in units if u != "n_trials"]
        + ["Dodge 2019", "Tang 2020 [band]"], trows))
    line = step_line(eb, unit)
    if line:
        blocks.append(Para(line))
    return blocks


def _scores(ctx: ReportContext) -> list[float]:
    return [r.value for r in ctx.inputs.records if r.state == "COMPLETE" and r.value is not None]


def step_line(eb: ExpectedBest, hours_unit: str = "GPU-hours") -> str | None:
    """What the last step of the objective costs, in trials and every unit (``None`` where
    no budget below the measured one falls a step short)."""
    c = eb.cost_of_step()
    if c.get("from_n") is None:
        return None
    better = "higher" if eb.maximize else "lower"
    units = [f"{figure(c[f'extra_{u}'])} {lab}" for u, lab in
             (("gpu_hours", hours_unit), ("energy_kwh", "kWh"), ("co2e_kg", "kgCO2e"))
             if f"extra_{u}" in c]
    if "extra_usd" in c:
        units.append(f"${figure(c['extra_usd'])}")
    return (
        f"The last {eb.step:g} of the objective ({better} is better; expected best "
        f"{c['from_score']:.4g} → {c['best_at_N']:.4g}, unbiased estimator) takes "
        f"{c['extra_trials']} more trials ({c['from_n']} → {c['N']}): " + ", ".join(units) + "."
    )
