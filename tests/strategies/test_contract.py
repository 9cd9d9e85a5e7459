"""The contract every registered strategy must keep (optuna's shared sampler tests pattern)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
from pydantic import TypeAdapter

from tunecost.strategies import STRATEGIES, StrategyConfig, TrialPlan

# One representative config per registry entry, with the number of trials its plan must have.
CASES: dict[str, tuple[dict[str, Any], int]] = {
    "single_run": ({"n_runs": 2}, 2),
    "grid": (
        {"space": {"lr": [0.1, 0.01], "layers": [2, 4, 8]}, "repeats": 2, "batch_size": 4},
        12,
    ),
    "random": ({"n_trials": 9, "batch_size": 4}, 9),
    "bayesian": (
        {"n_trials": 10, "n_startup": 4, "batch_size": 3, "exploit_cost_factor": 1.5},
        10,
    ),
    "successive_halving": ({"n_trials": 20, "min_fidelity": 1 / 9, "eta": 3}, 20),
    "asha": ({"n_trials": 20, "min_fidelity": 1 / 9, "eta": 3, "resume": False}, 20),
    # eta=3, min 1/9: brackets of 9, 5 and 3 configurations, twice.
    "hyperband": ({"min_fidelity": 1 / 9, "eta": 3, "n_iterations": 2}, 2 * (9 + 5 + 3)),
    "median_pruning": (
        {"n_trials": 12, "n_evaluations": 5, "stop_fraction": 0.4, "n_startup_trials": 3},
        12,
    ),
    "nas": ({"n_children": 6, "child_fidelity": 0.25, "child_cost_factor": 0.5}, 7),
}

N_REPS = 7


def test_cases_cover_the_registry() -> None:
    assert set(CASES) == set(STRATEGIES)


def _config(kind: str) -> Any:
    return TypeAdapter(StrategyConfig).validate_python({"kind": kind, **CASES[kind][0]})


def _plan(kind: str, seed: int = 0, n_reps: int = N_REPS) -> TrialPlan:
    return _config(kind).build().plan(n_reps, rng=np.random.default_rng(seed))


@pytest.fixture(params=sorted(CASES))
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_registry_maps_kind_to_its_config(kind: str) -> None:
    cfg = _config(kind)
    assert type(cfg) is STRATEGIES[kind]
    assert cfg.kind == kind
    assert cfg.build().name == kind


def test_plan_validates_with_expected_shapes(kind: str) -> None:
    plan = _plan(kind)
    assert plan.validate(N_REPS) is plan
    assert plan.n_trials == CASES[kind][1]
    n = plan.n_jobs
    assert plan.fidelity.shape == plan.reached.shape == plan.stopped.shape == (N_REPS, n)
    for arr in (plan.trial, plan.stage, plan.barrier, plan.parent):
        assert arr.dtype == np.int64 and arr.shape == (n,)
    assert plan.fidelity.dtype == plan.reached.dtype == plan.cost_factor.dtype == np.float64
    assert plan.stopped.dtype == bool
    assert len(plan.config) == n
    # Every trial id 0..n_trials-1 has at least one job.
    assert set(plan.trial.tolist()) == set(range(plan.n_trials))


def test_fidelity_and_reached_in_unit_interval(kind: str) -> None:
    plan = _plan(kind)
    assert (plan.fidelity > 0).all() and (plan.fidelity <= 1 + 1e-12).all()
    assert (plan.reached > 0).all() and (plan.reached <= 1 + 1e-12).all()
    assert (plan.cost_factor > 0).all()


def test_reached_non_decreasing_and_stopped_only_last(kind: str) -> None:
    plan = _plan(kind)
    for t in range(plan.n_trials):
        jobs = np.flatnonzero(plan.trial == t)
        assert (np.diff(plan.reached[:, jobs], axis=1) > 0).all()
        # A trial "ends" with its stopped job, so no job of it may follow.
        assert not plan.stopped[:, jobs[:-1]].any()


def test_dependencies_point_backwards(kind: str) -> None:
    plan = _plan(kind)
    jobs = np.arange(plan.n_jobs)
    has_parent = plan.parent >= 0
    assert (plan.parent[has_parent] < jobs[has_parent]).all()
    assert (plan.parent >= -1).all()
    # A parent is the same trial's previous job.
    assert (plan.trial[plan.parent[has_parent]] == plan.trial[has_parent]).all()
    has_barrier = plan.barrier >= 0
    assert (plan.barrier[has_barrier] < plan.stage[has_barrier]).all()
    assert (plan.barrier >= -1).all()
    # A barrier names a stage that has jobs: an empty stage has no end time.
    assert set(plan.barrier[has_barrier].tolist()) <= set(plan.stage.tolist())


def test_same_seed_same_plan(kind: str) -> None:
    a, b = _plan(kind, seed=123), _plan(kind, seed=123)
    for field in dataclasses.fields(TrialPlan):
        x, y = getattr(a, field.name), getattr(b, field.name)
        if isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y)
        else:
            assert x == y


def test_single_replicate(kind: str) -> None:
    plan = _plan(kind, n_reps=1)
    plan.validate(1)
    assert plan.n_trials == CASES[kind][1]


def test_strategy_and_config_are_frozen(kind: str) -> None:
    cfg = _config(kind)
    strategy = cfg.build()
    first_field = dataclasses.fields(strategy)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(strategy, first_field, None)
    with pytest.raises(Exception, match="frozen"):
        cfg.kind = "other"


def test_config_round_trips(kind: str) -> None:
    cfg = _config(kind)
    again = TypeAdapter(StrategyConfig).validate_python(cfg.model_dump())
    assert again == cfg
    assert again.build() == cfg.build()


def test_unknown_key_rejected(kind: str) -> None:
    with pytest.raises(Exception, match="not_a_field"):
        TypeAdapter(StrategyConfig).validate_python(
            {"kind": kind, **CASES[kind][0], "not_a_field": 1}
        )


def test_n_reps_must_be_positive(kind: str) -> None:
    strategy = _config(kind).build()
    with pytest.raises(ValueError, match="n_reps"):
        strategy.plan(0, rng=np.random.default_rng(0))
