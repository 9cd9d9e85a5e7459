"""Successive halving (SHA and ASHA) and Hyperband: rung counts, fidelities, dependencies."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from tunecost.strategies import (
    ASHA,
    Hyperband,
    HyperbandConfig,
    SuccessiveHalving,
    TrialPlan,
)

RNG = 0  # an int seed: plan() normalises it with tunecost._rng.as_generator


def _rungs_from_plan(plan: TrialPlan) -> list[tuple[int, float]]:
    """(number of jobs, fidelity reached) of each stage, in stage order."""
    out = []
    for st in np.unique(plan.stage):
        jobs = plan.stage == st
        reached = np.unique(plan.reached[:, jobs])
        assert reached.size == 1  # one fidelity per rung
        out.append((int(jobs.sum()), float(reached[0])))
    return out


def _fidelity_per_trial(plan: TrialPlan) -> np.ndarray:
    return np.bincount(plan.trial, weights=plan.fidelity[0], minlength=plan.n_trials)


# --- successive halving ---------------------------------------------------------------------


def test_sha_rungs_and_counts() -> None:
    plan = SuccessiveHalving(n_trials=27, min_fidelity=1 / 27, eta=3).plan(2, rng=RNG)
    got = _rungs_from_plan(plan)
    assert [n for n, _ in got] == [27, 9, 3, 1]
    np.testing.assert_allclose([r for _, r in got], [1 / 27, 1 / 9, 1 / 3, 1.0])
    assert plan.n_jobs == 27 + 9 + 3 + 1


def test_top_rung_exact_at_powers_of_eta() -> None:
    # math.log(81) / math.log(3) == 3.999..., which floors to 3: the top rung must still be 4.
    assert SuccessiveHalving(n_trials=81, min_fidelity=1 / 81, eta=3).top_rung == 4
    assert SuccessiveHalving(n_trials=8, min_fidelity=1 / 8, eta=2).top_rung == 3
    assert SuccessiveHalving(n_trials=8, min_fidelity=0.1, eta=3).top_rung == 2  # 0.9 <= 1
    assert SuccessiveHalving(n_trials=8, min_fidelity=0.5, max_fidelity=0.5).top_rung == 0


def test_sha_resume_total_is_max_fidelity() -> None:
    plan = SuccessiveHalving(n_trials=27, min_fidelity=1 / 27, eta=3).plan(1, rng=RNG)
    total = _fidelity_per_trial(plan)
    top_trials = np.unique(plan.trial[plan.reached[0] == plan.reached.max()])
    assert top_trials.tolist() == [0]
    assert total[0] == pytest.approx(1.0, rel=1e-12)
    # A trial stopped at rung 0 did only rung 0's work.
    assert total[26] == pytest.approx(1 / 27)


def test_sha_without_resume_retrains_from_scratch() -> None:
    plan = SuccessiveHalving(n_trials=27, min_fidelity=1 / 27, eta=3, resume=False).plan(
        1, rng=RNG
    )
    np.testing.assert_allclose(plan.fidelity, plan.reached)
    assert _fidelity_per_trial(plan)[0] == pytest.approx(1 / 27 + 1 / 9 + 1 / 3 + 1)


def test_sha_barriers_are_previous_rung() -> None:
    plan = SuccessiveHalving(n_trials=27, min_fidelity=1 / 27, eta=3).plan(1, rng=RNG)
    np.testing.assert_array_equal(plan.barrier, np.where(plan.stage > 0, plan.stage - 1, -1))


def test_asha_no_barriers_and_parent_is_previous_rung() -> None:
    sha = SuccessiveHalving(n_trials=27, min_fidelity=1 / 27, eta=3).plan(1, rng=RNG)
    asha = ASHA(n_trials=27, min_fidelity=1 / 27, eta=3).plan(1, rng=RNG)
    assert (asha.barrier == -1).all()
    promoted = np.flatnonzero(asha.parent >= 0)
    assert promoted.size == 9 + 3 + 1
    parent = asha.parent[promoted]
    assert (asha.trial[parent] == asha.trial[promoted]).all()
    # The parent is the same trial's previous rung: one stage down, fidelity 1/eta as far.
    assert (asha.stage[parent] == asha.stage[promoted] - 1).all()
    np.testing.assert_allclose(asha.reached[0, parent] * 3, asha.reached[0, promoted])
    # Same jobs and work as the synchronous schedule: only the waiting differs.
    np.testing.assert_array_equal(asha.trial, sha.trial)
    np.testing.assert_array_equal(asha.fidelity, sha.fidelity)
    np.testing.assert_array_equal(asha.parent, sha.parent)


def test_stopped_means_not_promoted_to_the_top() -> None:
    plan = SuccessiveHalving(n_trials=27, min_fidelity=1 / 27, eta=3).plan(3, rng=RNG)
    stopped_trials = plan.trial[plan.stopped[0]]
    # Each trial but the one at the top rung is stopped exactly once.
    assert sorted(stopped_trials.tolist()) == list(range(1, 27))
    assert not plan.stopped[:, plan.trial == 0].any()
    # Stopped where not promoted: 18 at rung 0, 6 at rung 1, 2 at rung 2.
    assert np.bincount(plan.stage[plan.stopped[0]]).tolist() == [18, 6, 2]


def test_top_rung_below_max_fidelity_is_not_stopped() -> None:
    # 0.1 * 3**2 = 0.9: the top rung stops below max_fidelity, and its trial is not pruned.
    plan = SuccessiveHalving(n_trials=9, min_fidelity=0.1, eta=3).plan(1, rng=RNG)
    assert plan.reached.max() == pytest.approx(0.9)
    top = plan.reached[0] == plan.reached.max()
    assert not plan.stopped[0, top].any()
    assert plan.stopped[0].sum() == 8


def test_empty_top_rungs_are_dropped() -> None:
    # K = 4 but only 10 trials: rungs of 10, 3, 1, then nothing.
    plan = SuccessiveHalving(n_trials=10, min_fidelity=1 / 81, eta=3).plan(1, rng=RNG)
    assert [n for n, _ in _rungs_from_plan(plan)] == [10, 3, 1]
    assert not plan.stopped[0, plan.trial == 0].any()  # best trial is the result
    assert plan.stopped[0].sum() == 9


def test_fidelity_rounding_stays_within_max() -> None:
    plan = SuccessiveHalving(n_trials=100, min_fidelity=1 / 81, eta=3).plan(1, rng=RNG)
    assert plan.reached.max() <= 1.0
    assert (plan.fidelity > 0).all()


# --- hyperband ------------------------------------------------------------------------------


def _expected_hyperband(eta: int, s_max: int, big_r: Fraction) -> list[list[tuple[int, Fraction]]]:
    """Li et al. (2018), Algorithm 1, written out with exact fractions: per bracket
    ``s = s_max..0``, the (trials, fidelity) of each rung."""
    brackets = []
    for s in range(s_max, -1, -1):
        n = math.ceil(Fraction(s_max + 1, s + 1) * eta**s)
        r = big_r / eta**s
        brackets.append([(math.floor(Fraction(n, eta**i)), r * eta**i) for i in range(s + 1)])
    return brackets


def test_hyperband_matches_formula_eta3_r81() -> None:
    plan = Hyperband(min_fidelity=1 / 81, eta=3).plan(2, rng=RNG)
    brackets = _expected_hyperband(eta=3, s_max=4, big_r=Fraction(1))
    assert [b[0][0] for b in brackets] == [81, 34, 15, 8, 5]  # the formula, sanity-checked
    expected = [rung for b in brackets for rung in b]
    got = _rungs_from_plan(plan)
    assert [n for n, _ in got] == [n for n, _ in expected]
    np.testing.assert_allclose([r for _, r in got], [float(r) for _, r in expected], rtol=1e-12)
    # Bracket s=4: 81, 27, 9, 3, 1 trials at 1/81 .. 1.
    assert [n for n, _ in got[:5]] == [81, 27, 9, 3, 1]
    # Bracket sizes read off the plan: jobs with no parent start a configuration.
    starts = plan.stage[plan.parent == -1]
    assert np.unique(starts, return_counts=True)[1].tolist() == [81, 34, 15, 8, 5]
    assert plan.n_trials == 81 + 34 + 15 + 8 + 5


def test_hyperband_hand_table_eta3_r27() -> None:
    # R = 27 r: s_max = 3. (trials, fidelity) per rung, bracket by bracket, by hand.
    table = [
        (27, 1 / 27),
        (9, 1 / 9),
        (3, 1 / 3),
        (1, 1.0),  # s=3: n = ceil(4/4 * 27) = 27
        (12, 1 / 9),
        (4, 1 / 3),
        (1, 1.0),  # s=2: n = ceil(4/3 * 9) = 12
        (6, 1 / 3),
        (2, 1.0),  # s=1: n = ceil(4/2 * 3) = 6
        (4, 1.0),  # s=0: n = 4
    ]
    got = _rungs_from_plan(Hyperband(min_fidelity=1 / 27, eta=3).plan(1, rng=RNG))
    assert [n for n, _ in got] == [n for n, _ in table]
    np.testing.assert_allclose([r for _, r in got], [r for _, r in table], rtol=1e-12)


def test_hyperband_max_fidelity_scales_every_rung() -> None:
    got = _rungs_from_plan(Hyperband(min_fidelity=0.5 / 27, max_fidelity=0.5).plan(1, rng=RNG))
    expected = [rung for b in _expected_hyperband(3, 3, Fraction(1, 2)) for rung in b]
    np.testing.assert_allclose([r for _, r in got], [float(r) for _, r in expected], rtol=1e-12)


def test_hyperband_brackets_independent_and_sync_within() -> None:
    plan = Hyperband(min_fidelity=1 / 27, eta=3).plan(1, rng=RNG)
    rung0 = plan.parent == -1
    assert (plan.barrier[rung0] == -1).all()  # every bracket's first rung may start at once
    promoted = ~rung0
    # Within a bracket, a promoted job waits for its parent's whole rung.
    np.testing.assert_array_equal(plan.barrier[promoted], plan.stage[plan.parent[promoted]])
    # Each trial appears in exactly one stage per rung: stages are unique per bracket rung.
    assert len(np.unique(plan.stage)) == 4 + 3 + 2 + 1


def test_hyperband_async_and_iterations() -> None:
    one = Hyperband(min_fidelity=1 / 27, eta=3, sync=False).plan(1, rng=RNG)
    two = Hyperband(min_fidelity=1 / 27, eta=3, sync=False, n_iterations=2).plan(1, rng=RNG)
    assert (one.barrier == -1).all() and (two.barrier == -1).all()
    assert two.n_jobs == 2 * one.n_jobs and two.n_trials == 2 * one.n_trials
    assert len(np.unique(two.stage)) == 2 * len(np.unique(one.stage))
    np.testing.assert_array_equal(two.fidelity[:, : one.n_jobs], one.fidelity)
    # The second iteration repeats the first, with its parents shifted past the first's jobs.
    second = two.parent[one.n_jobs :]
    np.testing.assert_array_equal(second, np.where(one.parent >= 0, one.parent + one.n_jobs, -1))
    assert two.trial[one.n_jobs :].min() == one.n_trials


def test_hyperband_resume_totals() -> None:
    plan = Hyperband(min_fidelity=1 / 27, eta=3).plan(1, rng=RNG)
    total = _fidelity_per_trial(plan)
    final = np.zeros(plan.n_trials)
    np.maximum.at(final, plan.trial, plan.reached[0])
    # With resume, a trial's work is the fidelity it reached, whichever bracket it is in.
    np.testing.assert_allclose(total, final, rtol=1e-12)
    assert not plan.stopped[0, plan.reached[0] == 1.0].any()


def test_hyperband_config_builds() -> None:
    hb = HyperbandConfig(min_fidelity=1 / 81).build()
    assert hb.s_max == 4
    assert [c[0] for c, _ in hb.brackets()] == [81, 34, 15, 8, 5]
