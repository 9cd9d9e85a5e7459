"""The contract every registered duration config keeps, parametrised over the registry.

``MINIMAL`` holds the smallest valid config of each ``dist``; the tests run over
``DURATION_CONFIGS`` itself, so registering a ``dist`` without a minimal config here fails.
A config class that accepts ``min_h``/``max_h`` is also run truncated (both bounds, and an
upper-tail interval), derived from its minimal config.
"""

from __future__ import annotations

import math
import typing
from typing import Any

import numpy as np
import pytest
from pydantic import TypeAdapter

from tunecost._rng import as_generator
from tunecost.durations import DURATION_CONFIGS, DurationConfig, DurationModel, Truncated
from tunecost.durations.configs import _TruncatableConfig
from tunecost.units import S_PER_H

ADAPTER: TypeAdapter[Any] = TypeAdapter(DurationConfig)

MINIMAL: dict[str, dict[str, Any]] = {
    "fixed": {"duration_h": 1.0},
    "lognormal": {"median_h": 1.0, "sigma": 0.5},
    "gamma": {"mean_h": 1.0, "cv": 0.5},
    "weibull": {"shape": 1.5, "scale_h": 1.0},
    "empirical": {"durations_h": [0.5, 1.0, 3.0]},
    "summary": {"min_h": 0.05, "mean_h": 2.0, "max_h": 20.0},
    "uniform": {"low_h": 0.5, "high_h": 1.5},
}
"""The smallest valid config of each registered ``dist`` (besides ``dist``)."""

# Truncation variants for the families that take min_h/max_h: a central interval, and one
# high in the upper tail (the survival-function branch); both hold mass for every family above.
TRUNCATIONS = {"central": {"min_h": 0.5, "max_h": 2.0}, "upper": {"min_h": 2.0, "max_h": 4.0}}


def _cases() -> dict[str, dict[str, Any]]:
    out = {}
    for dist, cls in DURATION_CONFIGS.items():
        out[dist] = {"dist": dist, **MINIMAL.get(dist, {})}
        if issubclass(cls, _TruncatableConfig):
            for name, bounds in TRUNCATIONS.items():
                out[f"{dist}-truncated-{name}"] = {**out[dist], **bounds}
    return out


CASES = _cases()
N = 200_000


@pytest.fixture(params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> tuple[str, DurationModel]:
    name = str(request.param)
    dist = CASES[name]["dist"]
    assert dist in MINIMAL, f"registered dist {dist!r} has no minimal config in MINIMAL"
    return name, ADAPTER.validate_python(CASES[name]).build()


def test_union_is_derived_from_the_registry() -> None:
    union = typing.get_args(DurationConfig)[0]
    assert typing.get_args(union) == tuple(DURATION_CONFIGS.values())
    for dist, cls in DURATION_CONFIGS.items():
        assert cls.model_fields["dist"].default == dist


def test_minimal_configs_name_only_registered_dists() -> None:
    assert set(MINIMAL) <= set(DURATION_CONFIGS)


def test_builds_a_duration_model(case: tuple[str, DurationModel]) -> None:
    name, model = case
    assert isinstance(model, DurationModel)
    assert type(ADAPTER.validate_python(CASES[name])) is DURATION_CONFIGS[CASES[name]["dist"]]
    if "truncated" in name:
        assert isinstance(model, Truncated)
        assert model.min_s == CASES[name]["min_h"] * S_PER_H
        assert model.max_s == CASES[name]["max_h"] * S_PER_H


@pytest.mark.parametrize("shape", [(), (0,), (5,), (417, 39), (2, 0, 3)])
def test_sample_shape_dtype_positive_finite(
    case: tuple[str, DurationModel], shape: tuple[int, ...]
) -> None:
    _, model = case
    x = model.sample(shape, rng=0)
    assert isinstance(x, np.ndarray) and x.shape == shape and x.dtype == np.float64
    assert np.isfinite(x).all() and (x > 0).all()
    if isinstance(model, Truncated):
        assert (x >= model.min_s).all() and (x <= model.max_s).all()


def test_same_seed_same_draws(case: tuple[str, DurationModel]) -> None:
    _, model = case
    np.testing.assert_array_equal(model.sample((64, 3), rng=11), model.sample((64, 3), rng=11))
    a, b = as_generator(11), as_generator(11)
    np.testing.assert_array_equal(model.sample((64,), rng=a), model.sample((64,), rng=b))


def test_mean_of_draws_matches_closed_form_mean(case: tuple[str, DurationModel]) -> None:
    """Within 4 standard errors of the closed-form ``mean_s`` (exact for Fixed)."""
    _, model = case
    mean_s = model.mean_s  # type: ignore[attr-defined]
    assert isinstance(mean_s, float) and 0 < mean_s < math.inf
    x = model.sample((N,), rng=12)
    se = x.std(ddof=1) / math.sqrt(N)
    assert abs(x.mean() - mean_s) <= 4 * se + 1e-12 * mean_s, (x.mean(), mean_s, se)


def test_config_round_trips(case: tuple[str, DurationModel]) -> None:
    name, _ = case
    cfg = ADAPTER.validate_python(CASES[name])
    assert ADAPTER.validate_python(cfg.model_dump()) == cfg


def test_unknown_key_rejected(case: tuple[str, DurationModel]) -> None:
    name, _ = case
    with pytest.raises(Exception, match="not_a_field"):
        ADAPTER.validate_python({**CASES[name], "not_a_field": 1})
