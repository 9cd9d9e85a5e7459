"""Successive halving: synchronous (SHA, Jamieson & Talwalkar 2016) and asynchronous (ASHA).

Rung ``k`` trains ``n_k = floor(n_trials / eta**k)`` trials to fidelity
``r_k = min_fidelity * eta**k``, for ``k = 0..K`` with ``K`` the largest integer such that
``r_K <= max_fidelity``. The trials promoted to rung ``k`` are the first ``n_k`` of rung
``k - 1``: which ones are promoted depends on results, but the cost does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

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
    _fail,
    _generator,
    _per_rep,
)

__all__ = ["ASHA", "ASHAConfig", "SuccessiveHalving", "SuccessiveHalvingConfig"]

# Relative slack when comparing min_fidelity * eta**k with max_fidelity: 1/81 * 81 may land
# one ulp above 1.0, and that rung must still count.
_RTOL = 1e-9


def _top_rung(min_fidelity: float, max_fidelity: float, eta: int) -> int:
    """``floor(log_eta(max_fidelity / min_fidelity))``, exact at powers of ``eta``."""
    # Repeated multiplication, not math.log: log(81) / log(3) == 3.9999999999999996.
    k = 0
    while min_fidelity * eta ** (k + 1) <= max_fidelity * (1 + _RTOL):
        k += 1
    return k


@dataclass(frozen=True, slots=True)
class _Jobs:
    """The per-job rows of one or more brackets (each the same for every replicate)."""

    trial: np.ndarray
    fidelity: np.ndarray
    reached: np.ndarray
    stopped: np.ndarray
    stage: np.ndarray
    barrier: np.ndarray
    parent: np.ndarray
    config: tuple[str, ...]

    @staticmethod
    def concat(parts: Sequence[_Jobs]) -> _Jobs:
        # Parents are offset by the jobs before each part, so they stay valid job indices.
        offsets = np.cumsum([0] + [p.trial.size for p in parts[:-1]])
        return _Jobs(
            trial=np.concatenate([p.trial for p in parts]),
            fidelity=np.concatenate([p.fidelity for p in parts]),
            reached=np.concatenate([p.reached for p in parts]),
            stopped=np.concatenate([p.stopped for p in parts]),
            stage=np.concatenate([p.stage for p in parts]),
            barrier=np.concatenate([p.barrier for p in parts]),
            parent=np.concatenate(
                [
                    np.where(p.parent >= 0, p.parent + o, -1)
                    for p, o in zip(parts, offsets, strict=True)
                ]
            ),
            config=tuple(c for p in parts for c in p.config),
        )

    def to_plan(self, n_reps: int) -> TrialPlan:
        return TrialPlan(
            trial=self.trial,
            fidelity=_per_rep(self.fidelity, n_reps),
            reached=_per_rep(self.reached, n_reps),
            stopped=_per_rep(self.stopped, n_reps),
            stage=self.stage,
            barrier=self.barrier,
            parent=self.parent,
            cost_factor=np.ones(self.trial.size),
            config=self.config,
        )


def _halving_jobs(
    counts: Sequence[int],
    fidelities: Sequence[float],
    *,
    resume: bool,
    sync: bool,
    first_trial: int = 0,
    first_stage: int = 0,
    label: str = "",
) -> _Jobs:
    """The jobs of one successive-halving bracket, rung by rung.

    Args:
        counts: trials per rung, non-increasing; rungs from the first 0 on are dropped.
        fidelities: fidelity each rung trains to (fraction of a full training), increasing.
        resume: a promoted trial continues from its checkpoint (job = the increment) rather
            than retraining from scratch (job = the whole rung fidelity).
        sync: rung ``k`` waits for all of rung ``k - 1`` (barrier) rather than only for its
            own parent job.
        first_trial: trial index of the bracket's first configuration.
        first_stage: stage id of the bracket's rung 0; rung ``k`` is ``first_stage + k``.
        label: prefix of every job label.

    A job is ``stopped`` when it is its trial's last job and the trial was not promoted to
    the bracket's highest non-empty rung: the trials that reach it are the search's result,
    not pruned, even when that rung is below ``max_fidelity``.
    """
    n = [int(c) for c in counts]
    if 0 in n:
        n = n[: n.index(0)]
    top = len(n) - 1
    offsets = np.cumsum([0] + n)
    rows: dict[str, list[np.ndarray]] = {
        k: [] for k in ("trial", "fidelity", "reached", "stopped", "stage", "barrier", "parent")
    }
    labels: list[str] = []
    for k, n_k in enumerate(n):
        t = np.arange(n_k, dtype=np.int64)
        r_k = float(fidelities[k])
        r_prev = float(fidelities[k - 1]) if k else 0.0
        rows["trial"].append(first_trial + t)
        rows["fidelity"].append(np.full(n_k, r_k - r_prev if resume else r_k))
        rows["reached"].append(np.full(n_k, r_k))
        n_next = n[k + 1] if k < top else 0
        rows["stopped"].append((t >= n_next) & (k < top))
        rows["stage"].append(np.full(n_k, first_stage + k, dtype=np.int64))
        rows["barrier"].append(
            np.full(n_k, first_stage + k - 1 if sync and k else -1, dtype=np.int64)
        )
        # Also without resume: the promotion needs the parent's result before the job starts.
        rows["parent"].append(offsets[k - 1] + t if k else np.full(n_k, -1, dtype=np.int64))
        labels.extend(f"{label}trial {first_trial + i}, rung {k}" for i in range(n_k))
    cat = {k: np.concatenate(v) for k, v in rows.items()}
    return _Jobs(
        trial=cat["trial"].astype(np.int64),
        fidelity=cat["fidelity"].astype(np.float64),
        reached=cat["reached"].astype(np.float64),
        stopped=cat["stopped"].astype(bool),
        stage=cat["stage"],
        barrier=cat["barrier"],
        parent=cat["parent"].astype(np.int64),
        config=tuple(labels),
    )


def _check_fidelities(min_fidelity: object, max_fidelity: object) -> tuple[float, float]:
    lo = _check_float("min_fidelity", min_fidelity, low=0.0, high=1.0)
    hi = _check_float("max_fidelity", max_fidelity, low=0.0, high=1.0)
    if lo > hi:
        raise _fail("min_fidelity <= max_fidelity", min_fidelity=lo, max_fidelity=hi)
    return lo, hi


@dataclass(frozen=True, slots=True)
class _Halving:
    n_trials: int
    min_fidelity: float
    eta: int = 3
    max_fidelity: float = 1.0
    resume: bool = True

    _sync: ClassVar[bool]

    def __post_init__(self) -> None:
        object.__setattr__(self, "n_trials", _check_count("n_trials", self.n_trials))
        object.__setattr__(self, "eta", _check_int("eta", self.eta, low=2))
        lo, hi = _check_fidelities(self.min_fidelity, self.max_fidelity)
        object.__setattr__(self, "min_fidelity", lo)
        object.__setattr__(self, "max_fidelity", hi)
        object.__setattr__(self, "resume", bool(self.resume))

    @property
    def top_rung(self) -> int:
        """``K``, the index of the highest rung the schedule allows."""
        return _top_rung(self.min_fidelity, self.max_fidelity, self.eta)

    def rungs(self) -> tuple[tuple[int, float], ...]:
        """``(n_k, r_k)`` for every rung ``k = 0..K``: trials and fidelity reached.

        ``n_k`` may be 0 for the highest rungs when ``n_trials < eta**K``; those rungs
        run no jobs.
        """
        return tuple(
            (self.n_trials // self.eta**k, min(self.min_fidelity * self.eta**k, self.max_fidelity))
            for k in range(self.top_rung + 1)
        )

    def plan(self, n_reps: int, *, rng: RngLike) -> TrialPlan:
        """One job per rung each trial reaches; ``rng`` is accepted and not used."""
        n_reps = _check_n_reps(n_reps)
        _generator(rng)  # checked, not used
        counts, fids = zip(*self.rungs(), strict=True)
        jobs = _halving_jobs(counts, fids, resume=self.resume, sync=self._sync)
        return jobs.to_plan(n_reps)


@dataclass(frozen=True, slots=True)
class SuccessiveHalving(_Halving):
    """Synchronous successive halving: each rung is a stage that waits for the whole rung below.

    Args:
        n_trials: configurations started at rung 0, int >= 1.
        min_fidelity: fidelity of rung 0, as a fraction of one full training, in ``(0, 1]``.
        eta: reduction factor, int >= 2: a rung keeps ``1/eta`` of the trials and trains
            them ``eta`` times longer.
        max_fidelity: highest fidelity a rung may reach, in ``[min_fidelity, 1]``. If
            ``max_fidelity / min_fidelity`` is not a power of ``eta``, the top rung stops
            below it.
        resume: a promoted trial resumes from its checkpoint, so its job trains only
            ``r_k - r_(k-1)``; if False it retrains from scratch (job fidelity ``r_k``).

    Each job's ``parent`` is the same trial's job on the rung below; ``barrier`` is that
    rung's stage. ``stopped`` marks the last job of each trial that was not promoted to the
    highest non-empty rung.

    Example:
        >>> sha = SuccessiveHalving(n_trials=9, min_fidelity=1 / 9, eta=3)
        >>> [n for n, _ in sha.rungs()]
        [9, 3, 1]
        >>> sha.plan(1, rng=0).n_jobs
        13
    """

    name: ClassVar[str] = "successive_halving"
    _sync: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class ASHA(_Halving):
    """Asynchronous successive halving (Li et al. 2020): no barriers between rungs.

    Same rungs, counts and arguments as :class:`SuccessiveHalving`, but a promoted job waits
    only for its own parent job (the same trial's previous rung), never for the rest of the
    rung. The promotion counts are those of the synchronous schedule; when a real ASHA
    promotes depends on results, which the event-driven replay models.

    Example:
        >>> p = ASHA(n_trials=9, min_fidelity=1 / 9).plan(1, rng=0)
        >>> bool((p.barrier == -1).all())
        True
    """

    name: ClassVar[str] = "asha"
    _sync: ClassVar[bool] = False


_UnitFidelity = Annotated[float, Field(gt=0, le=1)]


class _HalvingConfig(_Config):
    size_field: ClassVar[str | None] = "n_trials"  # rung counts follow it: not a prefix

    n_trials: Annotated[int, Field(gt=0)]
    min_fidelity: _UnitFidelity
    eta: Annotated[int, Field(ge=2)] = 3
    max_fidelity: _UnitFidelity = 1.0
    resume: bool = True

    def _args(self) -> dict[str, Any]:
        return {
            "n_trials": self.n_trials,
            "min_fidelity": self.min_fidelity,
            "eta": self.eta,
            "max_fidelity": self.max_fidelity,
            "resume": self.resume,
        }


class SuccessiveHalvingConfig(_HalvingConfig):
    """``{"kind": "successive_halving", "n_trials": 81, "min_fidelity": 0.012, "eta": 3}``.

    Example:
        >>> SuccessiveHalvingConfig(n_trials=27, min_fidelity=1 / 27).build().top_rung
        3
    """

    kind: Literal["successive_halving"] = "successive_halving"

    def build(self) -> SuccessiveHalving:
        """Build the :class:`SuccessiveHalving` strategy."""
        return SuccessiveHalving(**self._args())


class ASHAConfig(_HalvingConfig):
    """``{"kind": "asha", "n_trials": 81, "min_fidelity": 0.012, "eta": 3}``.

    Example:
        >>> ASHAConfig(n_trials=27, min_fidelity=1 / 27).build().name
        'asha'
    """

    kind: Literal["asha"] = "asha"

    def build(self) -> ASHA:
        """Build the :class:`ASHA` strategy."""
        return ASHA(**self._args())
