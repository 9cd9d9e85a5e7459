"""A plain table of already-formatted cells, so every reproduction renders the same way."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class TextTable:
    """A titled table of strings with footnotes; the CLI renders it with rich."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    notes: tuple[str, ...] = field(default=())


class Reproduction(Protocol):
    """What reproducing a paper yields: machine-readable numbers and readable tables."""

    def to_dict(self) -> dict[str, Any]:
        """Unrounded numbers, JSON-serialisable."""
        ...

    def tables(self) -> list[TextTable]:
        """The paper's tables, formatted as the paper prints them, with notes on each input."""
        ...


def money(value: float) -> str:
    """Format dollars the way the paper prints them (no cents)."""
    return f"${value:,.0f}"
