"""Trial-duration distributions: how long one trial runs at full fidelity.

A :class:`DurationModel` is a frozen, validated distribution with one required method,
``sample(shape, *, rng)``, that returns durations in seconds (float64, exactly ``shape``, all
positive and finite). Every model shipped here also exposes ``mean_s``, the exact mean in
seconds computed in closed form or by scipy (never by sampling), so closed-form tests and
back-of-envelope checks need no Monte Carlo.

Users write hours in YAML; the pydantic configs at the bottom of this module
(:data:`DurationConfig`, a discriminated union on ``dist``) convert them to seconds once, at
the boundary, and ``.build()`` the model.

Example:
    >>> import numpy as np
    >>> model = LogNormal(median_s=3600.0, sigma=0.5)
    >>> model.sample((2, 3), rng=np.random.default_rng(0)).shape
    (2, 3)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Protocol, runtime_checkable

import numpy as np
import scipy.optimize
import scipy.special
import scipy.stats
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tunecost.exceptions import ConfigError
from tunecost.units import S_PER_H

__all__ = [
    "DURATION_CONFIGS",
    "DurationConfig",
    "DurationModel",
    "Empirical",
    "EmpiricalConfig",
    "Fixed",
    "FixedConfig",
    "Gamma",
    "GammaConfig",
    "LogNormal",
    "LogNormalConfig",
    "Mixture",
    "SummaryConfig",
    "Truncated",
    "Uniform",
    "UniformConfig",
    "Weibull",
    "WeibullConfig",
    "from_summary",
]

# Smallest and largest positive finite float64: heavy-tailed draws (gamma with cv >> 1,
# weibull with shape << 1) can underflow to 0 or overflow to inf, which would break the
# "all > 0 and finite" contract; clipping moves them by less than any cost can resolve.
_TINY = float(np.finfo(np.float64).tiny)
_HUGE = float(np.finfo(np.float64).max)
_LOG_HUGE = math.log(_HUGE)

LOGNORMAL_SIGMA_MAX = 4.0
"""Largest ``sigma`` of an untruncated log-normal duration config. Its mean is
``exp(sigma**2 / 2)`` times its median: 2,981× at 4, 7.9e13× at 8 (``sigma: 8`` is a typo for
0.8, not a study). A wider spread needs ``max_h``, which bounds every draw and the mean."""


@runtime_checkable
class DurationModel(Protocol):
    """A distribution of trial durations at full fidelity.

    Implementations are immutable and validated on construction. Shipped models also expose a
    ``mean_s`` property (the exact mean in seconds); it is a convention, not part of the
    protocol, so a user model needs only :meth:`sample`.
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
class Fixed:
    """Every trial takes exactly ``duration_s`` seconds.

    Args:
        duration_s: seconds, > 0 and finite.

    Example:
        >>> import numpy as np
        >>> Fixed(60.0).sample((2,), rng=np.random.default_rng(0))
        array([60., 60.])
    """

    duration_s: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "duration_s", _positive_finite("duration_s", self.duration_s))

    @property
    def mean_s(self) -> float:
        """Mean duration in seconds (the fixed duration itself)."""
        return self.duration_s

    def sample(self, shape: tuple[int, ...], *, rng: np.random.Generator) -> np.ndarray:
        """Return ``duration_s`` in every element; ``rng`` is accepted and not used."""
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

    def sample(self, shape: tuple[int, ...], *, rng: np.random.Generator) -> np.ndarray:
        """Draw durations in seconds, float64 array of ``shape``."""
        return _clip(rng.lognormal(self.mu, self.sigma, size=shape))


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

    def sample(self, shape: tuple[int, ...], *, rng: np.random.Generator) -> np.ndarray:
        """Draw durations in seconds, float64 array of ``shape``."""
        return _clip(rng.gamma(self.k, self.theta_s, size=shape))


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

    def sample(self, shape: tuple[int, ...], *, rng: np.random.Generator) -> np.ndarray:
        """Draw durations in seconds, float64 array of ``shape``."""
        return _clip(self.scale_s * rng.weibull(self.shape, size=shape))


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

    def sample(self, shape: tuple[int, ...], *, rng: np.random.Generator) -> np.ndarray:
        """Draw durations in seconds, float64 array of ``shape``."""
        return rng.uniform(self.low_s, self.high_s, size=shape)


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

    def sample(self, shape: tuple[int, ...], *, rng: np.random.Generator) -> np.ndarray:
        """Draw recorded durations uniformly with replacement, float64 array of ``shape``."""
        idx = rng.integers(0, self.durations_s.size, size=shape)
        return np.asarray(self.durations_s[idx], dtype=np.float64)


@dataclass(frozen=True, slots=True)
class Truncated:
    """Exact truncation of ``base`` to ``[min_s, max_s]``.

    Sampling is by inverse CDF: draw ``u`` uniformly between ``cdf(min_s)`` and ``cdf(max_s)``
    and return ``ppf(u)``. It is vectorised, has no rejection loop, and so costs the same however
    little mass the interval holds. When the interval sits in the upper tail it works with the
    survival function instead, where float64 still resolves the probabilities.

    Args:
        base: a model exposing ``.dist``, a ``scipy.stats`` frozen distribution in seconds
            (:class:`LogNormal`, :class:`Gamma`, :class:`Weibull`, :class:`Uniform`).
        min_s: lower bound in seconds, >= 0 (0 means no lower truncation).
        max_s: upper bound in seconds, > ``min_s``; ``inf`` means no upper truncation.

    Example:
        >>> import numpy as np
        >>> model = Truncated(LogNormal(3600.0, 1.0), min_s=600.0, max_s=7200.0)
        >>> x = model.sample((1000,), rng=np.random.default_rng(1))
        >>> bool(x.min() >= 600.0 and x.max() <= 7200.0)
        True
    """

    base: Any
    min_s: float = 0.0
    max_s: float = math.inf
    _upper_tail: bool = field(init=False, repr=False, compare=False)
    _p_lo: float = field(init=False, repr=False, compare=False)
    _p_hi: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        dist = getattr(self.base, "dist", None)
        if dist is None or not hasattr(dist, "ppf"):
            raise ConfigError(
                "`base` must expose `.dist`, a scipy.stats frozen distribution, but got "
                f"base={self.base!r}"
            )
        min_s = _as_float("min_s", self.min_s)
        max_s = _as_float("max_s", self.max_s)
        if not (0.0 <= min_s < max_s):
            raise _fail("0 <= min_s < max_s", min_s=min_s, max_s=max_s)
        object.__setattr__(self, "min_s", min_s)
        object.__setattr__(self, "max_s", max_s)
        cdf_lo, cdf_hi = float(dist.cdf(min_s)), float(dist.cdf(max_s))
        sf_lo, sf_hi = float(dist.sf(min_s)), float(dist.sf(max_s))
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
            return (self._p_hi - self.dist.sf(x)) / self.mass
        return (self.dist.cdf(x) - self._p_lo) / self.mass

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

    def sample(self, shape: tuple[int, ...], *, rng: np.random.Generator) -> np.ndarray:
        """Draw durations in seconds within ``[min_s, max_s]``, float64 array of ``shape``."""
        u = rng.uniform(self._p_lo, self._p_hi, size=shape)
        x = self.dist.isf(u) if self._upper_tail else self.dist.ppf(u)
        # ppf/isf round-off can step a hair outside the bounds; a min_s of 0 can yield ppf(0)=0.
        return _clip(x, max(self.min_s, _TINY), self.max_s)


@dataclass(frozen=True, slots=True)
class Mixture:
    """A finite mixture, e.g. crashed jobs plus jobs that ran to completion.

    Each element first picks a component with probability ``weights[j]``, then draws from it.
    Sampling is vectorised: one ``rng.choice`` for all component indices, then one ``sample``
    call per component (a loop over components, never over elements).

    Args:
        components: the component models, length ``m >= 1``.
        weights: probabilities, length ``m``, each >= 0, summing to 1 (to 1e-9).

    Example:
        >>> Mixture((Fixed(60.0), Fixed(120.0)), (0.25, 0.75)).mean_s
        105.0
    """

    components: tuple[Any, ...]
    weights: tuple[float, ...]

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

    @property
    def mean_s(self) -> float:
        """Mean duration in seconds, the weighted mean of the components' ``mean_s``."""
        return math.fsum(
            w * c.mean_s for w, c in zip(self.weights, self.components, strict=True) if w > 0
        )

    def sample(self, shape: tuple[int, ...], *, rng: np.random.Generator) -> np.ndarray:
        """Draw durations in seconds, float64 array of ``shape``."""
        n = math.prod(shape)
        which = rng.choice(len(self.components), size=n, p=np.asarray(self.weights))
        out = np.empty(n, dtype=np.float64)
        for j, component in enumerate(self.components):
            mask = which == j
            out[mask] = component.sample((int(mask.sum()),), rng=rng)
        return out.reshape(shape)


def from_summary(
    *,
    min_s: float,
    mean_s: float,
    max_s: float,
    sigma: float = 1.0,
    crash_fraction: float = 0.0,
    crash_max_s: float | None = None,
) -> DurationModel:
    """Build a duration model from published summary figures (minimum, mean, maximum).

    Papers often report only a range and an average. Strubell et al. (2019, ACL, section 4) on
    the LISA project: "jobs ranged from a minimum of 3 minutes, indicating a crash, to a maximum
    of 9 days, with an average job length of 52 hours". The model is a log-normal with log-sd
    ``sigma``, truncated to ``[min_s, max_s]``, whose log-median ``mu`` is solved with
    ``scipy.optimize.brentq`` so that the *truncated* mean equals ``mean_s`` exactly (the
    truncated mean rises monotonically with ``mu``, so the root is unique).

    ``mean_s`` is the mean of the jobs that did **not** crash. The reported average cannot
    include the crashes: 4,789 jobs x 52 h = 249,028 h, more than the 239,942 GPU-hours the
    same paper gives for all 4,789 models in Table 4 (an average of 239,942 / 4,789 = 50.10 h).
    If a fraction ``f`` of jobs crash after ``c`` hours on average, the overall mean is
    ``(1 - f) * 52 + f * c``; with crashes uniform on 3 to 12 minutes (``c`` = 0.125 h),
    ``f = (52 - 50.10) / (52 - 0.125) = 0.0366``, i.e. about 3.7 % of jobs crashed. Pass
    ``crash_fraction`` to add them back as a :class:`Mixture`.

    Args:
        min_s: shortest job in seconds, > 0 (also the lower truncation bound and the shortest
            crash).
        mean_s: mean of the non-crashed jobs in seconds, ``min_s < mean_s < max_s``.
        max_s: longest job in seconds, finite.
        sigma: log-sd of the underlying log-normal (dimensionless), > 0; the summary does not
            pin it down, so it is a modelling choice to vary in a sensitivity analysis.
        crash_fraction: share of jobs that crash, ``0 <= crash_fraction < 1``.
        crash_max_s: longest crash in seconds, > ``min_s``; default ``4 * min_s``.

    Returns:
        ``Truncated(LogNormal(...), min_s, max_s)`` if ``crash_fraction == 0``, else
        ``Mixture((that, Uniform(min_s, crash_max_s)), (1 - crash_fraction, crash_fraction))``.

    Raises:
        ConfigError: a bound is violated; the message states the rule and the values.

    Example:
        >>> m = from_summary(min_s=180.0, mean_s=52 * 3600.0, max_s=9 * 86400.0)
        >>> round(m.mean_s / 3600.0, 6)
        52.0
    """
    min_s = _positive_finite("min_s", min_s)
    max_s = _positive_finite("max_s", max_s)
    mean_s = _as_float("mean_s", mean_s)
    if not (min_s < mean_s < max_s):
        raise _fail("min_s < mean_s < max_s", min_s=min_s, mean_s=mean_s, max_s=max_s)
    sigma = _as_float("sigma", sigma)
    if not (0.0 < sigma < math.inf):
        raise _fail("sigma > 0", sigma=sigma)
    crash_fraction = _as_float("crash_fraction", crash_fraction)
    if not (0.0 <= crash_fraction < 1.0):
        raise _fail("0 <= crash_fraction < 1", crash_fraction=crash_fraction)
    if crash_max_s is not None:
        crash_max_s = _as_float("crash_max_s", crash_max_s)
        if not (min_s < crash_max_s < math.inf):
            raise _fail("min_s < crash_max_s < inf", min_s=min_s, crash_max_s=crash_max_s)

    target = math.log(mean_s)

    def excess(mu: float) -> float:
        return _log_truncated_lognormal_mean(mu, sigma, min_s, max_s) - target

    # The truncated mean tends to min_s as mu -> -inf and to max_s as mu -> +inf; widen the
    # bracket geometrically until it straddles the target (a few steps even for extreme means).
    lo, hi, step = math.log(min_s) - 5 * sigma, math.log(max_s) + 5 * sigma, 10 * sigma
    for _ in range(60):
        if excess(lo) < 0:
            break
        lo, step = lo - step, 2 * step
    step = 10 * sigma
    for _ in range(60):
        if excess(hi) > 0:
            break
        hi, step = hi + step, 2 * step
    if not (excess(lo) < 0 < excess(hi)):
        raise ConfigError(
            f"could not find a log-normal with sigma={sigma!r} whose mean truncated to "
            f"[{min_s!r}, {max_s!r}] s equals mean_s={mean_s!r}; mean_s is too close to a bound"
        )
    mu = scipy.optimize.brentq(excess, lo, hi, xtol=1e-13, rtol=4 * np.finfo(float).eps)
    try:
        completed = Truncated(LogNormal(median_s=math.exp(mu), sigma=sigma), min_s, max_s)
    except (ConfigError, OverflowError):
        # The root exists, but its median or its mass in [min_s, max_s] is beyond float64.
        raise ConfigError(
            f"`mean_s` must not be this close to a bound for sigma={sigma!r}: the log-normal "
            f"that fits min_s={min_s!r}, mean_s={mean_s!r}, max_s={max_s!r} (log-median "
            f"{mu:.4g}) is too extreme for float64; try a smaller sigma"
        ) from None
    if crash_fraction == 0.0:
        return completed
    crashed = Uniform(min_s, crash_max_s if crash_max_s is not None else 4.0 * min_s)
    return Mixture((completed, crashed), (1.0 - crash_fraction, crash_fraction))


# --------------------------------------------------------------------------------------------
# Configs: what users write in YAML, in hours. Each ``.build()`` converts to seconds once.
# --------------------------------------------------------------------------------------------

_Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
_Hours = Annotated[float, Field(gt=0, le=1e6, allow_inf_nan=False)]
"""A duration in hours: > 0 and <= 1e6 (114 years; no trial runs longer, and hours beyond it
overflow float64 once multiplied by seconds, watts and trial counts)."""


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class _TruncatableConfig(_Config):
    """Adds optional ``min_h``/``max_h`` truncation (hours) to a parametric family."""

    min_h: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    max_h: _Hours | None = None

    @model_validator(mode="after")
    def _check_bounds(self) -> Any:
        if self.min_h is not None and self.max_h is not None and not self.min_h < self.max_h:
            raise ValueError(
                f"`min_h < max_h` must hold, but got min_h={self.min_h!r}, max_h={self.max_h!r}"
            )
        return self

    def _base(self) -> Any:
        raise NotImplementedError

    def build(self) -> DurationModel:
        """Build the model in seconds, truncated when ``min_h`` or ``max_h`` is set."""
        base = self._base()
        if self.min_h is None and self.max_h is None:
            return base  # type: ignore[no-any-return]
        return Truncated(
            base,
            min_s=0.0 if self.min_h is None else self.min_h * S_PER_H,
            max_s=math.inf if self.max_h is None else self.max_h * S_PER_H,
        )


class _UntruncatableConfig(_Config):
    """Rejects ``min_h``/``max_h`` with a message that says why, not just "extra input"."""

    @model_validator(mode="before")
    @classmethod
    def _reject_truncation(cls, data: Any) -> Any:
        if isinstance(data, dict):
            given = [k for k in ("min_h", "max_h") if k in data]
            if given:
                dist = data.get("dist", "?")
                raise ValueError(
                    f"truncation ({', '.join(given)}) is not supported for dist={dist!r}: "
                    "it makes no sense there; remove it, or use lognormal, gamma or weibull"
                )
        return data


class FixedConfig(_UntruncatableConfig):
    """``{"dist": "fixed", "duration_h": 2.0}``: every trial takes ``duration_h`` hours.

    Example:
        >>> FixedConfig(dist="fixed", duration_h=0.5).build()
        Fixed(duration_s=1800.0)
    """

    dist: Literal["fixed"] = "fixed"
    duration_h: _Hours

    def build(self) -> DurationModel:
        """Build the :class:`Fixed` model (seconds)."""
        return Fixed(self.duration_h * S_PER_H)


def _ratio(sigma: float) -> str:
    log10 = 0.5 * sigma**2 / math.log(10)
    return f"{10**log10:,.0f}" if log10 < 6 else f"1e{log10:.0f}"


class LogNormalConfig(_TruncatableConfig):
    """``{"dist": "lognormal", "median_h": 2.0, "sigma": 0.8}`` (or ``mean_h`` instead).

    Exactly one of ``median_h`` and ``mean_h`` (hours, of the untruncated distribution).

    Example:
        >>> round(LogNormalConfig(dist="lognormal", mean_h=1.0, sigma=0.5).build().mean_s, 9)
        3600.0
    """

    dist: Literal["lognormal"] = "lognormal"
    median_h: _Hours | None = None
    mean_h: _Hours | None = None
    sigma: _Positive

    @model_validator(mode="after")
    def _exactly_one_location(self) -> Any:
        if (self.median_h is None) == (self.mean_h is None):
            raise ValueError(
                "exactly one of `median_h` and `mean_h` must be given, but got "
                f"median_h={self.median_h!r}, mean_h={self.mean_h!r}"
            )
        if self.sigma > 20:
            raise ValueError(f"`sigma <= 20` must hold, but got sigma={self.sigma!r}")
        if self.max_h is None and self.sigma > LOGNORMAL_SIGMA_MAX:
            raise ValueError(
                f"`sigma <= {LOGNORMAL_SIGMA_MAX:g}` must hold without max_h (the mean is "
                f"exp(sigma²/2) = {_ratio(self.sigma)} × the median), but got "
                f"sigma={self.sigma!r}; a typo for {self.sigma / 10:g}? A wider spread needs "
                "max_h"
            )
        # Build now so a spread float64 cannot hold fails here, naming the fields.
        self.build().mean_s  # noqa: B018
        return self

    def _base(self) -> LogNormal:
        if self.median_h is None:  # then mean_h is set, by _exactly_one_location
            return LogNormal.from_mean(float(self.mean_h or 0.0) * S_PER_H, self.sigma)
        return LogNormal(self.median_h * S_PER_H, self.sigma)


class GammaConfig(_TruncatableConfig):
    """``{"dist": "gamma", "mean_h": 2.0, "cv": 0.5}`` (mean in hours, cv dimensionless).

    Example:
        >>> GammaConfig(dist="gamma", mean_h=2.0, cv=0.5).build()
        Gamma(mean_s=7200.0, cv=0.5)
    """

    dist: Literal["gamma"] = "gamma"
    mean_h: _Hours
    # cv <= 10 (shape >= 0.01): beyond it nearly every draw underflows towards 0 and the mean
    # rests on a handful of huge draws, so a Monte Carlo total is noise, not an estimate.
    # cv >= 1e-6: below it the shape 1/cv² leaves float64 (use dist: fixed for no spread).
    cv: Annotated[float, Field(ge=1e-6, le=10, allow_inf_nan=False)]

    def _base(self) -> Gamma:
        return Gamma(self.mean_h * S_PER_H, self.cv)


class WeibullConfig(_TruncatableConfig):
    """``{"dist": "weibull", "shape": 1.5, "scale_h": 2.0}`` (scale in hours).

    Example:
        >>> WeibullConfig(dist="weibull", shape=1.5, scale_h=2.0).build()
        Weibull(shape=1.5, scale_s=7200.0)
    """

    dist: Literal["weibull"] = "weibull"
    shape: _Positive
    scale_h: _Hours

    @model_validator(mode="after")
    def _finite_mean(self) -> Any:
        # A tiny shape has a mean beyond float64; fail here, naming the fields.
        self.build().mean_s  # noqa: B018
        return self

    def _base(self) -> Weibull:
        return Weibull(self.shape, self.scale_h * S_PER_H)


class EmpiricalConfig(_UntruncatableConfig):
    """``{"dist": "empirical", "durations_h": [0.5, 1.2, 3.0]}``: resample recorded hours.

    Example:
        >>> EmpiricalConfig(dist="empirical", durations_h=[1.0, 3.0]).build().mean_s
        7200.0
    """

    dist: Literal["empirical"] = "empirical"
    durations_h: Annotated[tuple[_Hours, ...], Field(min_length=1)]

    def build(self) -> DurationModel:
        """Build the :class:`Empirical` model (seconds)."""
        return Empirical(np.asarray(self.durations_h, dtype=np.float64) * S_PER_H)


class UniformConfig(_UntruncatableConfig):
    """``{"dist": "uniform", "low_h": 0.05, "high_h": 0.2}``: uniform on ``[low_h, high_h)``.

    Example:
        >>> UniformConfig(dist="uniform", low_h=1.0, high_h=2.0).build().mean_s
        5400.0
    """

    dist: Literal["uniform"] = "uniform"
    low_h: _Hours
    high_h: _Hours

    @model_validator(mode="after")
    def _ordered(self) -> Any:
        if not self.low_h < self.high_h:
            raise ValueError(
                f"`low_h < high_h` must hold, but got low_h={self.low_h!r}, high_h={self.high_h!r}"
            )
        return self

    def build(self) -> DurationModel:
        """Build the :class:`Uniform` model (seconds)."""
        return Uniform(self.low_h * S_PER_H, self.high_h * S_PER_H)


class SummaryConfig(_Config):
    """``{"dist": "summary", "min_h": 0.05, "mean_h": 52, "max_h": 216}``: min, mean, max.

    See :func:`from_summary`.

    Strubell et al. (2019)'s LISA project: 3 minutes to 9 days, 52 h on average.

    ``min_h``/``max_h`` here are the observed range (the model is truncated to it); ``mean_h``
    is the mean of the jobs that did not crash.

    Example:
        >>> cfg = SummaryConfig(dist="summary", min_h=0.05, mean_h=52.0, max_h=216.0)
        >>> round(cfg.build().mean_s / 3600.0, 6)
        52.0
    """

    dist: Literal["summary"] = "summary"
    min_h: _Hours
    mean_h: _Hours
    max_h: _Hours
    # <= 20: a truncated log-normal wider than that is flat in log space, and its tail
    # probabilities leave float64.
    sigma: Annotated[float, Field(gt=0, le=20, allow_inf_nan=False)] = 1.0
    crash_fraction: Annotated[float, Field(ge=0, lt=1)] = 0.0
    crash_max_h: _Hours | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Any:
        if not self.min_h < self.mean_h < self.max_h:
            raise ValueError(
                "`min_h < mean_h < max_h` must hold, but got "
                f"min_h={self.min_h!r}, mean_h={self.mean_h!r}, max_h={self.max_h!r}"
            )
        if self.crash_max_h is not None and not self.min_h < self.crash_max_h:
            raise ValueError(
                "`min_h < crash_max_h` must hold, but got "
                f"min_h={self.min_h!r}, crash_max_h={self.crash_max_h!r}"
            )
        return self

    def build(self) -> DurationModel:
        """Build the model with :func:`from_summary` (seconds)."""
        return from_summary(
            min_s=self.min_h * S_PER_H,
            mean_s=self.mean_h * S_PER_H,
            max_s=self.max_h * S_PER_H,
            sigma=self.sigma,
            crash_fraction=self.crash_fraction,
            crash_max_s=None if self.crash_max_h is None else self.crash_max_h * S_PER_H,
        )


DurationConfig = Annotated[
    FixedConfig
    | LogNormalConfig
    | GammaConfig
    | WeibullConfig
    | EmpiricalConfig
    | SummaryConfig
    | UniformConfig,
    Field(discriminator="dist"),
]
"""Any duration config, selected by its ``dist`` field; validate with a pydantic
``TypeAdapter(DurationConfig)`` or as a field of a larger model, then call ``.build()``."""

DURATION_CONFIGS: dict[str, type[BaseModel]] = {
    "fixed": FixedConfig,
    "lognormal": LogNormalConfig,
    "gamma": GammaConfig,
    "weibull": WeibullConfig,
    "empirical": EmpiricalConfig,
    "summary": SummaryConfig,
    "uniform": UniformConfig,
}
"""Registry: ``dist`` name -> config class."""
