"""Hyperband (Li et al. 2018): successive halving run in brackets that trade breadth for depth."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from tunecost._rng import RngLike
from tunecost.strategies._base import (
    TrialPlan,
    _check_int,
    _check_jobs,
    _check_n_reps,
    _Config,
    _fail,
    _generator,
)
from tunecost.strategies.successive_halving import (
    _check_fidelities,
    _halving_jobs,
    _Jobs,
    _top_rung,
)

__all__ = ["Hyperband", "HyperbandConfig"]


@dataclass(frozen=True, slots=True)
class Hyperband:
    """Hyperband: ``s_max + 1`` successive-halving brackets, repeated ``n_iterations`` times.

    With ``R = max_fidelity`` and ``s_max = floor(log_eta(R / min_fidelity))``, bracket
    ``s = s_max..0`` starts ``n = ceil((s_max + 1) / (s + 1) * eta**s)`` configurations at
    fidelity ``r = R * eta**-s``; its rung ``i = 0..s`` trains ``floor(n * eta**-i)`` of them
    to fidelity ``r * eta**i`` (Li et al. 2018, Algorithm 1). The top rung of every bracket
    is ``R``. ``min_fidelity`` is, as for successive halving, a fraction of one full training
    (not of ``R``); bracket ``s_max`` starts at ``R * eta**-s_max >= min_fidelity``.

    Brackets are independent: every bracket's rung 0 may start at once, and iterations do not
    wait for each other. Within a bracket, rung ``i + 1`` waits for the whole of rung ``i``
    when ``sync`` (a barrier), or only for the same trial's previous job when not. Trial ids
    and stage ids are unique across brackets and iterations.

    Args:
        min_fidelity: smallest fidelity a bracket may start at, fraction of a full training,
            in ``(0, max_fidelity]``.
        eta: reduction factor, int >= 2.
        max_fidelity: ``R``, the fidelity every bracket's top rung reaches, in ``(0, 1]``.
        n_iterations: how many times the whole set of brackets runs, int >= 1.
        resume: a promoted trial continues from its checkpoint (job = the increment); if
            False it retrains from scratch.
        sync: rung barriers within each bracket (synchronous SHA) or none (asynchronous).

    Example:
        >>> hb = Hyperband(min_fidelity=1 / 81, eta=3)
        >>> [counts[0] for counts, _ in hb.brackets()]
        [81, 34, 15, 8, 5]
        >>> hb.brackets()[0][0]
        (81, 27, 9, 3, 1)
    """

    name: ClassVar[str] = "hyperband"

    min_fidelity: float
    eta: int = 3
    max_fidelity: float = 1.0
    n_iterations: int = 1
    resume: bool = True
    sync: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "eta", _check_int("eta", self.eta, low=2))
        lo, hi = _check_fidelities(self.min_fidelity, self.max_fidelity)
        object.__setattr__(self, "min_fidelity", lo)
        object.__setattr__(self, "max_fidelity", hi)
        object.__setattr__(
            self, "n_iterations", _check_int("n_iterations", self.n_iterations, low=1)
        )
        object.__setattr__(self, "resume", bool(self.resume))
        object.__setattr__(self, "sync", bool(self.sync))
        if self.s_max > 60:  # eta**s_max trials in the first bracket: beyond any count below
            raise _fail("max_fidelity / min_fidelity < eta**61", min_fidelity=lo,
                        max_fidelity=hi, eta=self.eta)
        per_iteration = sum(sum(counts) for counts, _ in self.brackets())
        _check_jobs(
            f"hyperband (min_fidelity={lo:g}, eta={self.eta}, n_iterations={self.n_iterations})",
            per_iteration * self.n_iterations,
        )

    @property
    def s_max(self) -> int:
        """Index of the most exploratory bracket, ``floor(log_eta(R / min_fidelity))``."""
        return _top_rung(self.min_fidelity, self.max_fidelity, self.eta)

    def brackets(self) -> tuple[tuple[tuple[int, ...], tuple[float, ...]], ...]:
        """``(trials per rung, fidelity per rung)`` of each bracket, ``s = s_max`` first."""
        s_max, eta, big_r = self.s_max, self.eta, self.max_fidelity
        out = []
        for s in range(s_max, -1, -1):
            # Integer ceil of (s_max + 1) * eta**s / (s + 1): no float rounding at all.
            n = -(-(s_max + 1) * eta**s // (s + 1))
            counts = tuple(n // eta**i for i in range(s + 1))
            fids = tuple(big_r / eta ** (s - i) for i in range(s + 1))
            out.append((counts, fids))
        return tuple(out)

    def plan(self, n_reps: int, *, rng: RngLike) -> TrialPlan:
        """All brackets' jobs, iteration by iteration and bracket by bracket (``s_max``
        first), rung by rung within a bracket; ``rng`` is accepted and not used."""
        n_reps = _check_n_reps(n_reps)
        _generator(rng)  # checked, not used
        parts: list[_Jobs] = []
        n_trials = n_stages = 0
        for it in range(self.n_iterations):
            for s_index, (counts, fids) in enumerate(self.brackets()):
                s = self.s_max - s_index
                prefix = f"iteration {it}, " if self.n_iterations > 1 else ""
                parts.append(
                    _halving_jobs(
                        counts,
                        fids,
                        resume=self.resume,
                        sync=self.sync,
                        first_trial=n_trials,
                        first_stage=n_stages,
                        label=f"{prefix}bracket {s}, ",
                    )
                )
                n_trials += counts[0]
                n_stages += len(counts)
        return _Jobs.concat(parts).to_plan(n_reps)


class HyperbandConfig(_Config):
    """``{"kind": "hyperband", "min_fidelity": 0.0123, "eta": 3, "n_iterations": 2}``.

    Example:
        >>> HyperbandConfig(min_fidelity=1 / 27).build().s_max
        3
    """

    kind: Literal["hyperband"] = "hyperband"
    # size_field stays None: min_fidelity and eta set the brackets, n_iterations repeats them.
    min_fidelity: Annotated[float, Field(gt=0, le=1)]
    eta: Annotated[int, Field(ge=2)] = 3
    max_fidelity: Annotated[float, Field(gt=0, le=1)] = 1.0
    n_iterations: Annotated[int, Field(gt=0)] = 1
    resume: bool = True
    sync: bool = True

    def build(self) -> Hyperband:
        """Build the :class:`Hyperband` strategy."""
        return Hyperband(
            min_fidelity=self.min_fidelity,
            eta=self.eta,
            max_fidelity=self.max_fidelity,
            n_iterations=self.n_iterations,
            resume=self.resume,
            sync=self.sync,
        )
