"""Section 1: what drives the objective and the per-trial cost (Optuna's importances)."""

from __future__ import annotations

from tunecost.reports import plots
from tunecost.reports.context import ReportContext
from tunecost.reports.importance import TARGETS, ImportanceResult, param_importances
from tunecost.reports.render import Block, Image, Para, Table
from tunecost.reports.sections.base import Section

__all__ = ["ImportanceSection", "importance_line"]

_EVALUATORS = {"ped_anova": "PED-ANOVA", "fanova": "fANOVA"}

STEP = "parameter importances"
"""The progress step's name while the importances are computed."""


class ImportanceSection(Section):
    """Importances of every hyperparameter for the objective, duration and energy."""

    title = "1. What drives the objective, and the cost"

    def applies(self, ctx: ReportContext) -> bool:
        return len(ctx.complete) >= 2

    def unavailable(self, ctx: ReportContext) -> str:
        return ("Not available: no measured trials were given (pass --records FILE.jsonl, "
                "--optuna-storage URL --study NAME or --ray-results DIR --metric M).")

    def render(self, ctx: ReportContext) -> list[Block]:
        cal = ctx.inputs.calibration
        ctx.tick(STEP, 0, 1)
        imp = param_importances(ctx.inputs.records, space=cal.space if cal is not None else None,
                                direction=ctx.inputs.direction, seed=ctx.inputs.seed)
        ctx.tick(STEP, 1, 1)
        ctx.findings.importance = imp
        blocks = _importance_blocks(imp)
        ctx.tables["importance"] = imp.to_rows()
        png = plots.importance_png(imp.importances, imp.params, ctx.out / "importance.png")
        ctx.pngs.append(png)
        blocks.append(Image(png, "parameter importances", ["importance.csv"]))
        ctx.data["importance"] = {"importances": imp.importances, "params": imp.params,
                                  "n_trials": imp.n_trials, "notes": imp.notes}
        return blocks


def _importance_blocks(imp: ImportanceResult) -> list[Block]:
    """How the importances were computed, their notes, and the table of them."""
    evs = list(imp.importances)
    blocks: list[Block] = [Para(
        "Importances from Optuna's evaluators over the measured trials, one study per target: "
        "PED-ANOVA (what separates the best 10 % of trials from the rest)"
        + (" and fANOVA (share of the variance, random forest)" if "fanova" in evs else "")
        + ". Cost targets are minimised. Each column sums to 1.")]
    blocks += [Para(n, "note") for n in imp.notes]
    cols = ["parameter"] + [
        f"{_EVALUATORS[ev]}: {t}" for ev in evs for t in imp.importances[ev]
    ]
    rows = [[p] + [f"{imp.importances[ev][t][p]:.3f}" for ev in evs for t in imp.importances[ev]]
            for p in imp.params]
    blocks.append(Table(cols, rows, f"{max(imp.n_trials.values())} complete trials"))
    return blocks


def importance_line(imp: ImportanceResult) -> str:
    """The summary's line: the most important hyperparameter of each target, by fANOVA where
    it ran, else by PED-ANOVA."""
    ev = "fanova" if "fanova" in imp.importances else "ped_anova"
    parts = []
    for t in TARGETS:
        top = imp.top(t, ev)
        if top is not None:
            parts.append(f"{t.replace('_', ' ')}: {top} ({imp.importances[ev][t][top]:.2f})")
    return f"Most important hyperparameter ({_EVALUATORS[ev]}): " + "; ".join(parts) + "."
