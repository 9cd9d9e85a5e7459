"""Duration configs: what users write in YAML, in hours, and the registry of ``dist`` kinds.

Each config's ``.build()`` converts to seconds once, at the boundary, and returns the model.
:data:`DURATION_CONFIGS` maps each ``dist`` to its config class, and :data:`DurationConfig`,
the pydantic discriminated union a study's ``duration`` field validates against, is derived
from it: registering a class there is the one step that adds a ``dist``.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tunecost._registry import discriminated_union, registry
from tunecost.durations._base import DurationModel
from tunecost.durations.empirical import Empirical
from tunecost.durations.parametric import Fixed, Gamma, LogNormal, Uniform, Weibull
from tunecost.durations.summary import from_summary
from tunecost.durations.truncated import Truncated
from tunecost.units import S_PER_H

__all__ = [
    "DURATION_CONFIGS",
    "LOGNORMAL_SIGMA_MAX",
    "DurationConfig",
    "EmpiricalConfig",
    "FixedConfig",
    "GammaConfig",
    "LogNormalConfig",
    "SummaryConfig",
    "UniformConfig",
    "WeibullConfig",
]

LOGNORMAL_SIGMA_MAX = 4.0
"""Largest ``sigma`` of an untruncated log-normal duration config. Its mean is
``exp(sigma**2 / 2)`` times its median: 2,981× at 4, 7.9e13× at 8 (``sigma: 8`` is a typo for
0.8, not a study). A wider spread needs ``max_h``, which bounds every draw and the mean."""

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


DURATION_CONFIGS: dict[str, type[BaseModel]] = registry(
    "dist",
    FixedConfig,
    LogNormalConfig,
    GammaConfig,
    WeibullConfig,
    EmpiricalConfig,
    SummaryConfig,
    UniformConfig,
)
"""Registry: ``dist`` name -> config class (each config's ``.build()`` returns a
:class:`~tunecost.durations.DurationModel`). The one place a ``dist`` is added."""

DurationConfig = discriminated_union(DURATION_CONFIGS, "dist")
"""Any duration config, selected by its ``dist`` field; validate with a pydantic
``TypeAdapter(DurationConfig)`` or as a field of a larger model, then call ``.build()``.
Derived from :data:`DURATION_CONFIGS`."""
