"""Random search: ``n_trials`` independent full trainings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from tunecost._rng import RngLike
from tunecost.strategies._base import (
    TrialPlan,
    _check_batch_size,
    _check_count,
    _check_n_reps,
    _Config,
    _generator,
)

__all__ = ["RandomSearch", "RandomSearchConfig"]


@dataclass(frozen=True, slots=True)
class RandomSearch:
    """Random search (Bergstra & Bengio 2012): every trial is one full-fidelity job.

    Which configurations are drawn does not change the cost model (durations come from the
    duration model), so the plan is the same as any ``n_trials`` independent trainings.

    Args:
        n_trials: number of configurations trained, int >= 1.
        batch_size: if set, trials run in synchronous waves of this many (wave ``j`` starts
            when wave ``j - 1`` has ended entirely); ``None`` runs them as workers free up.

    Example:
        >>> RandomSearch(n_trials=5, batch_size=2).plan(1, rng=0).stage
        array([0, 0, 1, 1, 2])
    """

    name: ClassVar[str] = "random"

    n_trials: int
    batch_size: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "n_trials", _check_count("n_trials", self.n_trials))
        object.__setattr__(self, "batch_size", _check_batch_size(self.batch_size))

    def plan(self, n_reps: int, *, rng: RngLike) -> TrialPlan:
        """One full-fidelity job per trial; ``rng`` is accepted and not used."""
        n_reps = _check_n_reps(n_reps)
        _generator(rng)  # checked, not used
        return TrialPlan.simple(n_reps, self.n_trials, batch_size=self.batch_size)


class RandomSearchConfig(_Config):
    """``{"kind": "random", "n_trials": 100, "batch_size": 8}`` (``batch_size`` optional).

    Example:
        >>> RandomSearchConfig(n_trials=20).build()
        RandomSearch(n_trials=20, batch_size=None)
    """

    kind: Literal["random"] = "random"
    size_field: ClassVar[str | None] = "n_trials"
    resizable_by_prefix: ClassVar[bool] = True
    n_trials: Annotated[int, Field(gt=0)]
    batch_size: Annotated[int, Field(gt=0)] | None = None

    def build(self) -> RandomSearch:
        """Build the :class:`RandomSearch` strategy."""
        return RandomSearch(n_trials=self.n_trials, batch_size=self.batch_size)
