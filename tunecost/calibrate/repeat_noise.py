"""Seed noise: run-to-run spread of duration, energy and value over repeated configurations.

Spreads are coefficients of variation (std / mean, ddof 1), except ``value_std`` (objective
units).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict

from tunecost.calibrate.records import TrialRecord

__all__ = ["ConfigNoise", "SeedNoise", "seed_noise"]


class ConfigNoise(BaseModel):
    """Run-to-run spread of one repeated configuration.

    Attributes:
        params: the configuration.
        n: number of runs.
        duration_cv, energy_cv: std / mean (ddof 1) of duration and of energy.
        value_std, value_cv: std (objective units) and std / |mean| of the final value.
        duration_mean_s, energy_mean_j: means, s and J.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    params: dict[str, str | bool | int | float]
    n: int
    duration_mean_s: float
    duration_cv: float
    energy_mean_j: float | None
    energy_cv: float | None
    value_std: float | None
    value_cv: float | None


class SeedNoise(BaseModel):
    """Run-to-run noise from records that share identical parameters.

    Attributes:
        configs: one entry per repeated configuration.
        duration_cv, energy_cv, value_std: medians over configurations.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    configs: list[ConfigNoise]
    duration_cv: float
    energy_cv: float | None
    value_std: float | None


def _cv(x: list[float]) -> float:
    a = np.asarray(x, dtype=float)
    return float(a.std(ddof=1) / abs(a.mean()))


def seed_noise(records: Sequence[TrialRecord]) -> SeedNoise | None:
    """Run-to-run spread of duration, energy and value over repeated configurations.

    Args:
        records: trials; those with identical ``params`` (at least two, COMPLETE) form a
            configuration.

    Returns:
        The spread, or ``None`` when no configuration is repeated.
    """
    groups: dict[str, list[TrialRecord]] = {}
    for r in records:
        if r.state == "COMPLETE":
            groups.setdefault(json.dumps(r.params, sort_keys=True), []).append(r)
    configs = []
    for rs in groups.values():
        if len(rs) < 2:
            continue
        e = [r.energy_j for r in rs]
        v = [r.value for r in rs]
        has_e, has_v = all(x is not None for x in e), all(x is not None for x in v)
        configs.append(ConfigNoise(
            params=rs[0].params,
            n=len(rs),
            duration_mean_s=float(np.mean([r.duration_s for r in rs])),
            duration_cv=_cv([r.duration_s for r in rs]),
            energy_mean_j=float(np.mean(e)) if has_e else None,  # type: ignore[arg-type]
            energy_cv=_cv(e) if has_e else None,  # type: ignore[arg-type]
            value_std=float(np.std(v, ddof=1)) if has_v else None,  # type: ignore[arg-type]
            value_cv=_cv(v) if has_v else None,  # type: ignore[arg-type]
        ))
    if not configs:
        return None

    def med(key: str) -> float | None:
        xs = [getattr(c, key) for c in configs if getattr(c, key) is not None]
        return float(np.median(xs)) if xs else None

    duration_cv = float(np.median([c.duration_cv for c in configs]))
    return SeedNoise(configs=configs, duration_cv=duration_cv,
                     energy_cv=med("energy_cv"), value_std=med("value_std"))
