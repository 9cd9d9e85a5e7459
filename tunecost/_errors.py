"""One-line messages for errors that reach the user."""

from __future__ import annotations

from pydantic import ValidationError


def one_line(exc: BaseException) -> str:
    """Describe ``exc`` in one line: for pydantic errors, each field, its rule and its value."""
    if isinstance(exc, ValidationError):
        parts = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or exc.title
            got = err.get("input")
            shown = "" if isinstance(got, dict) else f" (got {got!r})"
            parts.append(f"{loc}: {err['msg']}{shown}")
        return "; ".join(parts)
    if isinstance(exc, FileNotFoundError):
        return f"no such file: {exc.filename}"
    return " ".join(str(exc).split())
