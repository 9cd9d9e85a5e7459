"""The parametric duration families: fixed, log-normal, gamma, Weibull and uniform.

Besides ``sample`` and ``mean_s``, the families that :class:`~tunecost.durations.Truncated`
can truncate (all but :class:`Fixed`) carry their CDF, survival function and both inverses
as private vectorised methods ``_cdf``, ``_sf``, ``_ppf`` and ``_isf``, written with
``scipy.special`` (the same functions ``scipy.stats`` uses inside, without its per-call
argument checking); ``dist`` builds the equivalent ``scipy.stats`` frozen distribution, for
reference and tests, and is never called when sampling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import scipy.special
import scipy.stats

from tunecost._rng import RngLike
from tunecost.durations._base import (
    _LOG_HUGE,
    _as_float,
    _clip,
    _fail,
    _generator,
    _positive_finite,
)

__all__ = ["Fixed", "Gamma", "LogNormal", "Uniform", "Weibull"]


@dataclass(frozen=True, slots=True)
class Fixed:
    """Every trial takes exactly ``duration_s`` seconds.

    Args:
        duration_s: seconds, > 0 and finite.

    Example:
        >>> Fixed(60.0).sample((2,), rng=0)
        array([60., 60.])
    """

    duration_s: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "duration_s", _positive_finite("duration_s", self.duration_s))

    @property
    def mean_s(self) -> float:
        """Mean duration in seconds (the fixed duration itself)."""
        return self.duration_s

    def sample(self, shape: tuple[int, ...], *, rng: RngLike) -> np.ndarray:
        """Return ``duration_s`` in every element; ``rng`` is checked and not used."""
        _generator(rng)
        return np.full(shape, self.duration_s, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class LogNormal:
    """Log-normal durations: ``log(X) ~ Normal(log(median_s), sigma**2)``.

    The usual model for training-job lengths: positive, right-skewed, and multiplicative
    effects (model size, data size, epochs) add in log space.

    Args:
        median_s: median duration in seconds, > 0 and finite (``exp(mu)``).
        sigma: standard deviation of ``log(X)``, > 0 and finite (dimensionless).

    Example:
        >>> round(LogNormal.from_mean(7200.0, sigma=1.0).mean_s, 6)
        7200.0
    """

    median_s: float
    sigma: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "median_s", _positive_finite("median_s", self.median_s))
        sigma = _as_float("sigma", self.sigma)
        if not (0.0 < sigma < math.inf):
            raise _fail("sigma > 0", sigma=sigma)
        object.__setattr__(self, "sigma", sigma)

    @classmethod
    def from_mean(cls, mean_s: float, sigma: float) -> LogNormal:
        """Build the log-normal with mean ``mean_s`` seconds and log-sd ``sigma``.

        Args:
            mean_s: mean duration in seconds, > 0 and finite.
            sigma: standard deviation of ``log(X)``, > 0.
        """
        mean_s = _positive_finite("mean_s", mean_s)
        sigma = _as_float("sigma", sigma)
        if not (0.0 < sigma < math.inf):
            raise _fail("sigma > 0", sigma=sigma)
        return cls(median_s=mean_s * math.exp(-0.5 * sigma**2), sigma=sigma)

    @property
    def mu(self) -> float:
        """Mean of ``log(X)``, i.e. the log of the median in seconds."""
        return math.log(self.median_s)

    @property
    def mean_s(self) -> float:
        """Mean duration in seconds, ``exp(mu + sigma**2 / 2)``.

        Raises:
            ConfigError: the mean is beyond float64 (``sigma`` of about 37 or more).
        """
        log_mean = self.mu + 0.5 * self.sigma**2
        if log_mean >= _LOG_HUGE:
            raise _fail(
                "log(median_s) + sigma**2 / 2 < 709.78 (a mean float64 can hold)",
                median_s=self.median_s, sigma=self.sigma,
            )
        return math.exp(log_mean)

    @property
    def dist(self) -> Any:
        """The equivalent ``scipy.stats.lognorm`` frozen distribution (seconds)."""
        return scipy.stats.lognorm(s=self.sigma, scale=self.median_s)

    def sample(self, shape: tuple[int, ...], *, rng: RngLike) -> np.ndarray:
        """Draw durations in seconds, float64 array of ``shape``."""
        return _clip(_generator(rng).lognormal(self.mu, self.sigma, size=shape))

    # Standardised log: z = (log x - mu) / sigma; F(x) = Phi(z), S(x) = Phi(-z).
    def _z(self, x_s: Any) -> Any:
        with np.errstate(divide="ignore"):  # log(0) = -inf: F(0) = 0, as it should
            return (np.log(x_s) - self.mu) / self.sigma

    def _cdf(self, x_s: Any) -> Any:
        return scipy.special.ndtr(self._z(x_s))

    def _sf(self, x_s: Any) -> Any:
        return scipy.special.ndtr(-self._z(x_s))

    def _ppf(self, q: Any) -> Any:
        return np.exp(self.mu + self.sigma * scipy.special.ndtri(q))

    def _isf(self, q: Any) -> Any:
        # ndtri(q) for small q is accurate where ndtri(1 - q) is not: the upper tail.
        return np.exp(self.mu - self.sigma * scipy.special.ndtri(q))


@dataclass(frozen=True, slots=True)
class Gamma:
    """Gamma durations parameterised by mean and coefficient of variation.

    Shape ``k = 1 / cv**2`` and scale ``theta = mean_s * cv**2``; ``cv = 1`` is exponential.

    Args:
        mean_s: mean duration in seconds, > 0 and finite.
        cv: coefficient of variation (standard deviation / mean), > 0 and finite.

    Example:
        >>> Gamma(mean_s=600.0, cv=0.5).mean_s
        600.0
    """

    mean_s: float
    cv: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean_s", _positive_finite("mean_s", self.mean_s))
        object.__setattr__(self, "cv", _positive_finite("cv", self.cv))

    @property
    def k(self) -> float:
        """Shape parameter (dimensionless)."""
        return 1.0 / self.cv**2

    @property
    def theta_s(self) -> float:
        """Scale parameter in seconds."""
        return self.mean_s * self.cv**2

    @property
    def dist(self) -> Any:
        """The equivalent ``scipy.stats.gamma`` frozen distribution (seconds)."""
        return scipy.stats.gamma(a=self.k, scale=self.theta_s)

    def sample(self, shape: tuple[int, ...], *, rng: RngLike) -> np.ndarray:
        """Draw durations in seconds, float64 array of ``shape``."""
        return _clip(self._draw(shape, _generator(rng)))

    def _draw(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return rng.gamma(self.k, self.theta_s, size=shape)

    # The inverse regularised incomplete gamma costs about 20 draws of rng.gamma per value,
    # so Truncated samples by rejection instead while the interval holds at least this mass.
    _rejection_min_mass: ClassVar[float] = 0.5

    def _cdf(self, x_s: Any) -> Any:
        return scipy.special.gammainc(self.k, np.divide(x_s, self.theta_s))

    def _sf(self, x_s: Any) -> Any:
        return scipy.special.gammaincc(self.k, np.divide(x_s, self.theta_s))

    def _ppf(self, q: Any) -> Any:
        return self.theta_s * scipy.special.gammaincinv(self.k, q)

    def _isf(self, q: Any) -> Any:
        return self.theta_s * scipy.special.gammainccinv(self.k, q)


@dataclass(frozen=True, slots=True)
class Weibull:
    """Weibull durations, ``P(X > x) = exp(-(x / scale_s) ** shape)``.

    Args:
        shape: Weibull modulus ``k`` (dimensionless), > 0 and finite; ``k < 1`` is heavy-tailed,
            ``k = 1`` exponential.
        scale_s: scale in seconds, > 0 and finite (the 63.2 % quantile).

    Example:
        >>> round(Weibull(shape=1.0, scale_s=100.0).mean_s, 9)
        100.0
    """

    shape: float
    scale_s: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", _positive_finite("shape", self.shape))
        object.__setattr__(self, "scale_s", _positive_finite("scale_s", self.scale_s))

    @property
    def mean_s(self) -> float:
        """Mean duration in seconds, ``scale_s * Gamma(1 + 1/shape)``."""
        # gammaln keeps the product finite for moderately small shapes where Gamma() overflows.
        try:
            log_mean = math.log(self.scale_s) + math.lgamma(1.0 + 1.0 / self.shape)
        except OverflowError:  # 1 / shape itself is beyond float64's lgamma
            log_mean = math.inf
        if log_mean >= _LOG_HUGE:
            raise _fail(
                "the mean scale_s × Gamma(1 + 1/shape) fits float64",
                shape=self.shape, scale_s=self.scale_s,
            )
        return math.exp(log_mean)

    @property
    def dist(self) -> Any:
        """The equivalent ``scipy.stats.weibull_min`` frozen distribution (seconds)."""
        return scipy.stats.weibull_min(c=self.shape, scale=self.scale_s)

    def sample(self, shape: tuple[int, ...], *, rng: RngLike) -> np.ndarray:
        """Draw durations in seconds, float64 array of ``shape``."""
        return _clip(self.scale_s * _generator(rng).weibull(self.shape, size=shape))

    # Cumulative hazard H(x) = (x / scale) ** shape: F = 1 - exp(-H), S = exp(-H).
    def _cdf(self, x_s: Any) -> Any:
        return -np.expm1(-((np.divide(x_s, self.scale_s)) ** self.shape))

    def _sf(self, x_s: Any) -> Any:
        return np.exp(-((np.divide(x_s, self.scale_s)) ** self.shape))

    def _ppf(self, q: Any) -> Any:
        return self.scale_s * (-np.log1p(-np.asarray(q))) ** (1.0 / self.shape)

    def _isf(self, q: Any) -> Any:
        return self.scale_s * (-np.log(q)) ** (1.0 / self.shape)


@dataclass(frozen=True, slots=True)
class Uniform:
    """Durations uniform on ``[low_s, high_s)``; used for crashed jobs.

    Args:
        low_s: seconds, > 0 (a zero-length trial would break the positivity contract).
        high_s: seconds, finite, > ``low_s``.

    Example:
        >>> Uniform(60.0, 180.0).mean_s
        120.0
    """

    low_s: float
    high_s: float

    def __post_init__(self) -> None:
        low_s = _positive_finite("low_s", self.low_s)
        high_s = _positive_finite("high_s", self.high_s)
        if not low_s < high_s:
            raise _fail("low_s < high_s", low_s=low_s, high_s=high_s)
        object.__setattr__(self, "low_s", low_s)
        object.__setattr__(self, "high_s", high_s)

    @property
    def mean_s(self) -> float:
        """Mean duration in seconds, ``(low_s + high_s) / 2``."""
        return 0.5 * (self.low_s + self.high_s)

    @property
    def dist(self) -> Any:
        """The equivalent ``scipy.stats.uniform`` frozen distribution (seconds)."""
        return scipy.stats.uniform(loc=self.low_s, scale=self.high_s - self.low_s)

    def sample(self, shape: tuple[int, ...], *, rng: RngLike) -> np.ndarray:
        """Draw durations in seconds, float64 array of ``shape``."""
        return _generator(rng).uniform(self.low_s, self.high_s, size=shape)

    def _cdf(self, x_s: Any) -> Any:
        return np.clip((np.asarray(x_s) - self.low_s) / (self.high_s - self.low_s), 0.0, 1.0)

    def _sf(self, x_s: Any) -> Any:
        return np.clip((self.high_s - np.asarray(x_s)) / (self.high_s - self.low_s), 0.0, 1.0)

    def _ppf(self, q: Any) -> Any:
        return self.low_s + np.asarray(q) * (self.high_s - self.low_s)

    def _isf(self, q: Any) -> Any:
        return self.high_s - np.asarray(q) * (self.high_s - self.low_s)
