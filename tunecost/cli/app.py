"""The ``tunecost`` Typer app: its help, ``--version``, and nothing else (commands are
registered by :mod:`tunecost.cli`)."""

from __future__ import annotations

from typing import Annotated

import typer

from tunecost import __version__

__all__ = ["app"]

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="What a hyperparameter search or an R&D campaign will cost, before you run it.",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tunecost {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """What a hyperparameter search or an R&D campaign will cost, before you run it."""
