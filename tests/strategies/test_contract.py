"""The contract every registered strategy must keep (optuna's shared sampler tests pattern).

Two layers: ``CASES`` gives a representative config (and its trial count) for every kind
with a plan; ``MINIMAL`` gives the smallest valid config for *every* registered kind,
replay-only ones included, and the registry-wide tests are parametrised over
``STRATEGY_CONFIGS`` itself, so registering a kind without a minimal config here fails.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel, TypeAdapter

from tunecost.exceptions import ConfigError
from tunecost.strategies import (
    REPLAY_STRATEGIES,
    STRATEGIES,
    STRATEGY_CONFIGS,
    StrategyConfig,
    TrialPlan,
    replay_only,
    resizable_by_prefix,
    size_field,
)

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
    return _config(kind).build().plan(n_reps, rng=seed)


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
        strategy.plan(0, rng=0)


# ---- every registered kind, replay-only ones included --------------------------------------

MINIMAL: dict[str, dict[str, Any]] = {
    "single_run": {},
    "grid": {"n_configs": 4},
    "random": {"n_trials": 4},
    "bayesian": {"n_trials": 4},
    "successive_halving": {"n_trials": 4, "min_fidelity": 0.25},
    "asha": {"n_trials": 4, "min_fidelity": 0.25},
    "hyperband": {"min_fidelity": 0.25},
    "median_pruning": {"n_trials": 8, "n_evaluations": 4, "stop_fraction": 0.5},
    "nas": {"n_children": 4, "child_fidelity": 0.5},
    "optuna": {"n_trials": 4},
    "ray_tune": {"n_trials": 4},
}
"""The smallest valid config of each registered kind (besides ``kind``)."""


def _minimal(kind: str) -> BaseModel:
    assert kind in MINIMAL, f"registered strategy kind {kind!r} has no minimal config in MINIMAL"
    return TypeAdapter(StrategyConfig).validate_python({"kind": kind, **MINIMAL[kind]})


@pytest.fixture(params=sorted(STRATEGY_CONFIGS))
def any_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_union_is_derived_from_the_registry() -> None:
    union = typing.get_args(StrategyConfig)[0]
    assert typing.get_args(union) == tuple(STRATEGY_CONFIGS.values())
    assert STRATEGIES.keys() | REPLAY_STRATEGIES.keys() == STRATEGY_CONFIGS.keys()
    assert not STRATEGIES.keys() & REPLAY_STRATEGIES.keys()
    for kind, cls in STRATEGY_CONFIGS.items():
        assert cls.model_fields["kind"].default == kind


def test_minimal_configs_name_only_registered_kinds() -> None:
    assert set(MINIMAL) <= set(STRATEGY_CONFIGS)


def test_minimal_config_validates_to_its_class(any_kind: str) -> None:
    cfg = _minimal(any_kind)
    assert type(cfg) is STRATEGY_CONFIGS[any_kind]
    assert cfg.build().name == any_kind  # type: ignore[attr-defined]


@pytest.mark.parametrize("n_reps", [1, 3])
def test_plan_or_refusal(any_kind: str, n_reps: int) -> None:
    strategy = _minimal(any_kind).build()  # type: ignore[attr-defined]
    if replay_only(any_kind):
        with pytest.raises(ConfigError, match="replay engine") as info:
            strategy.plan(n_reps, rng=0)
        assert "engine='replay'" in str(info.value)
        return
    plan = strategy.plan(n_reps, rng=0)
    assert isinstance(plan, TrialPlan)
    assert plan.validate(n_reps) is plan
    n = plan.n_jobs
    assert n >= plan.n_trials >= 1
    assert plan.fidelity.shape == plan.reached.shape == plan.stopped.shape == (n_reps, n)
    for arr in (plan.trial, plan.stage, plan.barrier, plan.parent, plan.cost_factor):
        assert arr.shape == (n,)
    assert set(plan.trial.tolist()) == set(range(plan.n_trials))
    assert ((plan.fidelity > 0) & (plan.fidelity <= 1)).all()
    jobs = np.arange(n)
    assert ((plan.parent == -1) | ((plan.parent >= 0) & (plan.parent < jobs))).all()
    assert ((plan.barrier == -1) | ((plan.barrier >= 0) & (plan.barrier < plan.stage))).all()


def _assert_same_plan(a: TrialPlan, b: TrialPlan) -> None:
    for f in dataclasses.fields(TrialPlan):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y, err_msg=f.name)
        else:
            assert x == y, f.name


@pytest.mark.parametrize("kind", sorted(STRATEGIES))
def test_every_seed_form_gives_the_same_plan(kind: str) -> None:
    strategy = _minimal(kind).build()  # type: ignore[attr-defined]
    by_int = strategy.plan(3, rng=7)
    _assert_same_plan(by_int, strategy.plan(3, rng=7))
    _assert_same_plan(by_int, strategy.plan(3, rng=np.random.SeedSequence(7)))
    with pytest.raises(TypeError, match="rng must be"):
        strategy.plan(3, rng="seven")
    strategy.plan(3, rng=None)  # fresh entropy, still a valid plan


def test_facts_are_consistent(any_kind: str) -> None:
    cls = STRATEGY_CONFIGS[any_kind]
    cfg = _minimal(any_kind)
    field = size_field(cfg)
    assert size_field(any_kind) == size_field(cls) == cls.size_field
    if cls.size_field is not None:
        assert cls.size_field in cls.model_fields
    if field is not None:
        assert isinstance(getattr(cfg, field), int)
    assert replay_only(cfg) == replay_only(cls) == (any_kind in REPLAY_STRATEGIES)
    if resizable_by_prefix(cfg):
        assert field is not None and not replay_only(cfg)


@pytest.mark.parametrize("kind", sorted(k for k in STRATEGIES if resizable_by_prefix(k)))
def test_resizable_by_prefix_means_the_first_k_trials(kind: str) -> None:
    """With size k the plan is the first k trials of the plan with size 2k (one replicate,
    same seed: a strategy that draws per trial draws them in trial order)."""
    cfg = _config(kind) if resizable_by_prefix(_config(kind)) else _minimal(kind)
    field = size_field(cfg)
    assert field is not None
    k = getattr(cfg, field)
    small = cfg.build().plan(1, rng=3)  # type: ignore[attr-defined]
    big = cfg.model_copy(update={field: 2 * k}).build().plan(1, rng=3)  # type: ignore[attr-defined]
    assert big.n_trials == 2 * small.n_trials
    first = big.trial < small.n_trials
    assert first.sum() == small.n_jobs
    for name in ("trial", "stage", "barrier", "parent", "cost_factor"):
        np.testing.assert_array_equal(getattr(big, name)[first], getattr(small, name), name)
    for name in ("fidelity", "reached", "stopped"):
        np.testing.assert_array_equal(getattr(big, name)[:, first], getattr(small, name), name)


def test_grid_by_space_has_no_size_field() -> None:
    cfg = TypeAdapter(StrategyConfig).validate_python({"kind": "grid", "space": {"lr": [1, 2]}})
    assert size_field(cfg) is None and not resizable_by_prefix(cfg)
    assert size_field("grid") == "n_configs"


def test_unknown_kind_in_helpers() -> None:
    with pytest.raises(ConfigError, match="evolution"):
        replay_only("evolution")
    with pytest.raises(TypeError):
        size_field(3)  # type: ignore[arg-type]
