"""Search strategies: which jobs a hyperparameter study runs, and who waits for whom.

A strategy is a frozen object with one method, ``plan(n_reps, *, rng) -> TrialPlan`` (see
:class:`Strategy`). Users describe one in YAML or JSON as a config selected by ``kind``
(:data:`StrategyConfig`, a pydantic discriminated union) and call ``.build()``.

:data:`STRATEGY_CONFIGS` is the one registry: ``kind`` -> config class, for every kind, the
vectorised ones and those only the event-driven replay runs. :data:`StrategyConfig` is
derived from it, and so are the views :data:`STRATEGIES` (kinds with a plan) and
:data:`REPLAY_STRATEGIES`; registering a config class there is the one step that adds a
kind. What consumers need to know about a kind is stated on its config class (class
variables of ``_Config``) and read through :func:`replay_only`, :func:`size_field` and
:func:`resizable_by_prefix`, never by comparing ``kind`` with names.

Example:
    >>> from pydantic import TypeAdapter
    >>> cfg = TypeAdapter(StrategyConfig).validate_python({"kind": "random", "n_trials": 3})
    >>> cfg.build().plan(2, rng=0).fidelity.shape
    (2, 3)
    >>> replay_only(cfg), size_field(cfg), resizable_by_prefix(cfg)
    (False, 'n_trials', True)
"""

from __future__ import annotations

from pydantic import BaseModel

from tunecost._registry import discriminated_union, registry
from tunecost.exceptions import ConfigError
from tunecost.strategies._base import Strategy, TrialPlan, _Config
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
    "REPLAY_STRATEGIES",
    "STRATEGIES",
    "STRATEGY_CONFIGS",
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
    "replay_only",
    "resizable_by_prefix",
    "size_field",
]

STRATEGY_CONFIGS: dict[str, type[_Config]] = registry(
    "kind",
    SingleRunConfig,
    GridSearchConfig,
    RandomSearchConfig,
    BayesianOptimizationConfig,
    SuccessiveHalvingConfig,
    ASHAConfig,
    HyperbandConfig,
    MedianPruningConfig,
    NeuralArchitectureSearchConfig,
    OptunaSearchConfig,
    RayTuneConfig,
)
"""Registry: ``kind`` -> config class, every kind (each config's ``.build()`` returns a
:class:`Strategy`, or for a replay-only kind an object the replay engine drives). The one
place a kind is added."""

StrategyConfig = discriminated_union(STRATEGY_CONFIGS, "kind")
"""Any strategy config, selected by its ``kind`` field; validate with a pydantic
``TypeAdapter(StrategyConfig)`` or as a field of a larger model, then call ``.build()``.
Derived from :data:`STRATEGY_CONFIGS`."""

STRATEGIES: dict[str, type[BaseModel]] = {
    k: c for k, c in STRATEGY_CONFIGS.items() if not c.replay_only
}
"""The kinds with a plan (:class:`Strategy`), which both engines run: a view of
:data:`STRATEGY_CONFIGS`."""

REPLAY_STRATEGIES: dict[str, type[BaseModel]] = {
    k: c for k, c in STRATEGY_CONFIGS.items() if c.replay_only
}
"""The kinds only the event engine runs (``tunecost.simulate.events``): a real Optuna
sampler and pruner, or a Ray Tune scheduler; a view of :data:`STRATEGY_CONFIGS`. Their
results decide their jobs, so they cannot keep the :class:`Strategy` contract (a plan drawn
before the run); their ``plan`` raises a ConfigError pointing at the replay engine."""


def _config_class(config: BaseModel | type[BaseModel] | str) -> type[_Config]:
    if isinstance(config, str):
        try:
            return STRATEGY_CONFIGS[config]
        except KeyError:
            raise ConfigError(
                f"unknown strategy kind {config!r}; known: {sorted(STRATEGY_CONFIGS)}"
            ) from None
    cls = config if isinstance(config, type) else type(config)
    if not issubclass(cls, _Config):
        raise TypeError(f"expected a strategy config, a config class or a kind, got {config!r}")
    return cls


def replay_only(config: BaseModel | type[BaseModel] | str) -> bool:
    """Whether only the event-driven replay engine can run this strategy (a real sampler,
    pruner or scheduler, whose jobs depend on results); the vectorised engine refuses it.

    Args:
        config: a strategy config, its class, or its ``kind``.

    Example:
        >>> replay_only("optuna"), replay_only("grid")
        (True, False)
    """
    return _config_class(config).replay_only


def size_field(config: BaseModel | type[BaseModel] | str) -> str | None:
    """The name of the integer field that sets how many trials the study runs (``n_trials``,
    ``n_configs`` for a grid, ``n_runs``, ``n_children``), or ``None`` when no single field
    does (hyperband) or, for a config instance, when that field is unset (a grid given by
    its ``space``).

    Args:
        config: a strategy config, its class, or its ``kind`` (then the field is not checked
            for being set).

    Example:
        >>> size_field("grid"), size_field(GridSearchConfig(space={"lr": [0.1]}))
        ('n_configs', None)
    """
    name = _config_class(config).size_field
    if name is None or isinstance(config, str | type):
        return name
    return name if getattr(config, name, None) is not None else None


def resizable_by_prefix(config: BaseModel | type[BaseModel] | str) -> bool:
    """Whether the study's size can be varied through :func:`size_field` alone, a study of
    ``k`` trials planning exactly the first ``k`` trials of a larger one (random, grid by
    ``n_configs``, bayesian, median pruning); not for successive halving, whose rung counts
    follow ``n_trials``, nor for a single run or NAS.

    Args:
        config: a strategy config, its class, or its ``kind``.

    Example:
        >>> resizable_by_prefix("random"), resizable_by_prefix("asha")
        (True, False)
    """
    return _config_class(config).resizable_by_prefix and size_field(config) is not None
