"""Tests for tunecost.durations: the sampling contract, closed forms, and validation."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import scipy.special
import scipy.stats
from pydantic import TypeAdapter, ValidationError

from tunecost.durations import (
    DURATION_CONFIGS,
    DurationConfig,
    DurationModel,
    Empirical,
    Fixed,
    Gamma,
    LogNormal,
    LogNormalConfig,
    Mixture,
    Truncated,
    Uniform,
    Weibull,
    from_summary,
)
from tunecost.exceptions import ConfigError
from tunecost.units import S_PER_H

ADAPTER: TypeAdapter[object] = TypeAdapter(DurationConfig)

# Strubell et al. (2019): LISA jobs from 3 minutes to 9 days, 52 h on average; Table 4 gives
# 239,942 GPU-hours for 4,789 jobs.
LISA = {"min_s": 180.0, "mean_s": 52 * S_PER_H, "max_s": 9 * 86400.0}
LISA_GPU_H_PER_JOB = 239_942 / 4_789

MODELS: dict[str, DurationModel] = {
    "fixed": Fixed(90.0),
    "lognormal": LogNormal(median_s=3600.0, sigma=0.8),
    "gamma": Gamma(mean_s=1800.0, cv=0.7),
    "weibull": Weibull(shape=1.5, scale_s=2400.0),
    "uniform": Uniform(60.0, 240.0),
    "empirical": Empirical([30.0, 60.0, 90.0, 3600.0]),
    "truncated": Truncated(LogNormal(3600.0, 1.0), min_s=600.0, max_s=7200.0),
    "truncated_upper_tail": Truncated(Gamma(600.0, 0.5), min_s=1200.0, max_s=3000.0),
    "mixture": Mixture((LogNormal(3600.0, 0.5), Uniform(60.0, 240.0)), (0.9, 0.1)),
    "summary": from_summary(**LISA),
    "summary_crash": from_summary(**LISA, crash_fraction=0.0366),
}

CONFIGS: dict[str, dict[str, object]] = {
    "fixed": {"dist": "fixed", "duration_h": 2.0},
    "lognormal_median": {"dist": "lognormal", "median_h": 2.0, "sigma": 0.8},
    "lognormal_mean_trunc": {"dist": "lognormal", "mean_h": 2.0, "sigma": 1.0, "max_h": 10.0},
    "gamma": {"dist": "gamma", "mean_h": 1.5, "cv": 0.5, "min_h": 0.5},
    "weibull": {"dist": "weibull", "shape": 0.8, "scale_h": 3.0, "min_h": 0.1, "max_h": 9.0},
    "empirical": {"dist": "empirical", "durations_h": [0.5, 1.0, 4.0]},
    "summary": {"dist": "summary", "min_h": 0.05, "mean_h": 52.0, "max_h": 216.0},
    "summary_crash": {
        "dist": "summary",
        "min_h": 0.05,
        "mean_h": 52.0,
        "max_h": 216.0,
        "sigma": 0.7,
        "crash_fraction": 0.05,
        "crash_max_h": 0.5,
    },
    "uniform": {"dist": "uniform", "low_h": 0.05, "high_h": 0.2},
}

CONTRACT_CASES = {
    **{f"model-{k}": v for k, v in MODELS.items()},
    **{f"config-{k}": ADAPTER.validate_python(v).build() for k, v in CONFIGS.items()},  # type: ignore[attr-defined]
}


# ---- contract -----------------------------------------------------------------------------


@pytest.mark.parametrize("model", CONTRACT_CASES.values(), ids=CONTRACT_CASES.keys())
class TestContract:
    @pytest.mark.parametrize("shape", [(), (0,), (7,), (3, 4), (2, 0, 5)])
    def test_shape_dtype_positive_finite(self, model: DurationModel, shape: tuple[int, ...]):
        x = model.sample(shape, rng=0)
        assert isinstance(x, np.ndarray)
        assert x.shape == shape
        assert x.dtype == np.float64
        assert np.all(np.isfinite(x))
        assert np.all(x > 0)

    def test_is_a_duration_model_with_finite_mean(self, model: DurationModel):
        assert isinstance(model, DurationModel)
        mean_s = model.mean_s  # type: ignore[attr-defined]
        assert isinstance(mean_s, float)
        assert 0 < mean_s < math.inf

    def test_same_seed_same_draws(self, model: DurationModel):
        a = model.sample((50, 3), rng=123)
        b = model.sample((50, 3), rng=123)
        np.testing.assert_array_equal(a, b)

    def test_different_seed_different_draws(self, model: DurationModel):
        a = model.sample((50, 3), rng=1)
        b = model.sample((50, 3), rng=2)
        if isinstance(model, Fixed):
            np.testing.assert_array_equal(a, b)
        else:
            assert not np.array_equal(a, b)

    def test_frozen(self, model: DurationModel):
        name = next(iter(model.__dataclass_fields__))  # type: ignore[attr-defined]
        with pytest.raises(AttributeError):
            setattr(model, name, 1.0)


def test_registry_matches_union():
    assert set(DURATION_CONFIGS) == {
        "fixed",
        "lognormal",
        "gamma",
        "weibull",
        "empirical",
        "summary",
        "uniform",
    }
    for name, cls in DURATION_CONFIGS.items():
        assert cls.model_fields["dist"].default == name
    assert {c["dist"] for c in CONFIGS.values()} == set(DURATION_CONFIGS)


# ---- closed forms -------------------------------------------------------------------------

N_MEAN = 200_000


def _assert_mean_matches(model: DurationModel, seed: int) -> None:
    x = model.sample((N_MEAN,), rng=seed)
    se = x.std(ddof=1) / math.sqrt(N_MEAN)
    assert abs(x.mean() - model.mean_s) < 4 * se, (x.mean(), model.mean_s, se)  # type: ignore[attr-defined]


def test_lognormal_mean_closed_form():
    model = LogNormal(median_s=3600.0, sigma=0.6)
    assert model.mean_s == pytest.approx(math.exp(math.log(3600.0) + 0.6**2 / 2), rel=1e-14)
    assert model.mean_s == pytest.approx(model.dist.mean(), rel=1e-12)
    _assert_mean_matches(model, seed=10)


def test_gamma_mean_and_cv():
    model = Gamma(mean_s=1800.0, cv=0.7)
    assert model.dist.mean() == pytest.approx(1800.0, rel=1e-12)
    assert model.dist.std() / model.dist.mean() == pytest.approx(0.7, rel=1e-12)
    _assert_mean_matches(model, seed=11)


def test_weibull_mean_closed_form():
    model = Weibull(shape=1.5, scale_s=2400.0)
    assert model.mean_s == pytest.approx(2400.0 * scipy.special.gamma(1 + 1 / 1.5), rel=1e-12)
    assert model.mean_s == pytest.approx(model.dist.mean(), rel=1e-12)
    _assert_mean_matches(model, seed=12)


def test_uniform_mean():
    model = Uniform(60.0, 240.0)
    assert model.mean_s == 150.0
    _assert_mean_matches(model, seed=13)


@pytest.mark.parametrize(
    "model",
    [
        Truncated(LogNormal(3600.0, 1.0), min_s=600.0, max_s=7200.0),
        Truncated(Gamma(600.0, 0.5), min_s=1200.0, max_s=3000.0),
        Truncated(Weibull(0.7, 1000.0), min_s=0.0, max_s=5000.0),
    ],
    ids=["lognormal", "gamma-upper-tail", "weibull-no-min"],
)
def test_truncated_mean_bounds_and_ks(model: Truncated):
    x = model.sample((N_MEAN,), rng=14)
    assert x.min() >= model.min_s and x.max() <= model.max_s
    se = x.std(ddof=1) / math.sqrt(N_MEAN)
    assert abs(x.mean() - model.mean_s) < 4 * se
    assert scipy.stats.kstest(x[:20_000], model.cdf).pvalue > 0.001


def test_truncated_cdf_matches_scipy_conditioning():
    base = LogNormal(3600.0, 1.0)
    model = Truncated(base, 600.0, 7200.0)
    xs = np.array([600.0, 1000.0, 3600.0, 7200.0])
    d = base.dist
    expected = (d.cdf(xs) - d.cdf(600.0)) / (d.cdf(7200.0) - d.cdf(600.0))
    np.testing.assert_allclose(model.cdf(xs), expected, rtol=1e-12, atol=1e-15)


def test_truncated_lognormal_closed_form_agrees_with_quadrature():
    # The LogNormal fast path is a closed form; scipy's quadrature is an independent check.
    base = LogNormal(1.4e5, 1.0)
    model = Truncated(base, 180.0, 777_600.0)
    quad = base.dist.expect(lambda x: x, lb=180.0, ub=777_600.0, conditional=True)
    assert model.mean_s == pytest.approx(quad, rel=1e-9)


def test_truncated_far_upper_tail_uses_survival_function():
    # cdf(min_s) rounds to 1 here, so a cdf-based sampler would see zero mass.
    model = Truncated(LogNormal(1.0, 1.0), min_s=math.exp(9.0), max_s=math.exp(10.0))
    x = model.sample((10_000,), rng=15)
    assert model.mass > 0
    assert x.min() >= model.min_s and x.max() <= model.max_s
    assert scipy.stats.kstest(x, model.cdf).pvalue > 0.001


def test_mixture_mean_and_component_shares():
    model = Mixture((Fixed(10.0), Fixed(1000.0)), (0.3, 0.7))
    assert model.mean_s == pytest.approx(0.3 * 10.0 + 0.7 * 1000.0, rel=1e-15)
    x = model.sample((N_MEAN,), rng=16)
    share = np.mean(x == 10.0)
    assert abs(share - 0.3) < 4 * math.sqrt(0.3 * 0.7 / N_MEAN)
    _assert_mean_matches(Mixture((LogNormal(3600.0, 0.5), Uniform(60.0, 240.0)), (0.9, 0.1)), 17)


def test_lognormal_from_mean_roundtrip():
    for m, s in [(7200.0, 1.0), (3.0, 0.1), (1e6, 2.5)]:
        model = LogNormal.from_mean(m, s)
        assert model.mean_s == pytest.approx(m, rel=1e-12)
        assert model.sigma == s


def test_empirical_stores_read_only_copy():
    values = np.array([1.0, 2.0, 3.0])
    model = Empirical(values)
    values[0] = 100.0
    assert model.mean_s == 2.0
    with pytest.raises(ValueError):
        model.durations_s[0] = 5.0
    x = model.sample((10_000,), rng=18)
    assert set(np.unique(x)) == {1.0, 2.0, 3.0}


# ---- from_summary -------------------------------------------------------------------------


def test_from_summary_matches_strubell_mean():
    model = from_summary(**LISA, sigma=1.0)
    assert isinstance(model, Truncated)
    assert model.mean_s == pytest.approx(52 * S_PER_H, rel=1e-6)
    x = model.sample((N_MEAN,), rng=20)
    assert x.min() >= 180.0 and x.max() <= 9 * 86400.0
    se = x.std(ddof=1) / math.sqrt(N_MEAN)
    assert abs(x.mean() - model.mean_s) < 4 * se


def test_from_summary_crash_fraction_reconciles_table_4():
    model = from_summary(**LISA, sigma=1.0, crash_fraction=0.0366)
    assert isinstance(model, Mixture)
    assert model.weights == pytest.approx((1 - 0.0366, 0.0366))
    assert model.mean_s / S_PER_H == pytest.approx(LISA_GPU_H_PER_JOB, rel=1e-3)
    crash = model.components[1]
    assert crash == Uniform(180.0, 720.0)
    x = model.sample((50_000,), rng=21)
    assert x.min() >= 180.0 and x.max() <= 9 * 86400.0


@pytest.mark.parametrize("sigma", [0.3, 1.0, 2.0])
def test_from_summary_solves_for_any_sigma(sigma: float):
    model = from_summary(min_s=60.0, mean_s=3600.0, max_s=86400.0, sigma=sigma)
    assert model.mean_s == pytest.approx(3600.0, rel=1e-9)
    assert model.base.sigma == sigma  # type: ignore[attr-defined]


# ---- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "fragments"),
    [
        (lambda: LogNormal(3600.0, -1.0), ["sigma > 0", "sigma=-1.0"]),
        (lambda: LogNormal.from_mean(3600.0, 0.0), ["sigma > 0", "sigma=0.0"]),
        (lambda: LogNormal(-5.0, 1.0), ["median_s", "-5.0"]),
        (lambda: Gamma(100.0, float("nan")), ["cv", "nan"]),
        (lambda: Weibull(0.0, 10.0), ["shape", "shape=0.0"]),
        (lambda: Fixed(math.inf), ["duration_s", "inf"]),
        (lambda: Uniform(10.0, 5.0), ["low_s < high_s", "low_s=10.0", "high_s=5.0"]),
        (lambda: Empirical([]), ["durations_s", "(0,)"]),
        (lambda: Empirical([1.0, -2.0]), ["durations_s", "-2.0"]),
        (lambda: Truncated(LogNormal(1.0, 1.0), 10.0, 5.0), ["min_s < max_s", "min_s=10.0"]),
        (lambda: Truncated(Fixed(1.0), 0.5, 2.0), ["`base`", "Fixed"]),
        (lambda: Mixture((Fixed(1.0), Fixed(2.0)), (0.5, 0.6)), ["sum(weights) == 1", "0.6"]),
        (lambda: Mixture((Fixed(1.0),), (0.5, 0.5)), ["len(weights) == len(components)"]),
        (lambda: Mixture((Fixed(1.0), Fixed(2.0)), (-0.5, 1.5)), ["weights[j]", "-0.5"]),
        (lambda: from_summary(**{**LISA, "sigma": -1.0}), ["sigma > 0", "sigma=-1.0"]),
        (
            lambda: from_summary(min_s=100.0, mean_s=50.0, max_s=200.0),
            ["min_s < mean_s < max_s", "mean_s=50.0"],
        ),
        (
            lambda: from_summary(min_s=300.0, mean_s=250.0, max_s=200.0),
            ["min_s < mean_s < max_s", "min_s=300.0", "max_s=200.0"],
        ),
        (
            lambda: from_summary(**LISA, crash_fraction=1.0),
            ["0 <= crash_fraction < 1", "crash_fraction=1.0"],
        ),
        (
            lambda: from_summary(**LISA, crash_fraction=0.1, crash_max_s=100.0),
            ["crash_max_s", "crash_max_s=100.0"],
        ),
        (
            lambda: from_summary(min_s=180.0, mean_s=181.0, max_s=1e6, sigma=1.0),
            ["mean_s=181.0", "smaller sigma"],
        ),
    ],
)
def test_bad_model_inputs_raise_config_error(make, fragments: list[str]):
    with pytest.raises(ConfigError) as info:
        make()
    assert isinstance(info.value, ValueError)
    for fragment in fragments:
        assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("data", "fragments"),
    [
        ({"dist": "lognormal", "median_h": 1.0, "sigma": -1.0}, ["sigma", "greater than 0", "-1"]),
        (
            {"dist": "lognormal", "median_h": 1.0, "mean_h": 2.0, "sigma": 1.0},
            ["exactly one of `median_h` and `mean_h`", "median_h=1.0", "mean_h=2.0"],
        ),
        ({"dist": "lognormal", "sigma": 1.0}, ["exactly one of `median_h` and `mean_h`"]),
        (
            {"dist": "gamma", "mean_h": 1.0, "cv": 0.5, "min_h": 3.0, "max_h": 2.0},
            ["min_h < max_h", "min_h=3.0", "max_h=2.0"],
        ),
        (
            {"dist": "summary", "min_h": 1.0, "mean_h": 0.5, "max_h": 2.0},
            ["min_h < mean_h < max_h", "mean_h=0.5"],
        ),
        (
            {"dist": "summary", "min_h": 1.0, "mean_h": 2.0, "max_h": 3.0, "crash_fraction": 1.0},
            ["crash_fraction", "less than 1", "1.0"],
        ),
        ({"dist": "uniform", "low_h": 2.0, "high_h": 1.0}, ["low_h < high_h", "low_h=2.0"]),
        ({"dist": "fixed", "duration_h": 1.0, "max_h": 2.0}, ["max_h", "not supported", "fixed"]),
        ({"dist": "empirical", "durations_h": [1.0], "min_h": 0.5}, ["min_h", "empirical"]),
        ({"dist": "empirical", "durations_h": []}, ["durations_h", "at least 1"]),
        ({"dist": "weibull", "shape": 1.0, "scale_h": 1.0, "colour": "red"}, ["colour", "extra"]),
        (
            {"dist": "normal", "mean_h": 1.0},
            ["normal", "'fixed'", "'lognormal'", "'gamma'", "'weibull'", "'summary'"],
        ),
    ],
)
def test_bad_configs_raise_validation_error(data: dict[str, object], fragments: list[str]):
    with pytest.raises(ValidationError) as info:
        ADAPTER.validate_python(data)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message


def test_configs_convert_hours_to_seconds():
    build = lambda data: ADAPTER.validate_python(data).build()  # noqa: E731
    assert build({"dist": "fixed", "duration_h": 0.5}) == Fixed(1800.0)
    assert build({"dist": "lognormal", "median_h": 2.0, "sigma": 0.8}) == LogNormal(7200.0, 0.8)
    from_mean = build({"dist": "lognormal", "mean_h": 2.0, "sigma": 0.8})
    assert from_mean.mean_s == pytest.approx(7200.0, rel=1e-12)
    assert build({"dist": "gamma", "mean_h": 1.0, "cv": 0.5}) == Gamma(3600.0, 0.5)
    assert build({"dist": "weibull", "shape": 2.0, "scale_h": 1.0}) == Weibull(2.0, 3600.0)
    assert build({"dist": "uniform", "low_h": 1.0, "high_h": 2.0}) == Uniform(3600.0, 7200.0)
    trunc = build({"dist": "gamma", "mean_h": 1.0, "cv": 0.5, "max_h": 3.0})
    assert isinstance(trunc, Truncated)
    assert (trunc.min_s, trunc.max_s) == (0.0, 3 * S_PER_H)
    emp = build({"dist": "empirical", "durations_h": [1.0, 2.0]})
    np.testing.assert_array_equal(emp.durations_s, [3600.0, 7200.0])
    summ = build({"dist": "summary", "min_h": 0.05, "mean_h": 52.0, "max_h": 216.0})
    assert summ.mean_s == pytest.approx(52 * S_PER_H, rel=1e-9)


def test_configs_are_frozen():
    cfg = LogNormalConfig(dist="lognormal", median_h=1.0, sigma=1.0)
    with pytest.raises(ValidationError):
        cfg.sigma = 2.0  # type: ignore[misc]


# ---- fast sampling: scipy.special inverses, no scipy.stats per draw -------------------------


def _truncnorm_in_log_space(model: Truncated) -> object:
    """scipy.stats' own truncated distribution of log(X), independent of tunecost's CDF."""
    mu, sigma = model.base.mu, model.base.sigma  # type: ignore[attr-defined]
    a = (math.log(model.min_s) - mu) / sigma if model.min_s > 0 else -math.inf
    b = (math.log(model.max_s) - mu) / sigma
    return scipy.stats.truncnorm(a, b, loc=mu, scale=sigma)


@pytest.mark.parametrize(
    "model",
    [
        from_summary(**LISA),  # lower branch, mass ~ 0.95
        Truncated(LogNormal(3600.0, 1.0), min_s=600.0, max_s=7200.0),
        Truncated(LogNormal(1.0, 1.0), min_s=math.exp(3.0), max_s=math.exp(4.0)),  # upper tail
        Truncated(LogNormal(3600.0, 0.5), min_s=0.0, max_s=4000.0),  # no lower bound
    ],
    ids=["lisa", "both-bounds", "upper-tail", "max-only"],
)
def test_fast_truncated_lognormal_matches_scipy_truncated_distribution(model: Truncated):
    x = model.sample((N_MEAN,), rng=30)
    assert x.min() >= max(model.min_s, 0.0) and x.max() <= model.max_s
    # KS against scipy.stats.truncnorm on log(X): an independent reference for the law.
    assert scipy.stats.kstest(np.log(x[:50_000]), _truncnorm_in_log_space(model).cdf).pvalue > 1e-3
    # The sample mean agrees with the closed-form truncated mean within 4 standard errors.
    se = x.std(ddof=1) / math.sqrt(N_MEAN)
    assert abs(x.mean() - model.mean_s) < 4 * se, (x.mean(), model.mean_s, se)


@pytest.mark.parametrize(
    "model",
    [
        from_summary(**LISA),
        Truncated(LogNormal(1.0, 1.0), min_s=math.exp(3.0), max_s=math.exp(4.0)),
        Truncated(Gamma(600.0, 0.5), min_s=1200.0, max_s=3000.0),
        Truncated(Gamma(3600.0, 0.5), min_s=0.0, max_s=9000.0),  # by rejection
        Truncated(Weibull(0.7, 1000.0), min_s=0.0, max_s=5000.0),
        Truncated(Uniform(10.0, 100.0), min_s=20.0, max_s=50.0),
        from_summary(**LISA, crash_fraction=0.05),
    ],
    ids=["lisa", "lognormal-upper", "gamma-upper", "gamma-rejection", "weibull", "uniform",
         "mixture"],
)
def test_sampling_never_touches_scipy_stats(model: DurationModel, monkeypatch):
    frozen = scipy.stats._distn_infrastructure.rv_continuous_frozen

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("scipy.stats used while sampling")

    for name in ("__init__", "ppf", "isf", "cdf", "sf"):
        monkeypatch.setattr(frozen, name, boom)
    monkeypatch.setattr(scipy.stats._distn_infrastructure.rv_continuous, "freeze", boom)
    x = model.sample((417, 39), rng=0)
    assert x.shape == (417, 39) and np.isfinite(x).all() and (x > 0).all()


def test_truncated_quantile_forms_match_scipy():
    cases = [
        (LogNormal(3600.0, 0.8), [1e-300, 1e-9, 0.3, 0.5, 0.9, 1 - 1e-12]),
        (Gamma(600.0, 0.5), [1e-12, 0.2, 0.5, 0.99]),
        (Weibull(0.7, 1000.0), [1e-12, 0.2, 0.5, 0.99]),
        (Uniform(10.0, 100.0), [0.0, 0.2, 0.5, 1.0]),
    ]
    for base, qs in cases:
        q = np.array(qs)
        d = base.dist
        np.testing.assert_allclose(base._ppf(q), d.ppf(q), rtol=1e-12)
        np.testing.assert_allclose(base._isf(q), d.isf(q), rtol=1e-12)
        x = d.ppf(q[(q > 0) & (q < 1)])
        np.testing.assert_allclose(base._cdf(x), d.cdf(x), rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(base._sf(x), d.sf(x), rtol=1e-12, atol=1e-300)


def test_truncated_gamma_by_rejection_has_the_truncated_law():
    model = Truncated(Gamma(3600.0, 0.5), min_s=600.0, max_s=9000.0)
    assert model._reject and model.mass >= 0.5
    x = model.sample((N_MEAN,), rng=31)
    assert x.min() >= 600.0 and x.max() <= 9000.0
    d = model.base.dist
    cdf = lambda v: (d.cdf(v) - d.cdf(600.0)) / (d.cdf(9000.0) - d.cdf(600.0))  # noqa: E731
    assert scipy.stats.kstest(x[:50_000], cdf).pvalue > 1e-3
    se = x.std(ddof=1) / math.sqrt(N_MEAN)
    assert abs(x.mean() - model.mean_s) < 4 * se
    # Exactly the shape asked for, including empty and scalar shapes.
    assert model.sample((), rng=0).shape == ()
    assert model.sample((0, 3), rng=0).shape == (0, 3)


class _UserBase:
    """A user distribution known only by its scipy frozen distribution."""

    calls = 0

    @property
    def dist(self) -> object:
        type(self).calls += 1
        return scipy.stats.lognorm(s=0.5, scale=100.0)


def test_truncated_user_base_freezes_its_dist_once():
    model = Truncated(_UserBase(), min_s=50.0, max_s=300.0)
    built = _UserBase.calls
    for seed in range(20):
        x = model.sample((100,), rng=seed)
        assert x.min() >= 50.0 and x.max() <= 300.0
    assert _UserBase.calls == built == 1
    ref = Truncated(LogNormal(100.0, 0.5), 50.0, 300.0)
    np.testing.assert_allclose(model.cdf([60.0, 100.0, 250.0]), ref.cdf([60.0, 100.0, 250.0]))


@pytest.mark.parametrize("model", CONTRACT_CASES.values(), ids=CONTRACT_CASES.keys())
def test_models_pickle_and_accept_every_seed_form(model: DurationModel):
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.sample((20,), rng=5), model.sample((20,), rng=5))
    np.testing.assert_array_equal(
        model.sample((20,), rng=np.random.SeedSequence(5)), model.sample((20,), rng=5)
    )
    assert model.sample((4,), rng=None).shape == (4,)
    with pytest.raises(TypeError, match="rng must be"):
        model.sample((4,), rng="five")  # type: ignore[arg-type]


def test_mixture_never_picks_a_zero_weight_component():
    model = Mixture((Fixed(1.0), Fixed(2.0), Fixed(3.0)), (0.5, 0.0, 0.5))
    x = model.sample((10_000,), rng=0)
    assert set(np.unique(x)) == {1.0, 3.0}
