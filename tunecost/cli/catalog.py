"""``tunecost catalog KIND``: a reference catalog, one row per figure."""

from __future__ import annotations

from typing import Annotated

import typer

from tunecost import catalog
from tunecost.cli.console import print_json, render_table
from tunecost.cli.errors import user_errors
from tunecost.papers import TextTable

__all__ = ["catalog_cmd"]

COLUMNS = {
    "accelerators": (
        "name", "tdp_w", "idle_w", "peak_bf16_tflops", "memory_gb", "embodied_kgco2e",
    ),
    "grid": ("region", "name", "g_co2e_per_kwh", "year"),
    "pue": ("key", "name", "pue", "year"),
    "prices": (
        "provider",
        "instance",
        "region",
        "accelerator",
        "n_accelerators",
        "pricing",
        "usd_per_hour",
        "year",
    ),
    "electricity": ("region", "name", "usd_per_kwh", "year"),
}
"""The columns the table shows of each catalog (``--json`` shows every column)."""


def catalog_cmd(
    kind: Annotated[str, typer.Argument(help=f"One of: {', '.join(catalog.LISTINGS)}.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print every column as JSON.")] = False,
) -> None:
    """List a reference catalog, with the source of every row in --json."""
    with user_errors():
        rows = catalog.listing(kind)
    if as_json:
        print_json({"catalog": kind, "rows": [r.model_dump(mode="json") for r in rows]})
        return
    cols = COLUMNS[kind]
    render_table(
        TextTable(
            f"{kind} ({len(rows)} rows; --json shows sources)",
            cols,
            tuple(
                tuple("" if getattr(r, c) is None else str(getattr(r, c)) for c in cols)
                for r in rows
            ),
        )
    )
