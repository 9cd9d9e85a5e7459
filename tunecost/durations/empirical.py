"""Resampling recorded durations: the empirical distribution of a measured study."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tunecost._rng import RngLike
from tunecost.durations._base import _fail, _generator
from tunecost.exceptions import ConfigError

__all__ = ["Empirical"]


# eq=False: equality of two recordings is identity, since ndarray == ndarray is elementwise.
@dataclass(frozen=True, slots=True, eq=False)
class Empirical:
    """Resample recorded durations with replacement (the empirical distribution).

    Args:
        durations_s: recorded durations in seconds, shape ``(n,)`` with ``n >= 1``, each > 0
            and finite. A read-only float64 copy is stored, so later edits to the caller's
            array do not change the model.

    Example:
        >>> Empirical([60.0, 120.0]).mean_s
        90.0
    """

    durations_s: np.ndarray

    def __post_init__(self) -> None:
        try:
            arr = np.array(self.durations_s, dtype=np.float64, copy=True)
        except (TypeError, ValueError):
            raise ConfigError(
                f"`durations_s` must be a 1-D sequence of numbers, but got {self.durations_s!r}"
            ) from None
        if arr.ndim != 1 or arr.size == 0:
            raise _fail("durations_s.ndim == 1 and durations_s.size >= 1", shape=arr.shape)
        bad = ~(np.isfinite(arr) & (arr > 0))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise _fail("0 < durations_s[i] < inf for every i", i=i, value=float(arr[i]))
        arr.flags.writeable = False
        object.__setattr__(self, "durations_s", arr)

    @property
    def mean_s(self) -> float:
        """Mean of the recorded durations in seconds."""
        return float(self.durations_s.mean())

    def sample(self, shape: tuple[int, ...], *, rng: RngLike) -> np.ndarray:
        """Draw recorded durations uniformly with replacement, float64 array of ``shape``."""
        idx = _generator(rng).integers(0, self.durations_s.size, size=shape)
        return np.asarray(self.durations_s[idx], dtype=np.float64)
