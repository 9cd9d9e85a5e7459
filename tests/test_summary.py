"""Summaries: the streaming one against exact numpy figures on data that fits in memory."""

from __future__ import annotations

import numpy as np
import pytest

from tunecost.summary import QUANTILES, RELATIVE_ACCURACY, StreamingSummary, summarize

_RNG = np.random.default_rng(20261127)
SAMPLES = {
    "lognormal": _RNG.lognormal(4.0, 1.2, 200_001),
    "normal, both signs": _RNG.normal(0.5, 1.0, 50_000),
    "gamma with zeros": np.concatenate([np.zeros(3_000), _RNG.gamma(2.0, 3.0, 7_000)]),
    "integers": _RNG.integers(0, 40, 10_000).astype(np.float64),
    "constant": np.full(1_000, 4789.0),
    "tiny and huge": np.concatenate([_RNG.uniform(1e-9, 2e-9, 500), _RNG.uniform(1e9, 2e9, 500)]),
    "one value": np.array([3.5]),
}


def _streamed(values: np.ndarray, n_chunks: int) -> StreamingSummary:
    out = StreamingSummary()
    for chunk in np.array_split(values, n_chunks):
        out.merge(StreamingSummary.of(chunk))
    return out


@pytest.mark.parametrize("name", SAMPLES)
@pytest.mark.parametrize("n_chunks", [1, 13])
def test_quantiles_within_stated_relative_error(name: str, n_chunks: int) -> None:
    """Each percentile is within α = 0.1 % of numpy's; mean and std agree to rounding."""
    values = SAMPLES[name]
    exact = summarize(values)
    streamed = _streamed(values, n_chunks).summary()
    assert exact is not None and streamed is not None
    assert streamed["mean"] == pytest.approx(exact["mean"], rel=1e-12, abs=1e-12)
    assert streamed["std"] == pytest.approx(exact["std"], rel=1e-9, abs=1e-12)
    for q in QUANTILES:
        # A percentile interpolating between a negative and a positive neighbour has no
        # relative bound; its error is bounded by α times the larger neighbour instead.
        scale = abs(exact[q]) if name != "normal, both signs" else np.abs(values).max()
        assert abs(streamed[q] - exact[q]) <= RELATIVE_ACCURACY * (1 + 1e-9) * scale, q


def test_exact_where_values_are_repeated_extremes() -> None:
    """A constant sample, and the minimum and maximum, come back exactly (clamping)."""
    s = _streamed(SAMPLES["constant"], 7)
    assert s.summary() == summarize(SAMPLES["constant"])
    values = SAMPLES["lognormal"]
    s = _streamed(values, 3)
    assert s.quantile(0.0) == values.min() and s.quantile(100.0) == values.max()


def test_memory_does_not_grow_with_the_sample() -> None:
    """The histogram spans the values' range, not their number."""
    small, large = StreamingSummary(), StreamingSummary()
    for _ in range(20):
        chunk = _RNG.lognormal(4.0, 0.5, 50_000)
        large.merge(StreamingSummary.of(chunk))
    small.add(_RNG.lognormal(4.0, 0.5, 1_000))
    assert large.count == 1_000_000
    decades = np.log10(large.max / large.min)
    assert large._pos.counts.size <= decades * np.log(10) / large._log_gamma + 2
    assert large._pos.counts.size < 20_000


def test_merging_the_same_chunks_in_the_same_order_gives_the_same_bits() -> None:
    values = SAMPLES["lognormal"]
    assert _streamed(values, 9).summary() == _streamed(values, 9).summary()


def test_nan_and_empty_follow_summarize() -> None:
    """All NaN → None (a quantity not priced); some NaN → NaN everywhere, as numpy gives."""
    assert StreamingSummary.of(np.full(5, np.nan)).summary() is None
    assert StreamingSummary().summary() is None
    some = StreamingSummary.of(np.array([1.0, np.nan, 2.0])).summary()
    assert some is not None and all(np.isnan(v) for v in some.values())
    exact = summarize(np.array([1.0, np.nan, 2.0]))
    assert exact is not None and set(exact) == set(some)


def test_bad_input_fails_loudly() -> None:
    with pytest.raises(ValueError, match="finite"):
        StreamingSummary.of(np.array([1.0, np.inf]))
    with pytest.raises(ValueError, match="0 < relative_accuracy < 1"):
        StreamingSummary(0.0)
    with pytest.raises(ValueError, match="same accuracy"):
        StreamingSummary(0.01).merge(StreamingSummary(0.02))
