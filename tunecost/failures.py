"""Crashes and spot preemption: what failures add to a trial's time.

* A **crash** ends a job early: with probability ``crash_probability`` a job runs for a
  (short) crash duration instead of its planned one, and the rest of its trial never runs.
  Its cost is real and is counted.
* **Preemption** of spot/pre-emptible capacity is a Poisson process with rate
  ``hazard_per_h`` over the job's running time. Each preemption loses the work since the
  last checkpoint (uniform on ``[0, checkpoint_interval_h)``) and adds
  ``restart_overhead_h``. The job still completes.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tunecost.durations import DurationConfig

__all__ = ["FailureConfig", "PreemptionConfig", "preemption_overhead_h"]


class FailureConfig(BaseModel):
    """Crash model of a study."""

    model_config = ConfigDict(extra="forbid", frozen=True)

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

    model_config = ConfigDict(extra="forbid", frozen=True)

    hazard_per_h: float = Field(ge=0, description="Preemptions per running hour.")
    checkpoint_interval_h: float = Field(gt=0, description="Hours between checkpoints.")
    restart_overhead_h: float = Field(default=0.0, ge=0, description="Hours to restart.")


def preemption_overhead_h(
    duration_h: np.ndarray, config: PreemptionConfig, *, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Extra hours preemption adds to jobs of ``duration_h`` hours, and preemption counts.

    Args:
        duration_h: planned running time of each job, any shape.
        config: the preemption model.
        rng: random source.

    Returns:
        ``(extra_h, n_preemptions)``, each of ``duration_h``'s shape.
    """
    n = rng.poisson(config.hazard_per_h * duration_h)
    n_max = int(n.max()) if n.size else 0
    if n_max == 0:
        return np.zeros_like(duration_h, dtype=np.float64), n
    # Lost work of each preemption: uniform time since the last checkpoint; sum the first n
    # of n_max draws per job (n_max is small: a few preemptions per job at realistic rates).
    lost = rng.random((*duration_h.shape, n_max)) * config.checkpoint_interval_h
    lost *= np.arange(n_max) < n[..., None]
    return lost.sum(axis=-1) + n * config.restart_overhead_h, n
