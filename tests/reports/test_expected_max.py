"""Expected best score vs budget (Dodge et al. 2019, Tang et al. 2020), by hand and brute force."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest

from tunecost.exceptions import ConfigError
from tunecost.reports.expected_max import (
    expected_best_curve,
    expected_max_dodge,
    expected_max_unbiased,
)


def test_dodge_hand_computed_case_is_exact() -> None:
    # v = 1, 2, 3, 4; n = 2: weights (i/4)^2 - ((i-1)/4)^2 = (2i - 1)/16, so
    # E = (1·1 + 2·3 + 3·5 + 4·7) / 16 = 50/16 = 3.125, exact in binary floating point.
    assert expected_max_dodge(np.array([4.0, 2.0, 1.0, 3.0]), 2)[0] == 3.125
    # n = 1 is the mean of the scores (Dodge et al.: "the leftmost point").
    assert expected_max_dodge(np.array([4.0, 2.0, 1.0, 3.0]), 1)[0] == 2.5


@pytest.mark.parametrize("values", [[0.3, 0.9, 0.5], [1.0, 1.0, 2.0, 5.0], [2.0, 7.0]])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_dodge_equals_brute_force_with_replacement(values: list[float], n: int) -> None:
    # Every ordered n-tuple drawn with replacement is equally likely.
    tuples = list(itertools.product(values, repeat=n))
    exact = sum(Fraction(max(t)) for t in tuples) / len(tuples)
    assert expected_max_dodge(np.array(values), n)[0] == pytest.approx(float(exact), rel=1e-12)


def test_losses_are_mirrored() -> None:
    v = np.array([2.4, 2.2, 2.9, 2.3])
    assert expected_max_dodge(v, 2, maximize=False)[0] == pytest.approx(
        -expected_max_dodge(-v, 2)[0]
    )
    # The expected minimum of 2 is below the mean and above the minimum.
    e = expected_max_dodge(v, 2, maximize=False)[0]
    assert v.min() < e < v.mean()


def test_tang_hand_computed_case() -> None:
    # Pairs of {1, 2, 3, 4}: maxima 2, 3, 4, 3, 4, 4 → 20/6.
    assert expected_max_unbiased(np.array([1.0, 2.0, 3.0, 4.0]), 2)[0] == pytest.approx(
        10 / 3, rel=1e-14
    )
    # At n = N it is the sample maximum (Dodge's is below it); at n = 1 both are the mean.
    v = np.array([1.0, 2.0, 3.0, 4.0])
    assert expected_max_unbiased(v, 4)[0] == pytest.approx(4.0)
    assert expected_max_dodge(v, 4)[0] < 4.0
    assert expected_max_unbiased(v, 1)[0] == pytest.approx(v.mean())


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_tang_equals_mean_over_subsets(n: int) -> None:
    v = np.array([0.61, 0.2, 0.93, 0.47, 0.55])
    subsets = list(itertools.combinations(v, n))
    exact = np.mean([max(s) for s in subsets])
    assert expected_max_unbiased(v, n)[0] == pytest.approx(exact, rel=1e-12)
    assert expected_max_unbiased(v, n, maximize=False)[0] == pytest.approx(
        np.mean([min(s) for s in subsets]), rel=1e-12
    )


def test_tang_rejects_budgets_beyond_the_sample() -> None:
    with pytest.raises(ConfigError, match="n <= N"):
        expected_max_unbiased(np.array([1.0, 2.0]), 3)


def test_curve_bands_and_cost_of_a_step() -> None:
    rng = np.random.default_rng(3)
    losses = 2.1 + rng.gamma(2.0, 0.05, size=40)
    eb = expected_best_curve(losses, maximize=False, cost_per_trial={"n_trials": 1.0,
                                                                      "energy_kwh": 0.5},
                             n_boot=300, rng=1)
    for name, curve in eb.curves.items():
        assert np.all(np.diff(curve) <= 1e-12)  # more trials never hurt the expected best
        lo, hi = eb.bands[name]
        assert np.all(lo <= curve + 1e-9) and np.all(curve <= hi + 1e-9)
    step = eb.cost_of_step()
    assert step["extra_trials"] == step["N"] - step["from_n"]
    assert step["extra_energy_kwh"] == pytest.approx(0.5 * step["extra_trials"])
    assert eb.curves["tang2020"][step["from_n"] - 1] <= step["best_at_N"] + 0.01
    rows = eb.to_rows()
    assert rows[9]["energy_kwh"] == pytest.approx(5.0) and rows[9]["n_trials"] == 10
