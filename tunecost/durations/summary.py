"""Solving a truncated log-normal for published summary figures (minimum, mean, maximum)."""

from __future__ import annotations

import math

import numpy as np
import scipy.optimize

from tunecost.durations._base import DurationModel, _as_float, _fail, _positive_finite
from tunecost.durations.mixture import Mixture
from tunecost.durations.parametric import LogNormal, Uniform
from tunecost.durations.truncated import Truncated, _log_truncated_lognormal_mean
from tunecost.exceptions import ConfigError

__all__ = ["from_summary"]


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
