"""A report section: one required method, :meth:`Section.render`; the rest has defaults."""

from __future__ import annotations

import abc
from typing import ClassVar

from tunecost.reports.context import ReportContext
from tunecost.reports.render import Block, Heading, Para

__all__ = ["Section", "section_blocks"]


class Section(abc.ABC):
    """One part of the report, rendered from the shared :class:`ReportContext`.

    A section computes what it shows, writes its plots into ``ctx.out`` (adding them to
    ``ctx.pngs``), its tables into ``ctx.tables``, its JSON entries into ``ctx.data``, and
    leaves what other sections read in ``ctx.findings``. Only :meth:`render` is required.

    Attributes:
        title: the heading written above the section's blocks (``None``: no heading).
        level: the heading's level (2: a numbered section; 3: a subsection).
        needs: names of the sections whose findings :meth:`render` reads; those are
            rendered first, wherever the registry places them (the summary at the top reads
            every analysis below it).
    """

    title: ClassVar[str | None] = None
    level: ClassVar[int] = 2
    needs: ClassVar[tuple[str, ...]] = ()

    def applies(self, ctx: ReportContext) -> bool:
        """Whether the inputs allow this section (default: always)."""
        return True

    def unavailable(self, ctx: ReportContext) -> str | None:
        """Where :meth:`applies` is false, the note that says which input is missing
        (``None``, the default: the section is left out without a word)."""
        return None

    @abc.abstractmethod
    def render(self, ctx: ReportContext) -> list[Block]:
        """The section's blocks, below its title; called only where :meth:`applies`."""


def section_blocks(section: Section, ctx: ReportContext) -> list[Block]:
    """What ``section`` puts in the report: its title, then its blocks where it applies,
    else the note that says what it needs (or nothing at all, without a note)."""
    if section.applies(ctx):
        body = section.render(ctx)
    else:
        why = section.unavailable(ctx)
        if why is None:
            return []
        body = [Para(why, "note")]
    head: list[Block] = [Heading(section.title, section.level)] if section.title else []
    return head + body
