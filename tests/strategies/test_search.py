"""Single run, grid, random and Bayesian optimisation: one full-fidelity job per trial."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tunecost.strategies import (
    BayesianOptimization,
    GridSearch,
    GridSearchConfig,
    RandomSearch,
    SingleRun,
)

RNG = 0  # an int seed: plan() normalises it with tunecost._rng.as_generator


def test_single_run() -> None:
    plan = SingleRun(n_runs=3).plan(4, rng=RNG)
    assert plan.n_jobs == plan.n_trials == 3
    assert (plan.fidelity == 1.0).all() and (plan.barrier == -1).all()
    assert plan.config == ("run 0", "run 1", "run 2")


def test_grid_size_is_product_times_repeats() -> None:
    space = {"lr": [0.1, 0.01, 0.001], "layers": [2, 4], "opt": ["adam", "sgd"], "wd": [0.0]}
    plan = GridSearch(space=space, repeats=3).plan(2, rng=RNG)
    assert plan.n_trials == plan.n_jobs == math.prod(len(v) for v in space.values()) * 3 == 36
    assert len(set(plan.config)) == plan.n_jobs
    assert (plan.fidelity == 1.0).all() and not plan.stopped.any()


def test_grid_labels_and_order() -> None:
    plan = GridSearch(space={"lr": [0.1, 0.01], "layers": [2, 4]}, repeats=2).plan(1, rng=RNG)
    assert plan.config[:3] == (
        "lr=0.1, layers=2, seed=0",
        "lr=0.1, layers=2, seed=1",
        "lr=0.1, layers=4, seed=0",
    )
    assert plan.config[-1] == "lr=0.01, layers=4, seed=1"


def test_grid_n_configs_and_batches() -> None:
    plan = GridSearch(n_configs=5, repeats=2, batch_size=4).plan(3, rng=RNG)
    assert plan.n_trials == 10
    assert plan.config[:2] == ("config 0, seed=0", "config 0, seed=1")
    assert plan.stage.tolist() == [0] * 4 + [1] * 4 + [2] * 2
    assert plan.barrier.tolist() == [-1] * 4 + [0] * 4 + [1] * 2


def test_grid_config_keeps_value_types() -> None:
    cfg = GridSearchConfig(space={"lr": [0.1, 1], "fast": [True, False], "opt": ["adam"]})
    labels = cfg.build().labels()
    assert labels[0] == "lr=0.1, fast=True, opt=adam, seed=0"
    assert len(labels) == 4


def test_random_search() -> None:
    plan = RandomSearch(n_trials=7).plan(3, rng=RNG)
    assert plan.n_trials == 7 and (plan.stage == 0).all() and (plan.barrier == -1).all()
    batched = RandomSearch(n_trials=7, batch_size=3).plan(3, rng=RNG)
    assert batched.stage.tolist() == [0, 0, 0, 1, 1, 1, 2]


def test_bayesian_stages_and_barriers() -> None:
    bo = BayesianOptimization(n_trials=10, n_startup=4, batch_size=3, exploit_cost_factor=1.4)
    plan = bo.plan(2, rng=RNG)
    assert plan.stage.tolist() == [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert plan.barrier.tolist() == [-1] * 4 + [0, 0, 0, 1, 1, 1]
    np.testing.assert_allclose(plan.cost_factor, [1.0] * 4 + [1.4] * 6)
    assert (plan.fidelity == 1.0).all()


def test_bayesian_sequential_and_edge_cases() -> None:
    seq = BayesianOptimization(n_trials=5, n_startup=2).plan(1, rng=RNG)
    assert seq.stage.tolist() == [0, 0, 1, 2, 3]
    assert seq.barrier.tolist() == [-1, -1, 0, 1, 2]
    # No start-up trials: the first batch is stage 0 (no barrier on an empty stage).
    none = BayesianOptimization(n_trials=4, n_startup=0, batch_size=2).plan(1, rng=RNG)
    assert none.stage.tolist() == [0, 0, 1, 1]
    assert none.barrier.tolist() == [-1, -1, 0, 0]
    # More start-up trials than trials: all random, all at once.
    all_random = BayesianOptimization(n_trials=3, exploit_cost_factor=2.0).plan(1, rng=RNG)
    assert (all_random.stage == 0).all() and (all_random.cost_factor == 1.0).all()


@pytest.mark.parametrize(
    ("n_startup", "expected_sizes"),
    [(0, [4, 4, 3]), (3, [3, 4, 4]), (5, [5, 4, 2]), (11, [11]), (20, [11])],
)
def test_bayesian_stage_sizes(n_startup: int, expected_sizes: list[int]) -> None:
    plan = BayesianOptimization(n_trials=11, n_startup=n_startup, batch_size=4).plan(1, rng=RNG)
    assert np.bincount(plan.stage).tolist() == expected_sizes
