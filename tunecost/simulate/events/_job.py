"""What the engine and a search policy exchange: jobs, and the policy protocol."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

from tunecost.units import W_PER_KW

__all__ = ["WAIT", "Job", "Policy", "between_trials_kw", "mean_kw"]


class _Wait:
    """Sentinel: no job now, but one may come when running jobs report (a barrier)."""

    def __repr__(self) -> str:
        return "WAIT"


WAIT = _Wait()


@dataclass(slots=True, eq=False)
class Job:
    """One contiguous piece of training of one trial on one worker.

    Attributes:
        trial: trial index within its study instance.
        duration_s: running time if never stopped, s.
        checkpoints_s: offsets from the job's start, s, ascending, at which the policy
            decides whether the job goes on (``Policy.decide``); may be empty.
        reached: fidelity reached at each checkpoint, and at the end (one more entry).
        busy_kw: IT power while running (accelerators + host share), kW, before PUE.
        label: ledger label.
        data: the policy's own (an Optuna trial, a rung index, ...).
        instance: study instance index, set by the engine.
        paused: set by the policy when it stops the job to resume the trial later.
        early: the plan ends the trial with this job below full fidelity (a pruned or
            unpromoted trial of a vectorised strategy's plan).
        busy_kw_at: mean IT power from the job's start to each checkpoint and to its end
            (``len(checkpoints_s) + 1`` entries), kW, so a job stopped early is charged the
            energy it used to that point (set-up draws less than training); ``None``:
            ``busy_kw`` throughout.
        overhead_s: framework time on the worker before the job starts (sampler, storage,
            trial start-up), s.
        overhead_kw: IT power during ``overhead_s``, kW.
    """

    trial: int
    duration_s: float
    checkpoints_s: list[float]
    reached: list[float]
    busy_kw: float
    label: str
    data: Any = None
    instance: int = -1
    paused: bool = False
    early: bool = False
    busy_kw_at: list[float] | None = None
    overhead_s: float = 0.0
    overhead_kw: float = 0.0

    def kw_until(self, index: int | None) -> float:
        """Mean IT power from the start to checkpoint ``index`` (``None``: to the end), kW."""
        if self.busy_kw_at is None:
            return self.busy_kw
        return self.busy_kw_at[-1 if index is None else index]


def mean_kw(offsets_s: list[float], joules: list[float], host_kw: float) -> list[float]:
    """Mean IT power from a job's start to each offset, kW: the host's share plus the
    accelerator energy used so far over the time so far (``Job.busy_kw_at``)."""
    return [host_kw + (j / o / W_PER_KW if o > 0 else 0.0)
            for o, j in zip(offsets_s, joules, strict=True)]


def between_trials_kw(host_kw: float, idle_kw: float) -> float:
    """IT power of a slot during the framework's overhead, kW: the accelerator idles and the
    host works (the idle figure includes the host's); the host's share alone where the
    accelerator's idle power is unknown (NaN)."""
    return host_kw if math.isnan(idle_kw) else idle_kw


class Policy(Protocol):
    """A search algorithm as the engine sees it: it hands out jobs and hears back.

    ``idle_kw`` is the power a worker draws while waiting for this policy's work, kW (NaN
    where unknown).
    """

    idle_kw: float

    def next_job(self, now_s: float) -> Job | _Wait | None:
        """A job for a free worker, :data:`WAIT` (work may come later) or ``None`` (done)."""
        ...

    def ready(self, job: Job) -> bool:
        """Whether ``job``'s dependencies have ended (else its worker holds it and waits)."""
        ...

    def decide(self, job: Job, index: int, now_s: float) -> bool:
        """At checkpoint ``index`` of ``job``: ``True`` goes on, ``False`` stops it now."""
        ...

    def end(self, job: Job, now_s: float, stopped: bool) -> None:
        """``job`` left its worker: at its end, or stopped at a checkpoint."""
        ...
