"""The :class:`DurationModel` protocol and the validation helpers every model shares."""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

import numpy as np

from tunecost._rng import RngLike, as_generator
from tunecost.exceptions import ConfigError

__all__ = ["DurationModel"]

# Smallest and largest positive finite float64: heavy-tailed draws (gamma with cv >> 1,
# weibull with shape << 1) can underflow to 0 or overflow to inf, which would break the
# "all > 0 and finite" contract; clipping moves them by less than any cost can resolve.
_TINY = float(np.finfo(np.float64).tiny)
_HUGE = float(np.finfo(np.float64).max)
_LOG_HUGE = math.log(_HUGE)


@runtime_checkable
class DurationModel(Protocol):
    """A distribution of trial durations at full fidelity.

    Implementations are immutable and validated on construction. Shipped models also expose a
    ``mean_s`` property (the exact mean in seconds); it is a convention, not part of the
    protocol, so a user model needs only :meth:`sample`.

    The simulator always passes a ``numpy.random.Generator``; the shipped models also accept
    any seed ``tunecost._rng.as_generator`` takes (an int, a ``SeedSequence``, ``None``).
    """

    def sample(self, shape: tuple[int, ...], *, rng: np.random.Generator) -> np.ndarray:
        """Draw i.i.d. trial durations.

        Args:
            shape: shape of the result, e.g. ``(n_reps, n_trials)``; ``()`` and ``(0,)`` allowed.
            rng: the generator to draw from (normalise user seeds with
                ``tunecost._rng.as_generator`` first).

        Returns:
            Durations in seconds, float64, shape exactly ``shape``, every element > 0 and finite.
        """
        ...


def _generator(rng: RngLike) -> np.random.Generator:
    """``rng`` as a Generator; a Generator passes straight through (no call at all: ``sample``
    runs thousands of times per simulation)."""
    return rng if isinstance(rng, np.random.Generator) else as_generator(rng)


def _fail(rule: str, **values: object) -> ConfigError:
    got = ", ".join(f"{k}={v!r}" for k, v in values.items())
    return ConfigError(f"`{rule}` must hold, but got {got}")


def _as_float(name: str, value: object) -> float:
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(f"`{name}` must be a real number, but got {name}={value!r}") from None
    if math.isnan(out):
        raise _fail(f"{name} is not NaN", **{name: value})
    return out


def _positive_finite(name: str, value: object) -> float:
    out = _as_float(name, value)
    if not (0.0 < out < math.inf):
        raise _fail(f"0 < {name} < inf", **{name: out})
    return out


def _clip(x: np.ndarray, lo: float = _TINY, hi: float = _HUGE) -> np.ndarray:
    # asarray: numpy ufuncs return a scalar, not a 0-d array, when shape == ().
    return np.asarray(np.clip(x, lo, hi), dtype=np.float64)
