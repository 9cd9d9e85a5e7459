"""The report's last list: where each assumption of the simulated campaign came from."""

from __future__ import annotations

from tunecost.reports.context import ReportContext
from tunecost.reports.render import Block, Items
from tunecost.reports.sections.base import Section

__all__ = ["SourcesSection"]


class SourcesSection(Section):
    """The simulation's sources, reference run, replicates and seed."""

    title = "Assumptions and sources"
    level = 3

    def applies(self, ctx: ReportContext) -> bool:
        return ctx.run is not None

    def render(self, ctx: ReportContext) -> list[Block]:
        assert ctx.run is not None  # applies() checked it
        result = ctx.run.result
        items = [f"{k}: {v}" for k, v in result.assumptions["sources"].items()]
        items.append(f"reference run: {result.reference_how}")
        items.append(f"{result.replicates:,} replicates, seed {result.seed}")
        return [Items(items)]
