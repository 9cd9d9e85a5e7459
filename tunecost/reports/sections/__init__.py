"""The report's sections: one file each, and the registry that orders them.

Each section is a :class:`Section` with one required method, ``render(ctx)``, returning the
blocks it adds below its title; :data:`SECTIONS` lists them in reading order, and
:func:`tunecost.reports.build_report` renders each (:func:`section_blocks`) in
:func:`render_order`, then lays their blocks out in the registry's order.
"""

from __future__ import annotations

from tunecost.reports.sections.base import Section, section_blocks
from tunecost.reports.sections.registry import SECTIONS, render_order

__all__ = ["SECTIONS", "Section", "render_order", "section_blocks"]
