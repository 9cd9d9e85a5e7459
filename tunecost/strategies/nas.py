"""Neural architecture search: many child trainings, then the final model trained in full."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

import numpy as np
from pydantic import Field

from tunecost._rng import RngLike
from tunecost.strategies._base import (
    TrialPlan,
    _check_count,
    _check_float,
    _check_n_reps,
    _Config,
    _generator,
    _per_rep,
)

__all__ = ["NeuralArchitectureSearch", "NeuralArchitectureSearchConfig"]


@dataclass(frozen=True, slots=True)
class NeuralArchitectureSearch:
    """``n_children`` child trainings (stage 0), then optionally one final full training.

    Children all start together and are never pruned: each trains to ``child_fidelity``, a
    fraction of one full training of the final model, scaled by ``child_cost_factor`` (for
    example a smaller proxy model whose steps are cheaper). The final training (stage 1)
    waits for every child (barrier on stage 0). Durations come from the duration model of a
    full training of the final model.

    This is an approximation: the children of a real evolutionary or RL search differ in size
    and some are stopped early; here they are summarised by one fidelity and one cost factor.

    The Evolved Transformer search (So et al. 2019) shows why both knobs exist (sources and
    derivations: :mod:`tunecost.papers.strubell2019`, :mod:`tunecost.papers.patterson2021`).
    In both views the search trains 979M steps in total,
    here split as 9,790 children of 100k steps (``child_fidelity=1/3`` of a 300k-step
    training; any split with the same product costs the same):

    * Strubell et al. (2019) priced every step at Transformer-big speed on 8 P100s (84 h per
      300k steps): ``child_cost_factor=1`` with an 84 h full training gives
      979M × 84 h / 300k = 274,120 h (of 8×P100 time).
    * Patterson et al. (2021, App. C/D) note the search used a small proxy task, Transformer
      base at 10 h per 300k steps on one TPU v2 core: ``child_cost_factor=10/84`` gives
      32,633 TPU v2 hours, i.e. 200 TPU v2 chips for 6.8 days.

    Args:
        n_children: number of child trainings, int >= 1.
        child_fidelity: work of each child as a fraction of one full training, in ``(0, 1]``.
        child_cost_factor: duration multiplier of each child, float > 0 (dimensionless).
        final_training: whether one final full-fidelity training follows the search.
        final_cost_factor: duration multiplier of the final training, float > 0.

    Example:
        >>> nas = NeuralArchitectureSearch(n_children=9790, child_fidelity=1 / 3,
        ...                                final_training=False)
        >>> p = nas.plan(1, rng=0)
        >>> round(float((p.fidelity[0] * p.cost_factor).sum()) * 84.0)  # hours, Strubell
        274120
    """

    name: ClassVar[str] = "nas"

    n_children: int
    child_fidelity: float
    child_cost_factor: float = 1.0
    final_training: bool = True
    final_cost_factor: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "n_children", _check_count("n_children", self.n_children))
        object.__setattr__(
            self,
            "child_fidelity",
            _check_float("child_fidelity", self.child_fidelity, low=0.0, high=1.0),
        )
        for name in ("child_cost_factor", "final_cost_factor"):
            object.__setattr__(
                self,
                name,
                _check_float(name, getattr(self, name), low=0.0, high=np.inf, high_open=True),
            )
        object.__setattr__(self, "final_training", bool(self.final_training))

    def plan(self, n_reps: int, *, rng: RngLike) -> TrialPlan:
        """Children first (trials ``0..n_children-1``), then the final training (if any) as
        the last trial; ``rng`` is accepted and not used."""
        n_reps = _check_n_reps(n_reps)
        _generator(rng)  # checked, not used
        n_c = self.n_children
        n = n_c + int(self.final_training)
        fidelity = np.full(n, self.child_fidelity)
        fidelity[n_c:] = 1.0
        cost = np.full(n, self.child_cost_factor)
        cost[n_c:] = self.final_cost_factor
        stage = np.zeros(n, dtype=np.int64)
        stage[n_c:] = 1
        labels = tuple(f"child {i}" for i in range(n_c)) + ("final",) * int(self.final_training)
        return TrialPlan(
            trial=np.arange(n, dtype=np.int64),
            fidelity=_per_rep(fidelity, n_reps),
            reached=_per_rep(fidelity, n_reps),
            # Children end where the search meant them to: finished, not pruned.
            stopped=np.zeros((n_reps, n), dtype=bool),
            stage=stage,
            barrier=stage - 1,
            parent=np.full(n, -1, dtype=np.int64),
            cost_factor=cost,
            config=labels,
        )


class NeuralArchitectureSearchConfig(_Config):
    """``{"kind": "nas", "n_children": 9790, "child_fidelity": 0.3333, "final_training": false}``.

    Example:
        >>> NeuralArchitectureSearchConfig(n_children=100, child_fidelity=0.1).build().name
        'nas'
    """

    kind: Literal["nas"] = "nas"
    size_field: ClassVar[str | None] = "n_children"
    n_children: Annotated[int, Field(gt=0)]
    child_fidelity: Annotated[float, Field(gt=0, le=1)]
    child_cost_factor: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 1.0
    final_training: bool = True
    final_cost_factor: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 1.0

    def build(self) -> NeuralArchitectureSearch:
        """Build the :class:`NeuralArchitectureSearch` strategy."""
        return NeuralArchitectureSearch(
            n_children=self.n_children,
            child_fidelity=self.child_fidelity,
            child_cost_factor=self.child_cost_factor,
            final_training=self.final_training,
            final_cost_factor=self.final_cost_factor,
        )
