"""Reproductions of published cost figures, computed from the papers' own inputs.

Example:
    >>> from tunecost import papers
    >>> sorted(papers.PAPERS)
    ['patterson2021', 'strubell2019']
    >>> round(papers.reproduce("strubell2019").to_dict()["table1"][3]["co2e_lbs"])
    626155
"""

from __future__ import annotations

from collections.abc import Callable

from tunecost.exceptions import CatalogKeyError
from tunecost.papers import patterson2021, strubell2019
from tunecost.papers._table import Reproduction, TextTable

__all__ = ["PAPERS", "Reproduction", "TextTable", "reproduce"]

PAPERS: dict[str, Callable[[], Reproduction]] = {
    "strubell2019": strubell2019.reproduce,
    "patterson2021": patterson2021.reproduce,
}
"""Registry: paper key → function computing its tables."""


def reproduce(paper: str) -> Reproduction:
    """Compute the tables of ``paper`` (a key of :data:`PAPERS`)."""
    try:
        fn = PAPERS[paper.strip().lower()]
    except KeyError:
        raise CatalogKeyError("paper", paper, PAPERS) from None
    return fn()
