"""Median pruning (Optuna's ``MedianPruner``): trials stopped early at intermediate evaluations."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

import numpy as np
from pydantic import Field

from tunecost._rng import RngLike
from tunecost.strategies._base import (
    TrialPlan,
    _check_batch_size,
    _check_count,
    _check_float,
    _check_int,
    _check_n_reps,
    _Config,
    _generator,
)

__all__ = ["MedianPruning", "MedianPruningConfig"]


@dataclass(frozen=True, slots=True)
class MedianPruning:
    """Trials report ``n_evaluations`` evenly spaced evaluations and may be pruned at each.

    Whether a trial is below the running median depends on results; the cost model replaces
    that with a constant hazard: at every evaluation ``k`` with
    ``n_warmup_evaluations < k < n_evaluations`` a surviving trial is stopped with probability
    ``stop_fraction``, independently per replicate and trial. The evaluation a trial stops at
    is therefore ``min(n_warmup_evaluations + G, n_evaluations)`` with
    ``G ~ Geometric(stop_fraction)`` on ``{1, 2, ...}``, and its fidelity is that evaluation
    divided by ``n_evaluations``. The first ``n_startup_trials`` trials are never pruned (a
    median needs earlier trials to compare with).

    Args:
        n_trials: number of trials, int >= 1.
        n_evaluations: evaluations per full training, int >= 1, evenly spaced (evaluation
            ``k`` is at fidelity ``k / n_evaluations``).
        stop_fraction: probability of stopping a surviving trial at each eligible
            evaluation, in ``[0, 1)``.
        n_warmup_evaluations: no pruning at or before this evaluation, int >= 0.
        n_startup_trials: the first trials (by index), which are never pruned, int >= 0.
        batch_size: if set, trials run in synchronous waves of this many; ``None`` runs them
            as workers free up.

    Example:
        >>> mp = MedianPruning(n_trials=8, n_evaluations=4, stop_fraction=0.5)
        >>> p = mp.plan(1000, rng=0)
        >>> bool((p.fidelity[:, :5] == 1.0).all())  # start-up trials
        True
        >>> sorted(set(p.fidelity[:, 5:].ravel().tolist()))
        [0.5, 0.75, 1.0]
    """

    name: ClassVar[str] = "median_pruning"

    n_trials: int
    n_evaluations: int
    stop_fraction: float
    n_warmup_evaluations: int = 1
    n_startup_trials: int = 5
    batch_size: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "n_trials", _check_count("n_trials", self.n_trials))
        object.__setattr__(
            self, "n_evaluations", _check_int("n_evaluations", self.n_evaluations, low=1)
        )
        object.__setattr__(
            self,
            "stop_fraction",
            _check_float(
                "stop_fraction",
                self.stop_fraction,
                low=0.0,
                high=1.0,
                low_open=False,
                high_open=True,
            ),
        )
        object.__setattr__(
            self,
            "n_warmup_evaluations",
            _check_int("n_warmup_evaluations", self.n_warmup_evaluations, low=0),
        )
        object.__setattr__(
            self, "n_startup_trials", _check_int("n_startup_trials", self.n_startup_trials, low=0)
        )
        object.__setattr__(self, "batch_size", _check_batch_size(self.batch_size))

    def plan(self, n_reps: int, *, rng: RngLike) -> TrialPlan:
        """One job per trial, of random fidelity ``stop evaluation / n_evaluations``."""
        n_reps = _check_n_reps(n_reps)
        rng = _generator(rng)
        n_eval = self.n_evaluations
        shape = (n_reps, self.n_trials)
        if self.stop_fraction > 0.0:
            # Drawn for every trial, start-up ones included, so the stream a replicate uses
            # does not depend on n_startup_trials.
            stop_at = np.minimum(
                self.n_warmup_evaluations + rng.geometric(self.stop_fraction, size=shape), n_eval
            )
        else:
            stop_at = np.full(shape, n_eval, dtype=np.int64)
        stop_at[:, : self.n_startup_trials] = n_eval
        fidelity = stop_at / n_eval
        base = TrialPlan.simple(n_reps, self.n_trials, batch_size=self.batch_size)
        return dataclasses.replace(
            base, fidelity=fidelity, reached=fidelity.copy(), stopped=stop_at < n_eval
        )


class MedianPruningConfig(_Config):
    """``{"kind": "median_pruning", "n_trials": 100, "n_evaluations": 10, "stop_fraction": 0.2}``.

    Example:
        >>> MedianPruningConfig(n_trials=10, n_evaluations=5, stop_fraction=0.3).build().name
        'median_pruning'
    """

    kind: Literal["median_pruning"] = "median_pruning"
    size_field: ClassVar[str | None] = "n_trials"
    resizable_by_prefix: ClassVar[bool] = True
    n_trials: Annotated[int, Field(gt=0)]
    n_evaluations: Annotated[int, Field(gt=0)]
    stop_fraction: Annotated[float, Field(ge=0, lt=1)]
    n_warmup_evaluations: Annotated[int, Field(ge=0)] = 1
    n_startup_trials: Annotated[int, Field(ge=0)] = 5
    batch_size: Annotated[int, Field(gt=0)] | None = None

    def build(self) -> MedianPruning:
        """Build the :class:`MedianPruning` strategy."""
        return MedianPruning(
            n_trials=self.n_trials,
            n_evaluations=self.n_evaluations,
            stop_fraction=self.stop_fraction,
            n_warmup_evaluations=self.n_warmup_evaluations,
            n_startup_trials=self.n_startup_trials,
            batch_size=self.batch_size,
        )
