"""The report's first lines: the "Summary" heading and the P5/P50/P95 table of the totals."""

from __future__ import annotations

from tunecost.reports.context import ReportContext
from tunecost.reports.inputs import DEFAULT_CAMPAIGN
from tunecost.reports.render import Block
from tunecost.reports.sections.base import Section
from tunecost.reports.totals import totals_data, totals_table

__all__ = ["TotalsSection"]


class TotalsSection(Section):
    """The answer first: the campaign's totals (no table without a campaign)."""

    title = "Summary"

    def render(self, ctx: ReportContext) -> list[Block]:
        blocks: list[Block] = []
        if ctx.run is not None:
            blocks.append(totals_table(ctx.run.summary))
            ctx.data["totals"] = totals_data(ctx.run.summary)
        if ctx.inputs.assumed:
            ctx.data["assumed_campaign"] = DEFAULT_CAMPAIGN
        return blocks
