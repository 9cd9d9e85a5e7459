"""Median pruning: the geometric stopping model, start-up trials and warm-up."""

from __future__ import annotations

import numpy as np
import pytest

from tunecost.strategies import MedianPruning


def _expected_stop_pmf(n_eval: int, warmup: int, p: float) -> dict[int, float]:
    """P(stop evaluation = k) for a prunable trial.

    At each evaluation k = warmup+1 .. n_eval-1 a surviving trial stops with probability p,
    so it stops at k with probability p (1-p)^(k-warmup-1); it survives all
    n_eval-1-warmup of them, and completes (k = n_eval), with probability (1-p)^(n_eval-1-warmup).
    """
    pmf = {k: p * (1 - p) ** (k - warmup - 1) for k in range(warmup + 1, n_eval)}
    pmf[n_eval] = (1 - p) ** (n_eval - 1 - max(warmup, 0))
    return pmf


def test_no_stopping_runs_every_trial_to_full() -> None:
    plan = MedianPruning(n_trials=30, n_evaluations=8, stop_fraction=0.0).plan(
        50, rng=0
    )
    assert (plan.fidelity == 1.0).all() and (plan.reached == 1.0).all()
    assert not plan.stopped.any()


def test_mean_stopping_fidelity_matches_closed_form() -> None:
    n_eval, warmup, p, n_start = 10, 2, 0.3, 4
    mp = MedianPruning(
        n_trials=20,
        n_evaluations=n_eval,
        stop_fraction=p,
        n_warmup_evaluations=warmup,
        n_startup_trials=n_start,
    )
    plan = mp.plan(50_000, rng=1)
    pmf = _expected_stop_pmf(n_eval, warmup, p)
    assert sum(pmf.values()) == pytest.approx(1.0)
    expected_mean = sum(k * q for k, q in pmf.items()) / n_eval
    prunable = plan.fidelity[:, n_start:]
    # 800k draws with sd < 0.5: the standard error of the mean is below 6e-4.
    assert prunable.mean() == pytest.approx(expected_mean, abs=4e-3)
    stop_at = np.rint(prunable * n_eval).astype(int)
    for k, q in pmf.items():
        assert (stop_at == k).mean() == pytest.approx(q, abs=4e-3), k
    assert ((stop_at <= warmup) | (stop_at > n_eval)).sum() == 0


def test_startup_trials_never_stopped() -> None:
    plan = MedianPruning(n_trials=12, n_evaluations=5, stop_fraction=0.9, n_startup_trials=3).plan(
        2000, rng=2
    )
    assert (plan.fidelity[:, :3] == 1.0).all()
    assert not plan.stopped[:, :3].any()
    assert plan.stopped[:, 3:].mean() > 0.5  # and the others are pruned, mostly


def test_stopped_iff_below_full_and_warmup_respected() -> None:
    plan = MedianPruning(
        n_trials=12, n_evaluations=6, stop_fraction=0.5, n_warmup_evaluations=3, n_startup_trials=0
    ).plan(3000, rng=3)
    np.testing.assert_array_equal(plan.stopped, plan.fidelity < 1.0)
    np.testing.assert_array_equal(plan.reached, plan.fidelity)
    assert set(np.unique(plan.fidelity).tolist()) == {4 / 6, 5 / 6, 1.0}


def test_warmup_covering_all_evaluations_disables_pruning() -> None:
    plan = MedianPruning(
        n_trials=12, n_evaluations=4, stop_fraction=0.9, n_warmup_evaluations=3, n_startup_trials=0
    ).plan(100, rng=4)
    assert not plan.stopped.any()


def test_replicates_differ_and_seeds_matter() -> None:
    mp = MedianPruning(n_trials=20, n_evaluations=10, stop_fraction=0.3, n_startup_trials=0)
    a = mp.plan(100, rng=5).fidelity
    b = mp.plan(100, rng=6).fidelity
    assert not np.array_equal(a, b)
    assert not (a == a[0]).all()  # not one draw broadcast over replicates


def test_batches() -> None:
    plan = MedianPruning(n_trials=5, n_evaluations=3, stop_fraction=0.5, batch_size=2).plan(
        4, rng=7
    )
    assert plan.stage.tolist() == [0, 0, 1, 1, 2]
    assert plan.barrier.tolist() == [-1, -1, 0, 0, 1]
