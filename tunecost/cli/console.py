"""Where the commands print: stdout and stderr consoles, JSON, and text tables.

No markup and no emoji codes on either console: names, paths and messages are the user's
text (`run[/bold].yaml`, a campaign `lr sweep [/v2]`, `h100[sxm]`, `:x:`) and are printed as
they are; styles are given as `style=`, never as `[red]...[/red]` in a string.
"""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from tunecost.papers import TextTable
from tunecost.summary import format_figure

__all__ = ["err", "number", "out", "print_json", "render_table"]

out = Console(soft_wrap=False, markup=False, emoji=False)
"""The results, on stdout."""

err = Console(stderr=True, markup=False, emoji=False)
"""Errors, warnings and progress bars, on stderr."""


def print_json(obj: dict[str, Any]) -> None:
    """Print ``obj`` as JSON with ``schema_version`` first at its top level."""
    from tunecost.simulate import SCHEMA_VERSION

    typer.echo(json.dumps({"schema_version": SCHEMA_VERSION, **obj}, indent=2))


def render_table(table: TextTable) -> None:
    """Print a titled table (numbers right-aligned) and its notes, then a blank line."""
    t = Table(title=table.title, title_justify="left", show_lines=False)
    for i, col in enumerate(table.columns):
        t.add_column(
            col,
            justify="left" if i == 0 or col in ("how", "Hardware") else "right",
            overflow="fold",
        )
    for row in table.rows:
        t.add_row(*row)
    out.print(t)
    for note in table.notes:
        out.print(f"  • {note}", style="dim", highlight=False)
    out.print()


def number(x: float | None) -> str:
    """:func:`tunecost.summary.format_figure`: one way to print a figure, CLI and reports."""
    return format_figure(x)
