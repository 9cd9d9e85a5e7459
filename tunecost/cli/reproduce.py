"""``tunecost reproduce PAPER``: a paper's cost tables, recomputed from its own inputs."""

from __future__ import annotations

from typing import Annotated

import typer

from tunecost import papers
from tunecost.cli.console import print_json, render_table
from tunecost.cli.errors import user_errors

__all__ = ["reproduce"]


def reproduce(
    paper: Annotated[str, typer.Argument(help=f"Paper key: {', '.join(papers.PAPERS)}.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print unrounded numbers as JSON.")
    ] = False,
) -> None:
    """Recompute a paper's cost tables from its own inputs, each quirk explained."""
    with user_errors():
        result = papers.reproduce(paper)
    if as_json:
        print_json(result.to_dict())
        return
    for table in result.tables():
        render_table(table)
