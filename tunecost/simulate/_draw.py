"""The job draw: every job of every study instance of a chunk, with its cost.

One draw serves both schedulers: the plan of each study instance (its strategy), the
accelerator of each trial, its full-fidelity duration (a duration model, or a calibration's
cost models with their residual noise), crashes (the crash rule: a crashed job ends its
trial; later jobs of the trial are skipped) and preemptions. Arrays are ``(m, J)`` with the
replicate axis first, ``J`` jobs in queue order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tunecost.failures import preemption_overhead_h
from tunecost.simulate._resolve import ResolvedCampaign, ResolvedStudy
from tunecost.units import S_PER_H, W_PER_KW

__all__ = ["COMPLETE", "CRASHED", "PRUNED", "SKIPPED", "STATE_NAMES", "Jobs", "build_jobs",
           "draw_study"]

# Job states in the ledger.
COMPLETE, PRUNED, CRASHED, SKIPPED = 0, 1, 2, 3
STATE_NAMES = ("COMPLETE", "PRUNED", "CRASHED", "SKIPPED")


@dataclass(slots=True)
class Jobs:
    """Every job of every study instance of a chunk, flattened in queue order.

    Per-job arrays are ``(n_jobs,)``; per-replicate ones ``(n_reps, n_jobs)``.
    """

    duration_h: np.ndarray  # (m, J): running time incl. preemption overhead; 0 if skipped
    busy_kw: np.ndarray  # (m, J)
    idle_kw: np.ndarray  # (m, J), NaN where unknown
    accelerator: np.ndarray  # (m, J) index into the study's accelerators
    state: np.ndarray  # (m, J) int8
    reached: np.ndarray  # (m, J) fidelity reached
    preemptions: np.ndarray  # (m, J)
    study: np.ndarray  # (J,) study index
    instance: np.ndarray  # (J,) global study-instance index
    trial: np.ndarray  # (J,)
    parent: np.ndarray  # (J,) global job index or -1
    barrier: np.ndarray  # (J,) global stage index or -1
    stage: np.ndarray  # (J,) global stage index
    gpus: np.ndarray  # (J,)
    rate: np.ndarray  # (J,) USD per accelerator-hour (NaN: no pricing)
    config: list[str]
    n_trials: np.ndarray  # (n_studies,) trials per replicate in each study (all instances)
    n_stages: int
    n_instances: int


def apply_crashes(
    duration_h: np.ndarray,
    state: np.ndarray,
    crashed: np.ndarray,
    crash_h: np.ndarray,
    trial: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The crash rule: a crashed job runs for its crash length (if shorter) and ends its
    trial, so the trial's later jobs never run (``SKIPPED``, duration 0).

    Args:
        duration_h: running time of each job, ``(m, J)`` hours.
        state: each job's state before crashes, ``(m, J)`` int8.
        crashed: whether each job would crash, ``(m, J)`` bool.
        crash_h: how long a crashing job runs before it fails, ``(m, J)`` hours.
        trial: ``(J,)`` integer key of each job's trial (equal keys: the same trial), jobs
            of a trial in queue order.

    Returns:
        The durations and states after crashes, new arrays.
    """
    crashed = crashed.copy()
    state = state.copy()
    _, key = np.unique(trial, return_inverse=True)
    n_trials = int(key.max()) + 1 if key.size else 0
    # With one job per trial (the common case) no job follows a crash: no loop needed.
    if n_trials < key.size:
        dead = np.zeros((state.shape[0], n_trials), dtype=bool)
        for j in range(key.size):
            t = key[j]
            skipped = dead[:, t]
            crashed[:, j] &= ~skipped
            state[skipped, j] = SKIPPED
            dead[:, t] |= crashed[:, j]
    state[crashed] = CRASHED
    duration_h = np.where(crashed, np.minimum(crash_h, duration_h), duration_h)
    duration_h[state == SKIPPED] = 0.0
    return duration_h, state


def draw_study(study: ResolvedStudy, m: int, *, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Draw ``m`` replicates of one study instance's jobs.

    Returns:
        ``plan`` (the strategy's :class:`~tunecost.strategies.TrialPlan`), and ``(m, J)``
        arrays ``duration_h`` (running time incl. preemption overhead, 0 if skipped),
        ``acc`` (accelerator index), ``state``, ``preemptions`` and ``busy_kw`` (IT power
        while running, kW).
    """
    plan_rng, dur_rng, acc_rng, crash_rng, pre_rng = rng.spawn(5)
    plan = study.strategy.plan(m, rng=plan_rng).validate(m)
    n_trials, n_jobs = plan.n_trials, plan.n_jobs
    if len(study.accelerators) == 1:
        acc_trial = np.zeros((m, n_trials), dtype=np.int64)
    else:
        acc_trial = acc_rng.choice(len(study.accelerators), size=(m, n_trials), p=study.shares)
    acc = acc_trial[:, plan.trial]
    busy_kw = study.busy_kw[acc]
    # A trial's speed belongs to its configuration: every job of a trial (one per rung it
    # reaches) scales the same full-fidelity draw.
    if study.calibration is None:
        assert study.duration is not None  # StudyConfig requires it without a calibration
        full_s = study.duration.sample((m, n_trials), rng=dur_rng)
    else:
        # Each trial draws its hyperparameters from the search space; its duration and
        # energy follow from the fitted models with correlated residual noise.
        params = study.calibration.sample_params((m, n_trials), rng=dur_rng)
        full_s, energy_j = study.calibration.sample_costs(params, rng=dur_rng)
        if energy_j is not None:  # else duration-only: busy_kw holds the estimated power
            busy_kw = busy_kw + (energy_j / full_s / W_PER_KW)[:, plan.trial]
    duration_h = (full_s / S_PER_H)[:, plan.trial] * plan.fidelity * plan.cost_factor

    state = np.where(plan.stopped, PRUNED, COMPLETE).astype(np.int8)
    if study.crash_probability > 0:
        assert study.crash_duration is not None  # guaranteed by FailureConfig
        crash_h = study.crash_duration.sample((m, n_jobs), rng=crash_rng) / S_PER_H
        crashed = crash_rng.random((m, n_jobs)) < study.crash_probability
        duration_h, state = apply_crashes(duration_h, state, crashed, crash_h, plan.trial)
    preemptions = np.zeros((m, n_jobs), dtype=np.int64)
    if study.preemption is not None:
        extra_h, preemptions = preemption_overhead_h(duration_h, study.preemption, rng=pre_rng)
        duration_h = duration_h + extra_h
    return {
        "plan": plan,
        "duration_h": duration_h,
        "acc": acc,
        "state": state,
        "preemptions": preemptions,
        "busy_kw": busy_kw,
    }


def build_jobs(campaign: ResolvedCampaign, m: int, *, rng: np.random.Generator) -> Jobs:
    """Draw every job of every study instance for ``m`` replicates."""
    parts: list[dict] = []
    n_instances = sum(s.count for s in campaign.studies)
    streams = iter(rng.spawn(n_instances))
    job_offset = stage_offset = instance = 0
    n_trials = np.zeros(len(campaign.studies), dtype=np.int64)
    for si, study in enumerate(campaign.studies):
        for _ in range(study.count):
            part = draw_study(study, m, rng=next(streams))
            plan = part["plan"]
            n_trials[si] += plan.n_trials
            part.update(
                study=np.full(plan.n_jobs, si),
                instance=np.full(plan.n_jobs, instance),
                parent=np.where(plan.parent >= 0, plan.parent + job_offset, -1),
                barrier=np.where(plan.barrier >= 0, plan.barrier + stage_offset, -1),
                stage=plan.stage + stage_offset,
                idle_kw=study.idle_kw[part["acc"]],
                gpus=np.full(plan.n_jobs, study.gpus),
                rate=np.full(plan.n_jobs, study.usd_per_accelerator_hour),
            )
            parts.append(part)
            job_offset += plan.n_jobs
            stage_offset += int(plan.stage.max()) + 1 if plan.n_jobs else 0
            instance += 1

    def cat(key: str, axis: int = 1) -> np.ndarray:
        return np.concatenate([p[key] for p in parts], axis=axis)

    return Jobs(
        duration_h=cat("duration_h"),
        busy_kw=cat("busy_kw"),
        idle_kw=cat("idle_kw"),
        accelerator=cat("acc"),
        state=cat("state"),
        reached=np.concatenate([p["plan"].reached for p in parts], axis=1),
        preemptions=cat("preemptions"),
        study=cat("study", 0),
        instance=cat("instance", 0),
        trial=np.concatenate([p["plan"].trial for p in parts]),
        parent=cat("parent", 0),
        barrier=cat("barrier", 0),
        stage=cat("stage", 0),
        gpus=cat("gpus", 0),
        rate=cat("rate", 0),
        config=[c for p in parts for c in p["plan"].config],
        n_trials=n_trials,
        n_stages=stage_offset,
        n_instances=n_instances,
    )
