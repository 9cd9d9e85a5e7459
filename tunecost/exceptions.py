"""Exception hierarchy.

Every error tunecost raises on purpose derives from :class:`TunecostError`, so a caller (and
the CLI) can tell a problem with the input apart from a bug. Subclasses also derive from the
built-in exception a Python user would expect (``ValueError`` for bad values, ``KeyError`` for
unknown names, ``ImportError`` for a missing extra).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class TunecostError(Exception):
    """Root of every error tunecost raises on purpose."""


class ConfigError(TunecostError, ValueError):
    """A value breaks a rule; the message states the rule and the value."""


class CatalogKeyError(TunecostError, KeyError):
    """A name is not in a catalog; the message lists the closest known names.

    Args:
        catalog: which catalog was searched, e.g. ``"accelerators"``.
        key: the name that was not found.
        known: every name the catalog does hold.
    """

    def __init__(self, catalog: str, key: str, known: Iterable[str]) -> None:
        known = sorted(known)
        close = difflib.get_close_matches(key.lower(), [k.lower() for k in known], n=5, cutoff=0.4)
        by_lower = {k.lower(): k for k in known}
        hint = (
            f"closest: {', '.join(by_lower[c] for c in close)}"
            if close
            else f"known: {', '.join(known[:12])}{', ...' if len(known) > 12 else ''}"
        )
        self.catalog = catalog
        self.key = key
        super().__init__(f"unknown {catalog} name {key!r}; {hint}")

    def __str__(self) -> str:
        # KeyError.__str__ wraps the message in quotes; a user should read plain text.
        return str(self.args[0])


class MissingExtraError(TunecostError, ImportError):
    """An optional dependency is needed; the message names the pip extra that installs it."""

    def __init__(self, module: str, extra: str) -> None:
        super().__init__(
            f"{module!r} is not installed; install it with: pip install 'tunecost[{extra}]'"
        )
