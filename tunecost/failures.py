"""Crashes and spot preemption: what failures add to a trial's time.

* A **crash** ends a job early: with probability ``crash_probability`` a job runs for a
  (short) crash duration instead of its planned one, and the rest of its trial never runs.
  Its cost is real and is counted.
* **Preemption** of spot/pre-emptible capacity is a Poisson process with rate
  ``hazard_per_h`` over the job's planned running time ``D``. Given ``n`` preemptions, their
  positions in the job's work are uniform on ``[0, D)``; one at position ``t`` loses the work
  since the last checkpoint, ``t mod checkpoint_interval_h`` (so never more than the work
  done: a job shorter than the interval loses at most what it ran, not up to the interval),
  and adds ``restart_overhead_h``. The job still completes.

  In expectation (``c`` the interval, ``k = floor(D / c)``, ``r = D - k c``) a job gains
  ``hazard × ((k c² + r²) / 2 + D × restart_overhead_h)`` hours: with ``D <= c``,
  ``hazard × D² / 2`` of lost work (:func:`expected_preemption_overhead_h`).
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tunecost.durations import DurationConfig
from tunecost.exceptions import ConfigError

__all__ = [
    "MAX_PREEMPTIONS_PER_JOB",
    "FailureConfig",
    "PreemptionConfig",
    "expected_preemption_overhead_h",
    "preemption_overhead_h",
    "preemption_overhead_sparse",
]

MAX_PREEMPTIONS_PER_JOB = 10_000
"""Refused above this many expected preemptions of one job (``hazard_per_h`` × its hours):
such a job never finishes on real spot capacity, and drawing each loss would not fit memory."""


class FailureConfig(BaseModel):
    """Crash model of a study."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    crash_probability: float = Field(default=0.0, ge=0, lt=1)
    crash_duration: DurationConfig | None = Field(
        default=None, description="How long a crashed job runs (hours, any duration model)."
    )

    @model_validator(mode="after")
    def _duration_when_crashing(self) -> FailureConfig:
        if self.crash_probability > 0 and self.crash_duration is None:
            raise ValueError(
                "crash_duration is required when crash_probability > 0, "
                f"got crash_probability={self.crash_probability}"
            )
        return self


class PreemptionConfig(BaseModel):
    """Spot/pre-emptible interruption model of a study."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    hazard_per_h: float = Field(ge=0, description="Preemptions per running hour.")
    checkpoint_interval_h: float = Field(gt=0, le=1e6, description="Hours between checkpoints.")
    restart_overhead_h: float = Field(
        default=0.0, ge=0, le=10_000, description="Hours to restart (<= 10,000)."
    )


def preemption_overhead_h(
    duration_h: np.ndarray, config: PreemptionConfig, *, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Extra hours preemption adds to jobs of ``duration_h`` hours, and preemption counts.

    The one place preemption is drawn (the replay engine refuses preemption, so the
    vectorised engine is its only user).

    Args:
        duration_h: planned running time of each job, hours, any shape.
        config: the preemption model.
        rng: random source.

    Returns:
        ``(extra_h, n_preemptions)``, each of ``duration_h``'s shape.

    Raises:
        ConfigError: a job expects more than :data:`MAX_PREEMPTIONS_PER_JOB` preemptions.
    """
    duration_h = np.asarray(duration_h, dtype=np.float64)
    where, extra, n = preemption_overhead_sparse(duration_h, config, rng=rng)
    out = np.zeros(duration_h.size)
    out[where] = extra
    return out.reshape(duration_h.shape), n


def preemption_overhead_sparse(
    duration_h: np.ndarray, config: PreemptionConfig, *, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`preemption_overhead_h` for the jobs preempted only (the same draws, the same
    bits): ``(where, extra_h, n_preemptions)``, ``where`` the row-major flat indices of the
    jobs preempted at least once, ``extra_h`` their extra hours (every other job's is 0),
    ``n_preemptions`` of ``duration_h``'s shape."""
    duration_h = np.asarray(duration_h, dtype=np.float64)
    expected = config.hazard_per_h * duration_h
    worst = float(expected.max()) if expected.size else 0.0
    if worst > MAX_PREEMPTIONS_PER_JOB:
        raise ConfigError(
            f"`preemption.hazard_per_h × job hours <= {MAX_PREEMPTIONS_PER_JOB:,}` (expected "
            f"preemptions of one job) must hold, but got hazard_per_h={config.hazard_per_h:g} "
            f"× {float(duration_h.max()):g} h = {worst:,.0f}"
        )
    flat_n, where = _poisson(rng, expected.reshape(-1), worst)
    n = flat_n.reshape(expected.shape)
    counts = flat_n[where]
    flat_d = duration_h.reshape(-1)[where]
    lost = np.zeros(where.size)
    c = config.checkpoint_interval_h
    # One uniform position per preemption, in job order, drawn in blocks of about _BLOCK
    # preemptions: time and memory follow the preemptions that happen, never the worst job
    # times every job.
    cum = np.cumsum(counts)
    start = 0
    while start < where.size:
        before = cum[start - 1] if start else 0
        end = max(int(np.searchsorted(cum, before + _BLOCK, side="right")), start + 1)
        job = np.repeat(np.arange(end - start), counts[start:end])
        position_h = rng.random(job.size) * flat_d[start:end][job]
        lost[start:end] = np.bincount(job, weights=np.fmod(position_h, c),
                                      minlength=end - start)
        start = end
    return where, lost + counts * config.restart_overhead_h, n


_BLOCK = 1 << 22

_PROCESS_MAX_LAM = 8.0
"""Jobs expecting up to this many preemptions count them as a unit-rate Poisson process's
arrivals before ``lam``; the rest (rare) through ``Generator.poisson``."""


def _poisson(rng: np.random.Generator, lam: np.ndarray,
             lam_max: float) -> tuple[np.ndarray, np.ndarray]:
    """Poisson(``lam``) counts, int64, for a 1-D ``lam >= 0`` (at most ``lam_max``), and the
    increasing indices of the non-zero ones. The counts are the arrivals of a unit-rate
    Poisson process before ``lam``, so one exponential per job decides the ~``1 - e^-lam``
    jobs preempted at all (spot hazards make most jobs' ``lam`` small), and only those draw
    more. The draws: one standard exponential per job, then one per preempted job per
    further arrival, then ``Generator.poisson`` for the jobs above :data:`_PROCESS_MAX_LAM`.
    """
    n = np.zeros(lam.size, dtype=np.int64)
    small = lam <= _PROCESS_MAX_LAM if lam_max > _PROCESS_MAX_LAM else None
    arrival = rng.standard_exponential(lam.size)
    idx = np.flatnonzero(arrival <= lam if small is None else small & (arrival <= lam))
    hit = idx
    arrival, rate = arrival[idx], lam[idx]
    k = 0
    while idx.size:
        k += 1
        arrival += rng.standard_exponential(idx.size)
        done = arrival > rate
        n[idx[done]] = k
        keep = ~done
        idx, arrival, rate = idx[keep], arrival[keep], rate[keep]
    big = np.empty(0, dtype=np.int64) if small is None else np.flatnonzero(~small)
    if big.size:
        n[big] = rng.poisson(lam[big])
        hit = np.union1d(hit, big[n[big] > 0])
    return n, hit


def expected_preemption_overhead_h(duration_h: float, config: PreemptionConfig) -> float:
    """Expected extra hours preemption adds to one job of ``duration_h`` hours (closed form).

    Example:
        >>> cfg = PreemptionConfig(hazard_per_h=5, checkpoint_interval_h=10)
        >>> round(expected_preemption_overhead_h(0.1, cfg), 6)   # 5 × 0.1² / 2
        0.025
    """
    c = config.checkpoint_interval_h
    k = np.floor(duration_h / c)
    r = duration_h - k * c
    lost = config.hazard_per_h * (k * c * c + r * r) / 2.0
    return float(lost + config.hazard_per_h * duration_h * config.restart_overhead_h)
