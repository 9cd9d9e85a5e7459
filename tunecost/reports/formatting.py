"""How the report prints a figure: fixed formats, significant figures, dollars, ``—`` if missing.

One way to print a figure across the report's tables and sentences (and the CLI's, through
:func:`tunecost.summary.format_figure`), so a number reads the same wherever it appears.
"""

from __future__ import annotations

import math
from typing import Any

from tunecost.summary import format_figure

__all__ = ["figure", "fixed", "money"]

figure = format_figure
"""Three significant figures, thousands separated from 100 up (:func:`format_figure`)."""


def fixed(x: Any, fmt: str = ",.0f") -> str:
    """``x`` in the format ``fmt``; ``—`` for a missing or non-finite value.

    Example:
        >>> fixed(1234.5), fixed(0.12345, ".4f"), fixed(None), fixed(float("nan"))
        ('1,234', '0.1235', '—', '—')
    """
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    return format(x, fmt)


def money(x: Any) -> str:
    """A dollar amount, ``$`` then :data:`figure`; ``—`` for a missing or non-finite one.

    Example:
        >>> money(1234.5), money(0.0075), money(None)
        ('$1,234', '$0.00750', '—')
    """
    return "—" if x is None or not math.isfinite(x) else f"${figure(x)}"
