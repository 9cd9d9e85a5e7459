"""Trial-duration distributions: how long one trial runs at full fidelity.

A :class:`DurationModel` is a frozen, validated distribution with one required method,
``sample(shape, *, rng)``, that returns durations in seconds (float64, exactly ``shape``, all
positive and finite). Every model shipped here also exposes ``mean_s``, the exact mean in
seconds computed in closed form or by scipy (never by sampling), so closed-form tests and
back-of-envelope checks need no Monte Carlo.

Users write hours in YAML; the pydantic configs (:data:`DurationConfig`, a discriminated
union on ``dist`` derived from the registry :data:`DURATION_CONFIGS`) convert them to
seconds once, at the boundary, and ``.build()`` the model.

One concept per module:

* :mod:`~tunecost.durations._base`: the :class:`DurationModel` protocol and shared checks;
* :mod:`~tunecost.durations.parametric`: :class:`Fixed`, :class:`LogNormal`, :class:`Gamma`,
  :class:`Weibull`, :class:`Uniform`;
* :mod:`~tunecost.durations.empirical`: :class:`Empirical`, resampled recordings;
* :mod:`~tunecost.durations.truncated`: :class:`Truncated`, exact truncation;
* :mod:`~tunecost.durations.mixture`: :class:`Mixture`;
* :mod:`~tunecost.durations.summary`: :func:`from_summary`, a truncated log-normal solved for
  a published minimum, mean and maximum;
* :mod:`~tunecost.durations.configs`: the pydantic configs and the registry.

Example:
    >>> model = LogNormal(median_s=3600.0, sigma=0.5)
    >>> model.sample((2, 3), rng=0).shape
    (2, 3)
"""

from __future__ import annotations

from tunecost.durations._base import DurationModel
from tunecost.durations.configs import (
    DURATION_CONFIGS,
    LOGNORMAL_SIGMA_MAX,
    DurationConfig,
    EmpiricalConfig,
    FixedConfig,
    GammaConfig,
    LogNormalConfig,
    SummaryConfig,
    UniformConfig,
    WeibullConfig,
)
from tunecost.durations.empirical import Empirical
from tunecost.durations.mixture import Mixture
from tunecost.durations.parametric import Fixed, Gamma, LogNormal, Uniform, Weibull
from tunecost.durations.summary import from_summary
from tunecost.durations.truncated import Truncated

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
    "LOGNORMAL_SIGMA_MAX",
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
