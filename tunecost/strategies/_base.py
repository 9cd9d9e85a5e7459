"""The strategy protocol and the plan a strategy returns."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, model_validator

from tunecost._rng import RngLike, as_generator
from tunecost.exceptions import ConfigError

__all__ = ["MAX_JOBS_PER_STUDY", "Strategy", "TrialPlan"]

MAX_JOBS_PER_STUDY = 1_000_000
"""Most jobs (trials, or rungs of trials) one study may plan. A plan is arrays over every job
of every replicate; above this the first replicate alone needs hundreds of MB, and no real
search runs a million trainings. Counted before anything is built (a grid's points are a
product of value counts), so a grid of 10**12 points is refused at once, not enumerated."""


@dataclass(frozen=True, slots=True)
class TrialPlan:
    """The jobs one study runs, in queue order, for ``n_reps`` replicates at once.

    A *trial* is one configuration; a *job* is one contiguous piece of training of a trial.
    Most strategies run one job per trial; successive halving runs one job per rung a trial
    reaches (a promoted trial resumes from its checkpoint, so its job does only the increment).

    Attributes:
        trial: trial index of each job, shape ``(n_jobs,)``, int64, values ``0..n_trials-1``.
        fidelity: work each job does, as a fraction of one full training, shape
            ``(n_reps, n_jobs)``, float64 in ``(0, 1]``. A job's duration is this times a
            full-fidelity duration draw.
        reached: fidelity the trial has reached when the job ends, shape ``(n_reps, n_jobs)``.
        stopped: whether the trial ends with this job below full fidelity (pruned or not
            promoted), shape ``(n_reps, n_jobs)``, bool.
        stage: synchronisation group of each job, shape ``(n_jobs,)``, int64 >= 0.
        barrier: stage that must have ended entirely before the job may start, shape
            ``(n_jobs,)``, int64, ``-1`` for none. Always an earlier stage than the job's own.
        parent: job that must have ended before this one starts (its checkpoint is resumed),
            shape ``(n_jobs,)``, int64, ``-1`` for none. Always an earlier job.
        cost_factor: duration multiplier beyond fidelity (e.g. a final model larger than the
            searched ones), shape ``(n_jobs,)``, float64 > 0.
        config: a short label per job for the ledger, length ``n_jobs``.
    """

    trial: np.ndarray
    fidelity: np.ndarray
    reached: np.ndarray
    stopped: np.ndarray
    stage: np.ndarray
    barrier: np.ndarray
    parent: np.ndarray
    cost_factor: np.ndarray
    config: tuple[str, ...]

    @property
    def n_jobs(self) -> int:
        """Number of jobs."""
        return int(self.trial.shape[0])

    @property
    def n_trials(self) -> int:
        """Number of distinct trials (configurations)."""
        return int(self.trial.max()) + 1 if self.trial.size else 0

    @classmethod
    def simple(
        cls,
        n_reps: int,
        n_trials: int,
        *,
        config: tuple[str, ...] | None = None,
        batch_size: int | None = None,
        cost_factor: np.ndarray | None = None,
    ) -> TrialPlan:
        """One full-fidelity job per trial; with ``batch_size``, trials run in synchronous
        batches of that size (stage ``j // batch_size``, each waiting for the previous)."""
        idx = np.arange(n_trials, dtype=np.int64)
        if batch_size is None:
            stage = np.zeros(n_trials, dtype=np.int64)
            barrier = np.full(n_trials, -1, dtype=np.int64)
        else:
            stage = idx // batch_size
            barrier = stage - 1
        ones = np.ones((n_reps, n_trials))
        return cls(
            trial=idx,
            fidelity=ones,
            reached=ones.copy(),
            stopped=np.zeros((n_reps, n_trials), dtype=bool),
            stage=stage,
            barrier=barrier,
            parent=np.full(n_trials, -1, dtype=np.int64),
            cost_factor=np.ones(n_trials) if cost_factor is None else cost_factor,
            config=config if config is not None else tuple(f"trial {i}" for i in range(n_trials)),
        )

    def validate(self, n_reps: int) -> TrialPlan:
        """Check every invariant above; raise :class:`ConfigError` naming the broken one."""
        n = self.n_jobs
        shapes = {"fidelity": self.fidelity, "reached": self.reached, "stopped": self.stopped}
        for name, arr in shapes.items():
            if arr.shape != (n_reps, n):
                raise ConfigError(f"`{name}.shape == {(n_reps, n)}` must hold, got {arr.shape}")
        for name, arr in {
            "stage": self.stage,
            "barrier": self.barrier,
            "parent": self.parent,
            "cost_factor": self.cost_factor,
        }.items():
            if arr.shape != (n,):
                raise ConfigError(f"`{name}.shape == {(n,)}` must hold, got {arr.shape}")
        if len(self.config) != n:
            raise ConfigError(f"`len(config) == {n}` must hold, got {len(self.config)}")
        if n and not ((self.fidelity > 0) & (self.fidelity <= 1 + 1e-12)).all():
            raise ConfigError("`0 < fidelity <= 1` must hold for every job")
        if n and not (self.cost_factor > 0).all():
            raise ConfigError("`cost_factor > 0` must hold for every job")
        jobs = np.arange(n)
        if ((self.parent >= jobs) | (self.parent < -1)).any():
            raise ConfigError("`parent` must name an earlier job or -1")
        if ((self.barrier >= self.stage) | (self.barrier < -1)).any():
            raise ConfigError("`barrier` must name an earlier stage or -1")
        return self


class Strategy(Protocol):
    """A search strategy: decides which jobs a study runs (not how long they take).

    One required method, :meth:`plan`. Strategies are frozen and built from their pydantic
    config (``StrategyConfig.build()``); the registry
    :data:`tunecost.strategies.STRATEGY_CONFIGS` maps each config ``kind`` to its config class.
    The simulator always passes a ``numpy.random.Generator``; the shipped strategies also
    accept any seed ``tunecost._rng.as_generator`` takes (an int, a ``SeedSequence``, ``None``).
    """

    name: ClassVar[str]

    def plan(self, n_reps: int, *, rng: np.random.Generator) -> TrialPlan:
        """The jobs of one study for ``n_reps`` independent replicates.

        Args:
            n_reps: number of replicates; random choices (e.g. where a pruner stops a trial)
                differ per replicate and come from ``rng``.
            rng: the only source of randomness.
        """
        ...


# --------------------------------------------------------------------------------------------
# Small helpers shared by the strategy modules (private to the package).
# --------------------------------------------------------------------------------------------


def _fail(rule: str, **values: object) -> ConfigError:
    """The error for a broken rule: "`rule` must hold, but got name=value, ..."."""
    got = ", ".join(f"{k}={v!r}" for k, v in values.items())
    return ConfigError(f"`{rule}` must hold, but got {got}")


MAX_INT = 10**9
"""Largest value of any integer setting of a strategy (counts, eta, batch sizes...): far above
any real one, and inside int64 arithmetic (a batch_size of 1e20 overflowed numpy)."""


def _check_int(name: str, value: object, *, low: int, high: float = MAX_INT) -> int:
    """``value`` as an int in ``[low, high]``; bools and non-integral numbers are rejected."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise _fail(f"{name} is an integer", **{name: value})
    if value < low:
        raise _fail(f"{name} >= {low}", **{name: value})
    if value > high:
        raise _fail(f"{name} <= {high:,}", **{name: value})
    return int(value)


def _check_count(name: str, value: object, *, jobs_each: int = 1) -> int:
    """``value`` as an int in ``[1, MAX_JOBS_PER_STUDY / jobs_each]``: a count of trials."""
    out = _check_int(name, value, low=1, high=math.inf)
    _check_jobs(f"{name}={out:,}", out * jobs_each)
    return out


def _check_jobs(what: str, n_jobs: int) -> None:
    """Refuse a plan of more than :data:`MAX_JOBS_PER_STUDY` jobs, saying what was counted."""
    if n_jobs > MAX_JOBS_PER_STUDY:
        raise ConfigError(
            f"`jobs per study <= {MAX_JOBS_PER_STUDY:,}` must hold, but {what} plans "
            f"{n_jobs:,} jobs (counted, not built)"
        )


def _check_float(
    name: str,
    value: object,
    *,
    low: float,
    high: float,
    low_open: bool = True,
    high_open: bool = False,
) -> float:
    """``value`` as a float in the interval given (open or closed at each end)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise _fail(f"{name} is a real number", **{name: value})
    out = float(value)
    lo_ok = out > low if low_open else out >= low
    hi_ok = out < high if high_open else out <= high
    if not (lo_ok and hi_ok):
        rule = f"{low} {'<' if low_open else '<='} {name} {'<' if high_open else '<='} {high}"
        raise _fail(rule, **{name: value})
    return out


def _check_batch_size(value: object) -> int | None:
    return None if value is None else _check_int("batch_size", value, low=1)


def _check_n_reps(n_reps: object) -> int:
    return _check_int("n_reps", n_reps, low=1)


def _generator(rng: RngLike) -> np.random.Generator:
    """``rng`` as a Generator (a Generator passes straight through); every ``plan`` calls it,
    so a bad ``rng`` fails the same way whether or not the strategy draws from it."""
    return rng if isinstance(rng, np.random.Generator) else as_generator(rng)


def _per_rep(row: np.ndarray, n_reps: int) -> np.ndarray:
    """Repeat a per-job row for every replicate: ``(n_jobs,)`` -> ``(n_reps, n_jobs)``."""
    # A real copy, not a zero-stride broadcast view, so a consumer may write into it.
    return np.repeat(row[np.newaxis, :], n_reps, axis=0)


class _Config(BaseModel):
    """Base of every strategy config: strict about unknown keys, immutable, and buildable.

    Subclasses declare ``kind`` and their fields, implement ``build()``, and state the facts
    consumers need about their kind as class variables (read them through the helpers in
    :mod:`tunecost.strategies`, e.g. :func:`~tunecost.strategies.replay_only`, rather than
    comparing ``kind`` with names):

    Attributes:
        replay_only: only the event-driven replay engine can run the kind (its jobs depend
            on results, so it has no plan drawn ahead); the vectorised engine refuses it.
        size_field: the integer field that sets how many trials the study runs (``n_trials``,
            ``n_configs``, ...), or ``None`` when no single field does.
        resizable_by_prefix: the study's trials are exchangeable search trials: with
            ``size_field`` set to ``k``, its plan is the first ``k`` trials of a larger one,
            so the study's size can be varied through that field alone.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    replay_only: ClassVar[bool] = False
    size_field: ClassVar[str | None] = None
    resizable_by_prefix: ClassVar[bool] = False

    def build(self) -> Strategy:
        """Build the frozen strategy this config describes."""
        raise NotImplementedError

    @model_validator(mode="after")
    def _buildable(self) -> Any:
        # The strategy's constructor owns the cross-field rules (e.g. min_fidelity <=
        # max_fidelity); building here reports them as a ValidationError at load time, so a
        # config that validates always builds.
        self.build()
        return self
