"""Grid search: the full factorial of a search space, each point trained ``repeats`` times."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

from tunecost._rng import RngLike
from tunecost.strategies._base import (
    TrialPlan,
    _check_batch_size,
    _check_int,
    _check_jobs,
    _check_n_reps,
    _Config,
    _fail,
    _generator,
)

__all__ = ["GridSearch", "GridSearchConfig", "Scalar"]

Scalar = bool | int | float | str
"""One value of a hyperparameter in a grid."""


@dataclass(frozen=True, slots=True)
class GridSearch:
    """Grid search: one full-fidelity job per grid point and seed.

    Give either ``space`` (the grid is its full factorial, first name varying slowest) or
    ``n_configs`` (just the number of grid points), not both.

    Args:
        space: hyperparameter name -> its candidate values (at least one each, distinct as
            printed); a mapping, stored as a tuple of ``(name, values)`` pairs.
        n_configs: number of grid points, int >= 1, when the values do not matter.
        repeats: trainings per grid point with different seeds, int >= 1.
        batch_size: if set, trials run in synchronous waves of this many; ``None`` runs them
            as workers free up.

    Trials are ordered grid point by grid point, seeds innermost; each is labelled like
    ``"lr=0.1, layers=2, seed=0"`` (``"config 3, seed=0"`` with ``n_configs``).

    Example:
        >>> grid = GridSearch(space={"lr": [0.1, 0.01], "layers": [2, 4, 8]}, repeats=2)
        >>> p = grid.plan(1, rng=0)
        >>> p.n_trials, p.config[0]
        (12, 'lr=0.1, layers=2, seed=0')
    """

    name: ClassVar[str] = "grid"

    space: tuple[tuple[str, tuple[Scalar, ...]], ...] | None = None
    n_configs: int | None = None
    repeats: int = 1
    batch_size: int | None = None

    def __post_init__(self) -> None:
        if (self.space is None) == (self.n_configs is None):
            raise _fail(
                "exactly one of space and n_configs is given",
                space=self.space,
                n_configs=self.n_configs,
            )
        if self.space is not None:
            object.__setattr__(self, "space", _normalise_space(self.space))
        else:
            n = _check_int("n_configs", self.n_configs, low=1, high=math.inf)  # counted below
            object.__setattr__(self, "n_configs", n)
        object.__setattr__(self, "repeats", _check_int("repeats", self.repeats, low=1))
        object.__setattr__(self, "batch_size", _check_batch_size(self.batch_size))
        shape = (
            f"n_configs={self.n_configs}"
            if self.space is None
            else " × ".join(str(len(v)) for _, v in self.space) + " values"
        )
        _check_jobs(f"a grid of {shape} × repeats={self.repeats}", self.n_points * self.repeats)

    @property
    def n_points(self) -> int:
        """Number of grid points (the product of the value counts, or ``n_configs``)."""
        if self.space is None:
            return int(self.n_configs or 0)
        return math.prod(len(values) for _, values in self.space)

    def labels(self) -> tuple[str, ...]:
        """One label per trial, in trial order."""
        if self.space is None:
            points = [f"config {i}" for i in range(self.n_points)]
        else:
            names = [name for name, _ in self.space]
            points = [
                ", ".join(f"{n}={v}" for n, v in zip(names, combo, strict=True))
                for combo in itertools.product(*(values for _, values in self.space))
            ]
        return tuple(f"{p}, seed={s}" for p in points for s in range(self.repeats))

    def plan(self, n_reps: int, *, rng: RngLike) -> TrialPlan:
        """One full-fidelity job per grid point and seed; ``rng`` is accepted and not used."""
        n_reps = _check_n_reps(n_reps)
        _generator(rng)  # checked, not used
        labels = self.labels()
        return TrialPlan.simple(n_reps, len(labels), config=labels, batch_size=self.batch_size)


def _normalise_space(space: Any) -> tuple[tuple[str, tuple[Scalar, ...]], ...]:
    items = space.items() if isinstance(space, Mapping) else space
    out = []
    for name, values in items:
        if isinstance(values, str) or not isinstance(values, Sequence):
            raise _fail(f"space[{name!r}] is a list of values", values=values)
        values = tuple(values)
        if not values:
            raise _fail(f"len(space[{name!r}]) >= 1", values=list(values))
        # Distinct as printed: two values with one label would make two trials look alike.
        if len({str(v) for v in values}) != len(values):
            raise _fail(f"values of space[{name!r}] are distinct", values=list(values))
        out.append((str(name), values))
    if not out:
        raise _fail("len(space) >= 1", space=dict(out))
    return tuple(out)


class GridSearchConfig(_Config):
    """``{"kind": "grid", "space": {"lr": [0.1, 0.01], "layers": [2, 4]}, "repeats": 3}``.

    Or ``{"kind": "grid", "n_configs": 24}``; ``batch_size`` is optional.

    Example:
        >>> GridSearchConfig(space={"lr": [0.1, 0.01]}, repeats=3).build().n_points
        2
    """

    kind: Literal["grid"] = "grid"
    size_field: ClassVar[str | None] = "n_configs"  # None with `space`: see size_field()
    resizable_by_prefix: ClassVar[bool] = True
    space: (
        Annotated[dict[str, Annotated[list[Scalar], Field(min_length=1)]], Field(min_length=1)]
        | None
    ) = None
    n_configs: Annotated[int, Field(gt=0)] | None = None
    repeats: Annotated[int, Field(gt=0)] = 1
    batch_size: Annotated[int, Field(gt=0)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _exactly_one(cls, data: Any) -> Any:
        # Checked before field parsing so the message names both fields, whatever else fails.
        if isinstance(data, dict) and (data.get("space") is None) == (
            data.get("n_configs") is None
        ):
            raise ValueError(
                "exactly one of `space` and `n_configs` must be given, but got "
                f"space={data.get('space')!r}, n_configs={data.get('n_configs')!r}"
            )
        return data

    def build(self) -> GridSearch:
        """Build the :class:`GridSearch` strategy."""
        return GridSearch(
            space=None if self.space is None else _normalise_space(self.space),
            n_configs=self.n_configs,
            repeats=self.repeats,
            batch_size=self.batch_size,
        )
