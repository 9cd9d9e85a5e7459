"""``tunecost report``: write the report folder, then print its answer: totals, tuning
multiplier, what moves them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from tunecost.cli.console import out as stdout
from tunecost.cli.errors import user_errors
from tunecost.cli.progress import steps_bar
from tunecost.cli.signals import sigterm_exits

if TYPE_CHECKING:
    from tunecost.reports import ReportFiles

__all__ = ["report"]


def report(
    out: Annotated[
        Path,
        typer.Option(help="Folder to write the report into (new, empty, or a previous report: "
                     "it is replaced whole)."),
    ],
    config: Annotated[
        Path | None, typer.Argument(help="Campaign file (.yaml, .yml or .toml).")
    ] = None,
    calibration: Annotated[
        Path | None,
        typer.Option(help="Calibration JSON; alone, the campaign is its study re-run."),
    ] = None,
    records: Annotated[
        Path | None, typer.Option(help="Measured trials (JSON Lines): importances, expected max.")
    ] = None,
    repeats: Annotated[
        Path | None, typer.Option(help="Repeated configurations (JSON Lines): seed variance.")
    ] = None,
    optuna_storage: Annotated[
        str | None, typer.Option(help="Optuna storage URL to read the trials from.")
    ] = None,
    study: Annotated[str | None, typer.Option(help="Optuna study name.")] = None,
    ray_results: Annotated[
        Path | None,
        typer.Option(help="Ray Tune experiment folder to read the trials from (needs --metric)."),
    ] = None,
    metric: Annotated[str | None, typer.Option(help="Objective key in Ray results.")] = None,
    accelerator: Annotated[
        str | None, typer.Option(help="Catalog accelerator of the measured trials.")
    ] = None,
    direction: Annotated[
        str | None,
        typer.Option(
            "--direction", "--mode",
            help="min/minimize or max/maximize (default: the calibration's or the study's, "
            "else minimize).",
        ),
    ] = None,
    replicates: Annotated[
        int | None, typer.Option(help="Campaign replicates (default: the config's).")
    ] = None,
    engine: Annotated[
        str,
        typer.Option(help="'vectorized', 'replay' or 'auto', as in tunecost simulate."),
    ] = "auto",
    sobol_n: Annotated[int, typer.Option(help="SALib base sample size N (power of 2).")] = 256,
    seed: Annotated[int | None, typer.Option(help="Root seed (default: the config's).")] = None,
) -> None:
    """Report: P5/P50/P95 totals, tuning multiplier, what moves them; Markdown, HTML, PNG,
    JSON and CSV."""
    from tunecost.reports import build_report

    bar, progress = steps_bar()
    # SIGTERM (`kill`, a CI timeout) raises SystemExit(143), so the report's clean-up runs
    # and no temporary folder is left beside --out (as on Ctrl-C).
    with sigterm_exits(), user_errors(), bar:
        files = build_report(
            config,
            out=out,
            calibration=calibration,
            records=records,
            repeats=repeats,
            optuna_storage=optuna_storage,
            study=study,
            ray_results=ray_results,
            metric=metric,
            accelerator=accelerator,
            direction=direction,
            replicates=replicates,
            engine=engine,
            sobol_n=sobol_n,
            seed=seed,
            progress=progress,
        )
    _render_answer(files)


def _render_answer(files: ReportFiles) -> None:
    """The answer first, in the report's order: totals, tuning multiplier, what moves them;
    then the files written."""
    # Names and paths are plain text: rich would read "run[/bold].yaml" as markup and ":x:"
    # as an emoji.
    if files.totals:
        n_reps = files.data["totals"]["replicates"]
        t = Table(title=Text(f"{files.data['title']}: {n_reps:,} replicates"),
                  title_justify="left")
        for i, col in enumerate(("total", "P5", "P50", "P95")):
            t.add_column(Text(col), justify="left" if i == 0 else "right")
        for row in files.totals:
            t.add_row(*(Text(c) for c in row))
        stdout.print(t)
    for line in (files.multiplier, files.headline):
        if line:
            stdout.print(line, markup=False, emoji=False, highlight=False, soft_wrap=True)
    stdout.print(
        f"wrote {files.html}, {files.markdown}, {files.json}, "
        f"{len(files.pngs)} PNG and {len(files.csvs)} CSV files in {files.out}",
        markup=False,
        emoji=False,
        highlight=False,
        soft_wrap=True,
    )
