"""Config validation: bad values are rejected with the field and value named."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from tunecost.exceptions import ConfigError
from tunecost.strategies import (
    ASHA,
    STRATEGIES,
    BayesianOptimization,
    GridSearch,
    Hyperband,
    MedianPruning,
    NeuralArchitectureSearch,
    RandomSearch,
    SingleRun,
    StrategyConfig,
    SuccessiveHalving,
)

ADAPTER: TypeAdapter[Any] = TypeAdapter(StrategyConfig)

# (config, a field the error must name, the bad value it must show)
BAD_CONFIGS = [
    ({"kind": "successive_halving", "n_trials": 9, "min_fidelity": 0.1, "eta": 1}, "eta", "1"),
    ({"kind": "asha", "n_trials": 9, "min_fidelity": 0.1, "eta": 1}, "eta", "1"),
    ({"kind": "hyperband", "min_fidelity": 0.1, "eta": 1}, "eta", "1"),
    ({"kind": "hyperband", "min_fidelity": 0}, "min_fidelity", "0"),
    ({"kind": "asha", "n_trials": 9, "min_fidelity": 0.0}, "min_fidelity", "0.0"),
    ({"kind": "hyperband", "min_fidelity": 0.5, "max_fidelity": 0.25}, "min_fidelity", "0.5"),
    (
        {"kind": "successive_halving", "n_trials": 9, "min_fidelity": 0.5, "max_fidelity": 0.25},
        "max_fidelity",
        "0.25",
    ),
    ({"kind": "hyperband", "min_fidelity": 1.5}, "min_fidelity", "1.5"),
    ({"kind": "grid", "space": {"lr": [0.1]}, "n_configs": 3}, "n_configs", "3"),
    ({"kind": "grid"}, "space", "None"),
    ({"kind": "grid", "space": {"lr": []}}, "lr", "[]"),
    ({"kind": "grid", "space": {"lr": [0.1, 0.1]}}, "lr", "0.1"),
    (
        {"kind": "median_pruning", "n_trials": 5, "n_evaluations": 5, "stop_fraction": 1},
        "stop_fraction",
        "1",
    ),
    (
        {"kind": "median_pruning", "n_trials": 5, "n_evaluations": 5, "stop_fraction": -0.1},
        "stop_fraction",
        "-0.1",
    ),
    (
        {"kind": "median_pruning", "n_trials": 5, "n_evaluations": 0, "stop_fraction": 0.1},
        "n_evaluations",
        "0",
    ),
    ({"kind": "random", "n_trials": 0}, "n_trials", "0"),
    ({"kind": "random", "n_trials": 3, "batch_size": 0}, "batch_size", "0"),
    ({"kind": "bayesian", "n_trials": 0}, "n_trials", "0"),
    ({"kind": "bayesian", "n_trials": 5, "exploit_cost_factor": 0}, "exploit_cost_factor", "0"),
    ({"kind": "successive_halving", "n_trials": 0, "min_fidelity": 0.1}, "n_trials", "0"),
    ({"kind": "single_run", "n_runs": 0}, "n_runs", "0"),
    ({"kind": "nas", "n_children": 0, "child_fidelity": 0.1}, "n_children", "0"),
    ({"kind": "nas", "n_children": 3, "child_fidelity": 1.2}, "child_fidelity", "1.2"),
]


@pytest.mark.parametrize(("data", "field", "value"), BAD_CONFIGS)
def test_bad_config_names_field_and_value(data: dict[str, Any], field: str, value: str) -> None:
    with pytest.raises(ValidationError) as info:
        ADAPTER.validate_python(data)
    text = str(info.value)
    assert field in text
    assert value in text


def test_every_kind_has_a_bad_config() -> None:
    assert {d["kind"] for d, _, _ in BAD_CONFIGS} == set(STRATEGIES)


def test_unknown_kind_lists_valid_kinds() -> None:
    with pytest.raises(ValidationError) as info:
        ADAPTER.validate_python({"kind": "evolution", "n_trials": 3})
    text = str(info.value)
    assert "evolution" in text
    for kind in STRATEGIES:
        assert repr(kind) in text


def test_missing_required_field_named() -> None:
    with pytest.raises(ValidationError, match="min_fidelity"):
        ADAPTER.validate_python({"kind": "hyperband"})


# The strategy classes check the same rules when built directly, with ConfigError.
BAD_CONSTRUCTORS = [
    (lambda: SuccessiveHalving(n_trials=9, min_fidelity=0.1, eta=1), "eta >= 2", "eta=1"),
    (lambda: ASHA(n_trials=9, min_fidelity=0.0), "min_fidelity", "min_fidelity=0.0"),
    (
        lambda: Hyperband(min_fidelity=0.5, max_fidelity=0.25),
        "min_fidelity <= max_fidelity",
        "max_fidelity=0.25",
    ),
    (lambda: Hyperband(min_fidelity=0.1, eta=2.5), "eta is an integer", "eta=2.5"),
    (lambda: GridSearch(space={"lr": [0.1]}, n_configs=3), "exactly one of", "n_configs=3"),
    (
        lambda: MedianPruning(n_trials=5, n_evaluations=5, stop_fraction=1.0),
        "stop_fraction",
        "stop_fraction=1.0",
    ),
    (lambda: RandomSearch(n_trials=0), "n_trials >= 1", "n_trials=0"),
    (lambda: RandomSearch(n_trials=True), "n_trials is an integer", "n_trials=True"),
    (lambda: BayesianOptimization(n_trials=5, batch_size=0), "batch_size >= 1", "batch_size=0"),
    (lambda: SingleRun(n_runs=0), "n_runs >= 1", "n_runs=0"),
    (
        lambda: NeuralArchitectureSearch(
            n_children=2, child_fidelity=0.5, final_cost_factor=float("nan")
        ),
        "final_cost_factor",
        "final_cost_factor=nan",
    ),
]


@pytest.mark.parametrize(("make", "rule", "value"), BAD_CONSTRUCTORS)
def test_bad_constructor_raises_config_error(make: Any, rule: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        make()
    text = str(info.value)
    assert rule in text and "must hold, but got" in text and value in text


def test_n_reps_checked() -> None:
    with pytest.raises(ConfigError, match="n_reps >= 1"):
        RandomSearch(n_trials=3).plan(0, rng=0)


def test_sizes_are_counted_before_anything_is_built() -> None:
    """A grid of 10**12 points, or 10**12 trials, is refused from its count (it hung, or
    allocated TiB)."""
    from tunecost.strategies import GridSearch, Hyperband, RandomSearch
    from tunecost.strategies._base import MAX_JOBS_PER_STUDY

    with pytest.raises(ConfigError, match=r"1,000,000,000,000 jobs \(counted, not built\)"):
        GridSearch(space={f"p{i}": list(range(10)) for i in range(12)})
    with pytest.raises(ConfigError, match="n_trials=1,000,001"):
        RandomSearch(n_trials=MAX_JOBS_PER_STUDY + 1)
    assert RandomSearch(n_trials=MAX_JOBS_PER_STUDY).n_trials == MAX_JOBS_PER_STUDY
    with pytest.raises(ConfigError, match="eta"):
        Hyperband(min_fidelity=1e-300, eta=2)
