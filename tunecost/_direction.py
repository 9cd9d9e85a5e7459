"""The objective's direction, spelled the way Optuna or Ray Tune users spell it.

Optuna says ``minimize``/``maximize``, Ray Tune says ``min``/``max``; both are accepted
wherever tunecost asks, and are normalised here, once, to Optuna's words.

>>> normalize_direction("max")
'maximize'
>>> normalize_direction("Minimize")
'minimize'
>>> normalize_direction("up")
Traceback (most recent call last):
...
tunecost.exceptions.ConfigError: direction must be one of minimize, maximize, min, max; got 'up'
"""

from __future__ import annotations

from typing import Literal

from tunecost.exceptions import ConfigError

Direction = Literal["minimize", "maximize"]

_ALIASES: dict[str, Direction] = {
    "minimize": "minimize",
    "maximize": "maximize",
    "min": "minimize",
    "max": "maximize",
}


def normalize_direction(value: str, *, field: str = "direction") -> Direction:
    """``minimize`` or ``maximize`` for any accepted spelling (case-insensitive).

    Args:
        value: ``minimize``, ``maximize``, ``min`` or ``max``.
        field: the name the error message gives the value (e.g. ``--mode``).

    Raises:
        ConfigError: any other value, with the accepted spellings.
    """
    key = value.strip().lower() if isinstance(value, str) else None
    if key not in _ALIASES:
        raise ConfigError(
            f"{field} must be one of minimize, maximize, min, max; got {value!r}"
        )
    return _ALIASES[key]
