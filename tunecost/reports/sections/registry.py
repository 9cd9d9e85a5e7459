"""The report's sections, in reading order; :func:`render_order` says in which to render them."""

from __future__ import annotations

from collections.abc import Mapping

from tunecost.reports.sections.answer import AnswerSection
from tunecost.reports.sections.base import Section
from tunecost.reports.sections.breakdown import BreakdownSection
from tunecost.reports.sections.closing import ClosingSection
from tunecost.reports.sections.expected_best import ExpectedBestSection
from tunecost.reports.sections.importance import ImportanceSection
from tunecost.reports.sections.marginals import MarginalsSection
from tunecost.reports.sections.seed_variance import SeedVarianceSection
from tunecost.reports.sections.sensitivity import SensitivitySection
from tunecost.reports.sections.sources import SourcesSection
from tunecost.reports.sections.totals import TotalsSection

__all__ = ["SECTIONS", "render_order"]

SECTIONS: dict[str, Section] = {
    "totals": TotalsSection(),
    "answer": AnswerSection(),
    "importance": ImportanceSection(),
    "marginals": MarginalsSection(),
    "seed_variance": SeedVarianceSection(),
    "expected_best": ExpectedBestSection(),
    "breakdown": BreakdownSection(),
    "sensitivity": SensitivitySection(),
    "closing": ClosingSection(),
    "sources": SourcesSection(),
}
"""Every section of the report by name, in the order the report reads: the answer first
(totals, then the lines that sum up the analyses), the analyses, the closing note, sources."""


def render_order(sections: Mapping[str, Section]) -> list[str]:
    """The names of ``sections`` in the order to render them: the registry's, except that a
    section waits until every section it :attr:`~Section.needs` is rendered.

    Example:
        >>> from tunecost.reports.sections.base import Section
        >>> class Plain(Section):
        ...     def render(self, ctx): return []
        >>> class Summary(Plain):
        ...     needs = ("b",)
        >>> render_order({"a": Plain(), "summary": Summary(), "b": Plain(), "c": Plain()})
        ['a', 'b', 'summary', 'c']

    Raises:
        ValueError: sections that wait on each other, or on a section not in ``sections``.
    """
    done: list[str] = []
    waiting = list(sections)
    while waiting:
        ready = next((n for n in waiting if all(d in done for d in sections[n].needs)), None)
        if ready is None:
            raise ValueError(
                f"report sections {waiting} wait on each other or on a section not in the "
                "registry"
            )
        done.append(ready)
        waiting.remove(ready)
    return done
