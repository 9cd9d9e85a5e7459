"""One full-fidelity job: the final training alone, the denominator of a tuning multiplier."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from tunecost._rng import RngLike
from tunecost.strategies._base import (
    TrialPlan,
    _check_count,
    _check_n_reps,
    _Config,
    _generator,
)

__all__ = ["SingleRun", "SingleRunConfig"]


@dataclass(frozen=True, slots=True)
class SingleRun:
    """``n_runs`` independent full-fidelity trainings that start together (no search).

    The cost of a search divided by the cost of this plan is the *tuning multiplier*.

    Args:
        n_runs: number of full trainings, int >= 1 (e.g. seeds of the final model).

    Example:
        >>> SingleRun().plan(2, rng=0).fidelity
        array([[1.],
               [1.]])
    """

    name: ClassVar[str] = "single_run"

    n_runs: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "n_runs", _check_count("n_runs", self.n_runs))

    def plan(self, n_reps: int, *, rng: RngLike) -> TrialPlan:
        """One job per run, all in stage 0; ``rng`` is accepted and not used."""
        n_reps = _check_n_reps(n_reps)
        _generator(rng)  # checked, not used
        labels = tuple(f"run {i}" for i in range(self.n_runs))
        return TrialPlan.simple(n_reps, self.n_runs, config=labels)


class SingleRunConfig(_Config):
    """``{"kind": "single_run", "n_runs": 1}``.

    Example:
        >>> SingleRunConfig().build()
        SingleRun(n_runs=1)
    """

    kind: Literal["single_run"] = "single_run"
    size_field: ClassVar[str | None] = "n_runs"
    n_runs: Annotated[int, Field(gt=0)] = 1

    def build(self) -> SingleRun:
        """Build the :class:`SingleRun` strategy."""
        return SingleRun(n_runs=self.n_runs)
