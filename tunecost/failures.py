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
    expected = config.hazard_per_h * duration_h
    worst = float(expected.max()) if expected.size else 0.0
    if worst > MAX_PREEMPTIONS_PER_JOB:
        raise ConfigError(
            f"`preemption.hazard_per_h × job hours <= {MAX_PREEMPTIONS_PER_JOB:,}` (expected "
            f"preemptions of one job) must hold, but got hazard_per_h={config.hazard_per_h:g} "
            f"× {float(duration_h.max()):g} h = {worst:,.0f}"
        )
    n = rng.poisson(expected)
    flat_n = n.ravel()
    flat_d = duration_h.ravel()
    lost = np.zeros(flat_n.size)
    c = config.checkpoint_interval_h
    # One uniform position per preemption, drawn in blocks of about _BLOCK preemptions: time
    # and memory follow the preemptions that happen, never the worst job times every job.
    cum = np.cumsum(flat_n)
    start = 0
    while start < flat_n.size and cum[-1] > 0:
        before = cum[start - 1] if start else 0
        end = max(int(np.searchsorted(cum, before + _BLOCK, side="right")), start + 1)
        job = np.repeat(np.arange(start, end), flat_n[start:end])
        position_h = rng.random(job.size) * flat_d[job]
        lost[start:end] = np.bincount(
            job - start, weights=np.fmod(position_h, c), minlength=end - start
        )
        start = end
    return lost.reshape(duration_h.shape) + n * config.restart_overhead_h, n


_BLOCK = 1 << 22


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
