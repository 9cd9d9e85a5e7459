"""Search strategies: which jobs a hyperparameter study runs, and who waits for whom.

A strategy is a frozen object with one method, ``plan(n_reps, *, rng) -> TrialPlan`` (see
:class:`Strategy`). Users describe one in YAML or JSON as a config selected by ``kind``
(:data:`StrategyConfig`, a pydantic discriminated union) and call ``.build()``; the registry
:data:`STRATEGIES` maps each ``kind`` to its config class.

Example:
    >>> import numpy as np
    >>> from pydantic import TypeAdapter
    >>> cfg = TypeAdapter(StrategyConfig).validate_python({"kind": "random", "n_trials": 3})
    >>> cfg.build().plan(2, rng=np.random.default_rng(0)).fidelity.shape
    (2, 3)
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from tunecost.strategies._base import Strategy, TrialPlan
from tunecost.strategies.bayesian import BayesianOptimization, BayesianOptimizationConfig
from tunecost.strategies.grid import GridSearch, GridSearchConfig
from tunecost.strategies.hyperband import Hyperband, HyperbandConfig
from tunecost.strategies.median_pruning import MedianPruning, MedianPruningConfig
from tunecost.strategies.nas import NeuralArchitectureSearch, NeuralArchitectureSearchConfig
from tunecost.strategies.optuna_search import OptunaSearch, OptunaSearchConfig
from tunecost.strategies.random import RandomSearch, RandomSearchConfig
from tunecost.strategies.ray_tune import RayTuneConfig, RayTuneSearch
from tunecost.strategies.single_run import SingleRun, SingleRunConfig
from tunecost.strategies.successive_halving import (
    ASHA,
    ASHAConfig,
    SuccessiveHalving,
    SuccessiveHalvingConfig,
)

__all__ = [
    "ASHA",
    "STRATEGIES",
    "ASHAConfig",
    "BayesianOptimization",
    "BayesianOptimizationConfig",
    "GridSearch",
    "GridSearchConfig",
    "Hyperband",
    "HyperbandConfig",
    "MedianPruning",
    "MedianPruningConfig",
    "NeuralArchitectureSearch",
    "NeuralArchitectureSearchConfig",
    "OptunaSearch",
    "OptunaSearchConfig",
    "REPLAY_STRATEGIES",
    "RandomSearch",
    "RandomSearchConfig",
    "RayTuneConfig",
    "RayTuneSearch",
    "SingleRun",
    "SingleRunConfig",
    "Strategy",
    "StrategyConfig",
    "SuccessiveHalving",
    "SuccessiveHalvingConfig",
    "TrialPlan",
]

StrategyConfig = Annotated[
    SingleRunConfig
    | GridSearchConfig
    | RandomSearchConfig
    | BayesianOptimizationConfig
    | SuccessiveHalvingConfig
    | ASHAConfig
    | HyperbandConfig
    | MedianPruningConfig
    | NeuralArchitectureSearchConfig
    | OptunaSearchConfig
    | RayTuneConfig,
    Field(discriminator="kind"),
]
"""Any strategy config, selected by its ``kind`` field; validate with a pydantic
``TypeAdapter(StrategyConfig)`` or as a field of a larger model, then call ``.build()``."""

STRATEGIES: dict[str, type[BaseModel]] = {
    "single_run": SingleRunConfig,
    "grid": GridSearchConfig,
    "random": RandomSearchConfig,
    "bayesian": BayesianOptimizationConfig,
    "successive_halving": SuccessiveHalvingConfig,
    "asha": ASHAConfig,
    "hyperband": HyperbandConfig,
    "median_pruning": MedianPruningConfig,
    "nas": NeuralArchitectureSearchConfig,
}
"""Registry: ``kind`` -> config class (each config's ``.build()`` returns a :class:`Strategy`)."""

REPLAY_STRATEGIES: dict[str, type[BaseModel]] = {
    "optuna": OptunaSearchConfig,
    "ray_tune": RayTuneConfig,
}
"""Registry of the kinds only the event-driven replay runs (``tunecost.replay``): a real Optuna
sampler and pruner, or a Ray Tune scheduler. Kept apart from :data:`STRATEGIES` because their
results decide their jobs, so they cannot keep the :class:`Strategy` contract (a plan drawn
before the run); their ``plan`` raises a ConfigError pointing at the replay engine."""
