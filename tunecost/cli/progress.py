"""Progress bars on stderr, shown only where stderr is a terminal."""

from __future__ import annotations

from typing import Any

from rich.markup import escape

from tunecost.cli.console import err

__all__ = ["replicates_bar", "steps_bar"]


def replicates_bar() -> tuple[Any, Any]:
    """A bar of replicates simulated, with the time remaining: ``(bar, task)``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=not err.is_terminal,
        transient=True,
    )
    return bar, bar.add_task("replicates", total=None)


def steps_bar() -> tuple[Any, Any]:
    """One bar per named step, with the time elapsed: ``(bar, progress)``, where
    ``progress(step, done, total)`` adds the step's bar the first time and advances it."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=not err.is_terminal,
        transient=True,
    )
    tasks: dict[str, Any] = {}

    def progress(step: str, done: int, total: int) -> None:
        if step not in tasks:
            tasks[step] = bar.add_task(escape(step), total=total)
        bar.update(tasks[step], completed=done, total=total)

    return bar, progress
