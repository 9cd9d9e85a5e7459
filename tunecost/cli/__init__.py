"""The ``tunecost`` command line: each command parses, calls one public function, renders.

One file per command (:mod:`.reproduce`, :mod:`.estimate`, :mod:`.catalog`,
:mod:`.simulate`, :mod:`.calibrate`, :mod:`.report`, :mod:`.watch`); the Typer app is in
:mod:`.app`, the consoles, JSON and tables in :mod:`.console`, one-line errors and warnings in
:mod:`.errors`, progress bars in :mod:`.progress`, SIGTERM handling in :mod:`.signals`.
"""

from __future__ import annotations

from tunecost.cli import calibrate, catalog, estimate, report, reproduce, simulate, watch
from tunecost.cli.app import app

__all__ = ["app", "main"]

# Registered here, in the order `tunecost --help` lists them.
app.command()(reproduce.reproduce)
app.command()(estimate.estimate)
app.command("catalog")(catalog.catalog_cmd)
app.command()(simulate.simulate)
app.command()(calibrate.calibrate)
app.command()(report.report)
app.command()(watch.watch)


def main() -> None:
    """Console-script entry point."""
    app()
