"""How the commands report trouble: one line on stderr, exit status 2 for the user's input."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import typer
from pydantic import ValidationError
from rich.text import Text

from tunecost._errors import one_line
from tunecost.cli.console import err
from tunecost.exceptions import TunecostError

__all__ = ["print_warnings", "user_errors", "warn"]


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn an error in the user's input into one line on stderr and exit status 2."""
    try:
        yield
    except (TunecostError, ValidationError, FileNotFoundError) as exc:
        err.print(Text.assemble(("error:", "red"), " ", one_line(exc)), soft_wrap=True)
        raise typer.Exit(2) from None


def warn(message: str) -> None:
    """One line on stderr: the result is computed, but something in it looks wrong."""
    err.print(Text.assemble(("warning:", "yellow"), " ", message), soft_wrap=True)


def print_warnings(caught: list[warnings.WarningMessage]) -> None:
    """Each distinct warning once, as one line (not Python's file:line + source form)."""
    seen: set[str] = set()
    for w in caught:
        if type(w.message).__name__ == "ExperimentalWarning":
            continue  # Optuna's notes on its own experimental APIs
        text = " ".join(str(w.message).split())
        if text and text not in seen:
            seen.add(text)
            err.print(f"warning: {text}", markup=False, highlight=False, soft_wrap=True)
