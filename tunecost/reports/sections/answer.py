"""The answer beneath the totals: the tuning multiplier, what moves the totals most, the notes
on the inputs, the most important hyperparameter and the cost of the last step of the
objective; then where every input came from."""

from __future__ import annotations

from tunecost.reports.context import ReportContext
from tunecost.reports.render import Block, Para
from tunecost.reports.sections.base import Section
from tunecost.reports.sections.expected_best import step_line
from tunecost.reports.sections.importance import importance_line

__all__ = ["AnswerSection"]


class AnswerSection(Section):
    """One line per finding, in the order a reader asks: how much more than one run, which
    assumption moves it, what to know about the inputs, what drives the objective."""

    needs = ("importance", "expected_best", "breakdown", "sensitivity")

    def render(self, ctx: ReportContext) -> list[Block]:
        found = ctx.findings
        multiplier = (found.breakdown.explosion(ctx.hours_unit)
                      if found.breakdown is not None else None)
        blocks: list[Block] = []
        if multiplier is not None:
            blocks.append(Para(multiplier))
        if found.tornado is not None:
            blocks.append(Para(found.tornado.headline(), "headline"))
        blocks += [Para(n, "note") for n in _notes(ctx)]
        if found.importance is not None:
            blocks.append(Para(importance_line(found.importance)))
        if found.expected_best is not None:
            line = step_line(found.expected_best, ctx.hours_unit)
            if line:
                blocks.append(Para(line))
        blocks.append(Para("Inputs: " + "; ".join(ctx.inputs.sources) + ".", "note"))
        ctx.data["summary"] = {
            "tuning_multiplier": multiplier,
            "headline": found.tornado.headline() if found.tornado is not None else None,
        }
        return blocks


def _notes(ctx: ReportContext) -> list[str]:
    """What the reader must know about the totals, assumed campaign first."""
    notes = []
    inputs = ctx.inputs
    if inputs.assumed and inputs.campaign is not None:
        study = inputs.campaign.studies[0]
        notes.append(
            "No campaign config was given, so the campaign is the measured study re-run: "
            f"{study.strategy.n_trials} random trials on one "  # type: ignore[union-attr]
            f"{study.hardware.accelerator}, at PUE 1.0 (energy as measured, "
            "no facility overhead), "
            "the world-average grid intensity (WORLD, 475 g/kWh) and $0.12/kWh "
            "(Strubell et al.'s US average). Pass a CONFIG to set them.")
    metrics = ctx.run.summary["metrics"] if ctx.run is not None else None
    if metrics is not None and metrics.get("cost_usd") is None \
            and metrics.get("electricity_usd") is None:
        notes.append("No dollars: the campaign names no cloud instance or rental rate "
                     "and no electricity price.")
    return notes + inputs.notes

