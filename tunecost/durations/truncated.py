"""Exact truncation of a duration distribution to ``[min_s, max_s]``, and the closed-form
mean of a truncated log-normal."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.special

from tunecost._rng import RngLike
from tunecost.durations._base import _TINY, _as_float, _clip, _fail, _generator
from tunecost.durations.parametric import LogNormal
from tunecost.exceptions import ConfigError

__all__ = ["Truncated"]

_QUANTILE_METHODS = ("_cdf", "_sf", "_ppf", "_isf")


def _log_ndtr_diff(lo: float, hi: float) -> float:
    """log(Phi(hi) - Phi(lo)) for lo < hi, accurate in both tails."""
    if lo > 0.0:
        # Phi(hi) - Phi(lo) == Phi(-lo) - Phi(-hi); reflect so both terms are small, not ~1.
        lo, hi = -hi, -lo
    log_hi = float(scipy.special.log_ndtr(hi))
    log_lo = float(scipy.special.log_ndtr(lo))
    return log_hi + math.log1p(-math.exp(log_lo - log_hi))


def _log_truncated_lognormal_mean(mu: float, sigma: float, min_s: float, max_s: float) -> float:
    """Log of E[X | min_s < X < max_s] for X ~ LogNormal(mu, sigma), in closed form."""
    # E[X; a<X<b] = exp(mu + s^2/2) (Phi(beta - s) - Phi(alpha - s)), with alpha, beta the
    # standardised log-bounds; dividing by P(a<X<b) conditions on the interval.
    alpha = (math.log(min_s) - mu) / sigma if min_s > 0 else -math.inf
    beta = (math.log(max_s) - mu) / sigma
    return (
        mu
        + 0.5 * sigma**2
        + _log_ndtr_diff(alpha - sigma, beta - sigma)
        - _log_ndtr_diff(alpha, beta)
    )


@dataclass(frozen=True, slots=True)
class _FrozenQuantiles:
    """A ``scipy.stats`` frozen distribution's CDF, survival function and their inverses,
    for a user base without the shipped families' ``scipy.special`` forms. Frozen once, when
    the :class:`Truncated` is built, never per draw."""

    dist: Any

    def _cdf(self, x: Any) -> Any:
        return self.dist.cdf(x)

    def _sf(self, x: Any) -> Any:
        return self.dist.sf(x)

    def _ppf(self, q: Any) -> Any:
        return self.dist.ppf(q)

    def _isf(self, q: Any) -> Any:
        return self.dist.isf(q)


@dataclass(frozen=True, slots=True)
class Truncated:
    """Exact truncation of ``base`` to ``[min_s, max_s]``.

    Sampling is by inverse CDF: draw ``u`` uniformly between ``cdf(min_s)`` and ``cdf(max_s)``
    and return ``ppf(u)``. It is vectorised and costs the same however little mass the
    interval holds. When the interval sits in the upper tail it works with the
    survival function instead, where float64 still resolves the probabilities. The bounds'
    probabilities are computed once, here; a draw is one ``rng.uniform`` and one inverse
    written with ``scipy.special`` (a log-normal: ``exp(mu + sigma * ndtri(u))``), without
    ``scipy.stats`` and its per-call argument checking.

    One exception: a :class:`Gamma` base, whose inverse (``gammaincinv``) costs about twenty
    gamma draws per value, is sampled by rejection (draw from the base, keep what falls in
    the interval) while the interval holds at least half its mass; the distribution is the
    same.

    Args:
        base: a shipped :class:`LogNormal`, :class:`Gamma`, :class:`Weibull` or
            :class:`Uniform`, or any model exposing ``.dist``, a ``scipy.stats`` frozen
            distribution in seconds (frozen once, here).
        min_s: lower bound in seconds, >= 0 (0 means no lower truncation).
        max_s: upper bound in seconds, > ``min_s``; ``inf`` means no upper truncation.

    Example:
        >>> model = Truncated(LogNormal(3600.0, 1.0), min_s=600.0, max_s=7200.0)
        >>> x = model.sample((1000,), rng=1)
        >>> bool(x.min() >= 600.0 and x.max() <= 7200.0)
        True
    """

    base: Any
    min_s: float = 0.0
    max_s: float = math.inf
    _upper_tail: bool = field(init=False, repr=False, compare=False)
    _p_lo: float = field(init=False, repr=False, compare=False)
    _p_hi: float = field(init=False, repr=False, compare=False)
    _q: Any = field(init=False, repr=False, compare=False)  # has _cdf, _sf, _ppf, _isf
    _floor_s: float = field(init=False, repr=False, compare=False)
    _reject: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if all(callable(getattr(self.base, m, None)) for m in _QUANTILE_METHODS):
            q: Any = self.base
        else:
            dist = getattr(self.base, "dist", None)
            if dist is None or not hasattr(dist, "ppf"):
                raise ConfigError(
                    "`base` must be a LogNormal, Gamma, Weibull or Uniform, or expose `.dist`, "
                    f"a scipy.stats frozen distribution, but got base={self.base!r}"
                )
            q = _FrozenQuantiles(dist)
        min_s = _as_float("min_s", self.min_s)
        max_s = _as_float("max_s", self.max_s)
        if not (0.0 <= min_s < max_s):
            raise _fail("0 <= min_s < max_s", min_s=min_s, max_s=max_s)
        object.__setattr__(self, "min_s", min_s)
        object.__setattr__(self, "max_s", max_s)
        cdf_lo, cdf_hi = float(q._cdf(min_s)), float(q._cdf(max_s))
        sf_lo, sf_hi = float(q._sf(min_s)), float(q._sf(max_s))
        # Above the median, 1 - cdf loses digits that sf keeps; pick the accurate side.
        upper = sf_lo < cdf_lo
        p_lo, p_hi = (sf_hi, sf_lo) if upper else (cdf_lo, cdf_hi)
        if not p_hi > p_lo:
            raise ConfigError(
                f"the base distribution must put probability in [min_s, max_s], but got "
                f"P=0 for min_s={min_s!r}, max_s={max_s!r}, base={self.base!r}"
            )
        object.__setattr__(self, "_upper_tail", upper)
        object.__setattr__(self, "_p_lo", p_lo)
        object.__setattr__(self, "_p_hi", p_hi)
        object.__setattr__(self, "_q", q)
        # ppf/isf round-off can step a hair outside the bounds; a min_s of 0 can yield ppf(0)=0.
        object.__setattr__(self, "_floor_s", max(min_s, _TINY))
        threshold = getattr(self.base, "_rejection_min_mass", None)
        reject = threshold is not None and p_hi - p_lo >= threshold
        object.__setattr__(self, "_reject", reject)

    @property
    def dist(self) -> Any:
        """The base's (untruncated) scipy frozen distribution."""
        return self.base.dist

    @property
    def mass(self) -> float:
        """Probability the base distribution puts in ``[min_s, max_s]``."""
        return self._p_hi - self._p_lo

    def cdf(self, x_s: np.ndarray | float) -> np.ndarray:
        """Truncated CDF at ``x_s`` seconds (any shape); 0 below ``min_s``, 1 above ``max_s``."""
        x = np.clip(np.asarray(x_s, dtype=np.float64), self.min_s, self.max_s)
        if self._upper_tail:
            return np.asarray((self._p_hi - self._q._sf(x)) / self.mass)
        return np.asarray((self._q._cdf(x) - self._p_lo) / self.mass)

    @property
    def mean_s(self) -> float:
        """Mean duration in seconds, ``E[X | min_s <= X <= max_s]``.

        Closed form for a :class:`LogNormal` base; otherwise ``dist.expect(..., conditional=True)``
        (adaptive quadrature of ``x * pdf(x)``).
        """
        if isinstance(self.base, LogNormal):
            return math.exp(
                _log_truncated_lognormal_mean(
                    self.base.mu, self.base.sigma, self.min_s, self.max_s
                )
            )
        return float(self.dist.expect(lambda x: x, lb=self.min_s, ub=self.max_s, conditional=True))

    def sample(self, shape: tuple[int, ...], *, rng: RngLike) -> np.ndarray:
        """Draw durations in seconds within ``[min_s, max_s]``, float64 array of ``shape``."""
        rng = _generator(rng)
        if self._reject:
            return self._sample_by_rejection(shape, rng)
        u = rng.uniform(self._p_lo, self._p_hi, size=shape)
        x = self._q._isf(u) if self._upper_tail else self._q._ppf(u)
        return _clip(x, self._floor_s, self.max_s)

    def _sample_by_rejection(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        # Each round draws what is still missing divided by the mass, plus a margin, from the
        # base and keeps the draws inside the interval, in order: i.i.d. from the truncated
        # distribution. Rarely more than one round (mass >= 1/2 by construction).
        n = math.prod(shape)
        out = np.empty(n, dtype=np.float64)
        filled = 0
        while filled < n:
            need = n - filled
            x = self.base._draw((int(need / self.mass * 1.02) + 32,), rng)
            x = x[(x >= self.min_s) & (x <= self.max_s)][:need]
            out[filled : filled + x.size] = x
            filled += x.size
        return _clip(out, self._floor_s, self.max_s).reshape(shape)
