"""Bayesian optimisation (e.g. TPE, GP): random start-up trials, then synchronous batches."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

import numpy as np
from pydantic import Field

from tunecost._rng import RngLike
from tunecost.strategies._base import (
    TrialPlan,
    _check_count,
    _check_float,
    _check_int,
    _check_n_reps,
    _Config,
    _generator,
)

__all__ = ["BayesianOptimization", "BayesianOptimizationConfig"]


@dataclass(frozen=True, slots=True)
class BayesianOptimization:
    """Sequential model-based search, as its cost structure: who waits for whom.

    The first ``n_startup`` trials are random and independent (stage 0, no barrier). After
    them the optimiser needs results to propose, so the remaining trials come in synchronous
    batches of ``batch_size``: batch ``b`` (stage ``b``, from 1) starts only when batch
    ``b - 1`` (or the start-up stage) has ended entirely. With ``batch_size=1`` the search is
    fully sequential.

    This is an approximation for the vectorised path. Where the sampler concentrates its
    proposals (for example TPE drifting towards larger, slower models) is summarised by one
    number, ``exploit_cost_factor``, that multiplies the duration of every post-start-up
    trial. The event-driven replay runs the real sampler instead.

    Args:
        n_trials: total number of trials, int >= 1.
        n_startup: random start-up trials, int >= 0; capped at ``n_trials``.
        batch_size: trials proposed at once after start-up, int >= 1.
        exploit_cost_factor: duration multiplier of post-start-up trials, float > 0
            (dimensionless; 1.0 means they cost the same as random ones).

    Example:
        >>> bo = BayesianOptimization(n_trials=10, n_startup=4, batch_size=3)
        >>> bo.plan(1, rng=0).barrier
        array([-1, -1, -1, -1,  0,  0,  0,  1,  1,  1])
    """

    name: ClassVar[str] = "bayesian"

    n_trials: int
    n_startup: int = 10
    batch_size: int = 1
    exploit_cost_factor: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "n_trials", _check_count("n_trials", self.n_trials))
        object.__setattr__(self, "n_startup", _check_int("n_startup", self.n_startup, low=0))
        object.__setattr__(self, "batch_size", _check_int("batch_size", self.batch_size, low=1))
        object.__setattr__(
            self,
            "exploit_cost_factor",
            _check_float(
                "exploit_cost_factor",
                self.exploit_cost_factor,
                low=0.0,
                high=np.inf,
                high_open=True,
            ),
        )

    def plan(self, n_reps: int, *, rng: RngLike) -> TrialPlan:
        """One full-fidelity job per trial; ``rng`` is accepted and not used."""
        n_reps = _check_n_reps(n_reps)
        _generator(rng)  # checked, not used
        n_start = min(self.n_startup, self.n_trials)
        after = np.arange(self.n_trials - n_start, dtype=np.int64)
        # With no start-up trials the first batch is stage 0: a barrier on an empty stage
        # would ask the simulator for the end time of no jobs.
        first = 1 if n_start else 0
        stage = np.concatenate(
            [np.zeros(n_start, dtype=np.int64), first + after // self.batch_size]
        )
        barrier = np.where(np.arange(self.n_trials) < n_start, -1, stage - 1)
        cost = np.where(np.arange(self.n_trials) < n_start, 1.0, self.exploit_cost_factor)
        labels = tuple(
            f"trial {j} (start-up)" if j < n_start else f"trial {j} (batch {stage[j]})"
            for j in range(self.n_trials)
        )
        base = TrialPlan.simple(n_reps, self.n_trials, config=labels, cost_factor=cost)
        return dataclasses.replace(base, stage=stage, barrier=barrier.astype(np.int64))


class BayesianOptimizationConfig(_Config):
    """``{"kind": "bayesian", "n_trials": 100, "n_startup": 10, "batch_size": 4}``.

    Example:
        >>> BayesianOptimizationConfig(n_trials=50, exploit_cost_factor=1.3).build()
        BayesianOptimization(n_trials=50, n_startup=10, batch_size=1, exploit_cost_factor=1.3)
    """

    kind: Literal["bayesian"] = "bayesian"
    size_field: ClassVar[str | None] = "n_trials"
    resizable_by_prefix: ClassVar[bool] = True
    n_trials: Annotated[int, Field(gt=0)]
    n_startup: Annotated[int, Field(ge=0)] = 10
    batch_size: Annotated[int, Field(gt=0)] = 1
    exploit_cost_factor: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 1.0

    def build(self) -> BayesianOptimization:
        """Build the :class:`BayesianOptimization` strategy."""
        return BayesianOptimization(
            n_trials=self.n_trials,
            n_startup=self.n_startup,
            batch_size=self.batch_size,
            exploit_cost_factor=self.exploit_cost_factor,
        )
