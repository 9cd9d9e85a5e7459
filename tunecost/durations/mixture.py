"""Finite mixtures of duration models, e.g. crashed jobs plus jobs that ran to completion."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tunecost._rng import RngLike
from tunecost.durations._base import _as_float, _fail, _generator
from tunecost.exceptions import ConfigError

__all__ = ["Mixture"]


@dataclass(frozen=True, slots=True)
class Mixture:
    """A finite mixture, e.g. crashed jobs plus jobs that ran to completion.

    Each element first picks a component with probability ``weights[j]``, then draws from it.
    Sampling is vectorised: one uniform draw per element, looked up in the cumulative weights
    (what ``rng.choice(m, p=weights)`` does, without re-checking ``p`` on every call), then one
    ``sample`` call per component that was picked (a loop over components, never over
    elements).

    Args:
        components: the component models, length ``m >= 1``.
        weights: probabilities, length ``m``, each >= 0, summing to 1 (to 1e-9).

    Example:
        >>> from tunecost.durations import Fixed
        >>> Mixture((Fixed(60.0), Fixed(120.0)), (0.25, 0.75)).mean_s
        105.0
    """

    components: tuple[Any, ...]
    weights: tuple[float, ...]
    _cum: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        components = tuple(self.components)
        weights = tuple(_as_float("weights[j]", w) for w in self.weights)
        if not components:
            raise _fail("len(components) >= 1", components=components)
        if len(weights) != len(components):
            raise _fail(
                "len(weights) == len(components)",
                len_weights=len(weights),
                len_components=len(components),
            )
        for j, c in enumerate(components):
            if not callable(getattr(c, "sample", None)):
                raise ConfigError(
                    f"`components[{j}]` must be a DurationModel with a `sample` method, "
                    f"but got {c!r}"
                )
        if any(not (0.0 <= w < math.inf) for w in weights):
            raise _fail("0 <= weights[j] < inf for every j", weights=weights)
        if not math.isclose(sum(weights), 1.0, rel_tol=0.0, abs_tol=1e-9):
            raise _fail("sum(weights) == 1", weights=weights, sum=sum(weights))
        object.__setattr__(self, "components", components)
        object.__setattr__(self, "weights", weights)
        cum = np.cumsum(weights)
        cum /= cum[-1]
        cum.flags.writeable = False
        object.__setattr__(self, "_cum", cum)

    @property
    def mean_s(self) -> float:
        """Mean duration in seconds, the weighted mean of the components' ``mean_s``."""
        return math.fsum(
            w * c.mean_s for w, c in zip(self.weights, self.components, strict=True) if w > 0
        )

    def sample(self, shape: tuple[int, ...], *, rng: RngLike) -> np.ndarray:
        """Draw durations in seconds, float64 array of ``shape``."""
        rng = _generator(rng)
        n = math.prod(shape)
        # A zero-weight component repeats its predecessor's cumulative weight: never picked.
        which = self._cum.searchsorted(rng.random(n), side="right")
        out = np.empty(n, dtype=np.float64)
        for j, component in enumerate(self.components):
            mask = which == j
            k = int(np.count_nonzero(mask))
            if k:
                out[mask] = component.sample((k,), rng=rng)
        return out.reshape(shape)
