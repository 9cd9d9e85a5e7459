"""The vectorised Monte Carlo path: every replicate of a chunk advances together.

Arrays are ``(n_reps, n_jobs)`` with the replicate axis first. The only Python loop is over
jobs, in queue order (list scheduling: each job takes the earliest-free slot of the pool and
starts when that slot is free and its dependencies have ended); every step of it is a numpy
operation over the chunk's replicates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tunecost.exceptions import ConfigError
from tunecost.failures import preemption_overhead_h
from tunecost.simulate._resolve import ResolvedCampaign, ResolvedStudy
from tunecost.units import S_PER_H, W_PER_KW

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


def _study_jobs(study: ResolvedStudy, m: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
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
        # A crash ends its trial: later jobs of the same trial never run. (With one job per
        # trial, the common case, there are no later jobs and no loop is needed.)
        dead = np.zeros((m, n_trials), dtype=bool)
        for j in range(n_jobs) if n_jobs > n_trials else ():
            t = plan.trial[j]
            skipped = dead[:, t]
            crashed[:, j] &= ~skipped
            state[skipped, j] = SKIPPED
            state[crashed[:, j], j] = CRASHED
            dead[:, t] |= crashed[:, j]
        state[crashed] = CRASHED
        duration_h = np.where(crashed, np.minimum(crash_h, duration_h), duration_h)
        duration_h[state == SKIPPED] = 0.0
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


def build_jobs(campaign: ResolvedCampaign, m: int, rng: np.random.Generator) -> Jobs:
    """Draw every job of every study instance for ``m`` replicates."""
    parts: list[dict] = []
    n_instances = sum(s.count for s in campaign.studies)
    streams = iter(rng.spawn(n_instances))
    job_offset = stage_offset = instance = 0
    n_trials = np.zeros(len(campaign.studies), dtype=np.int64)
    for si, study in enumerate(campaign.studies):
        for _ in range(study.count):
            part = _study_jobs(study, m, next(streams))
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


@dataclass(slots=True)
class Schedule:
    """Where and when each job ran.

    Attributes:
        start_h: start time, ``(m, J)``, hours since the campaign began.
        wait_h: time the job's slot sat waiting for its dependencies before it, ``(m, J)``.
        worker: slot index, ``(m, J)``, -1 for skipped jobs.
        wall_clock_h: campaign makespan, ``(m,)``.
        busy_h: per slot, time running or waiting on a dependency, ``(m, W')``: only the
            ``W' = min(W, jobs)`` slots that can ever be used (the rest never run a job).
        idle_slots: slots beyond ``W'``, idle the whole campaign (a reserved pool pays them).
    """

    start_h: np.ndarray
    wait_h: np.ndarray
    worker: np.ndarray
    wall_clock_h: np.ndarray
    busy_h: np.ndarray
    idle_slots: int = 0


def schedule(jobs: Jobs, n_workers: int, *, sequential: bool) -> Schedule:
    """List-schedule the jobs, in queue order, on ``n_workers`` identical slots.

    A job may start once its slot is free, its ``parent`` job has ended, every job of its
    ``barrier`` stage has ended and, with ``sequential``, every job of the previous study
    instance has ended. The slot waits (and draws idle power) from when it was freed until
    the job starts.
    """
    m, n_jobs = jobs.duration_h.shape
    # List scheduling never uses more slots than jobs: `workers: 1e9` must not allocate
    # (m, 1e9) arrays. The unused slots are counted, for a reserved pool's idle power and rent.
    idle_slots = max(n_workers - max(n_jobs, 1), 0)
    n_workers = min(n_workers, max(n_jobs, 1))
    rows = np.arange(m)
    free = np.zeros((m, n_workers))
    busy = np.zeros((m, n_workers))
    start = np.zeros((m, n_jobs))
    end = np.zeros((m, n_jobs))
    wait = np.zeros((m, n_jobs))
    worker = np.full((m, n_jobs), -1, dtype=np.int64)
    stage_end = np.zeros((m, max(jobs.n_stages, 1)))
    instance_end = np.zeros((m, max(jobs.n_instances, 1)))
    for j in range(n_jobs):
        ready = np.zeros(m)
        if jobs.parent[j] >= 0:
            ready = np.maximum(ready, end[:, jobs.parent[j]])
        if jobs.barrier[j] >= 0:
            ready = np.maximum(ready, stage_end[:, jobs.barrier[j]])
        inst = jobs.instance[j]
        if sequential and inst > 0:
            ready = np.maximum(ready, instance_end[:, inst - 1])
        dur = jobs.duration_h[:, j]
        w = np.argmin(free, axis=1)
        f = free[rows, w]
        s = np.maximum(f, ready)
        runs = dur > 0
        start[:, j] = np.where(runs, s, ready)
        end[:, j] = start[:, j] + dur
        wait[:, j] = np.where(runs, s - f, 0.0)
        worker[:, j] = np.where(runs, w, -1)
        free[rows, w] = np.where(runs, end[:, j], f)
        busy[rows, w] += np.where(runs, end[:, j] - f, 0.0)
        stage_end[:, jobs.stage[j]] = np.maximum(stage_end[:, jobs.stage[j]], end[:, j])
        instance_end[:, inst] = np.maximum(instance_end[:, inst], end[:, j])
    return Schedule(
        start, wait, worker, end.max(axis=1) if n_jobs else np.zeros(m), busy, idle_slots
    )


@dataclass(slots=True)
class ChunkMetrics:
    """Per-replicate totals of one chunk: campaign-wide ``(m,)`` and per study ``(S, m)``."""

    campaign: dict[str, np.ndarray]
    studies: dict[str, np.ndarray]


METRICS = (
    "n_trials",
    "gpu_hours",
    "wall_clock_h",
    "energy_kwh",
    "co2e_kg",
    "cost_usd",
    "electricity_usd",
    "waiting_energy_kwh",
)


def account(campaign: ResolvedCampaign, jobs: Jobs, sched: Schedule) -> tuple[ChunkMetrics, dict]:
    """Energy, CO2e and dollars of a scheduled chunk.

    Returns:
        The chunk's metrics, and per-job arrays ``energy_kwh``, ``co2e_kg``, ``cost_usd``
        (each ``(m, J)``) for the ledger.
    """
    pue = campaign.pue
    m = jobs.duration_h.shape[0]
    waiting = sched.wait_h > 0
    if (waiting & np.isnan(jobs.idle_kw)).any():
        j = int(np.argwhere((waiting & np.isnan(jobs.idle_kw)).any(axis=0))[0, 0])
        study = campaign.studies[jobs.study[j]]
        raise ConfigError(
            f"study {study.name!r} waits at synchronisation points, but the catalog has no idle "
            f"power for {study.accelerators[jobs.accelerator[0, j]]!r}; set power.idle_w"
        )
    idle_kw = np.nan_to_num(jobs.idle_kw)
    busy_kwh = jobs.duration_h * jobs.busy_kw * pue
    wait_kwh = sched.wait_h * idle_kw * pue
    if campaign.series is None:
        co2_job = (busy_kwh + wait_kwh) * campaign.g_co2e_per_kwh / 1000.0
    else:
        s = sched.start_h
        co2_job = (
            jobs.busy_kw * pue * campaign.series.integral(s, s + jobs.duration_h)
            + idle_kw * pue * campaign.series.integral(s - sched.wait_h, s)
        ) / 1000.0
    cost_job = (jobs.duration_h + sched.wait_h) * jobs.gpus * jobs.rate
    energy_job = busy_kwh + wait_kwh

    W = campaign.config.workers
    reserved_kwh = np.zeros(m)
    reserved_cost = None
    if campaign.config.reserved:
        study = campaign.studies[0]
        if np.isnan(study.idle_kw[0]):
            raise ConfigError(
                f"a reserved pool draws idle power, but the catalog has none for "
                f"{study.accelerators[0]!r}; set power.idle_w"
            )
        idle_h = np.clip(sched.wall_clock_h[:, None] - sched.busy_h, 0.0, None).sum(axis=1)
        idle_h = idle_h + sched.idle_slots * sched.wall_clock_h
        reserved_kwh = idle_h * study.idle_kw[0] * pue
        reserved_cost = W * study.gpus * sched.wall_clock_h * study.usd_per_accelerator_hour

    n_studies = len(campaign.studies)
    per_study = {}
    masks = [jobs.study == s for s in range(n_studies)]

    def by_study(per_job: np.ndarray) -> np.ndarray:  # (m, J) -> (S, m)
        # Row sums, not a one-hot matmul: BLAS rounding depends on its thread count, and
        # Ray workers run single-threaded, so a matmul would break bit-identical backends.
        return np.stack([per_job[:, mask].sum(axis=1) for mask in masks]).reshape(n_studies, m)

    per_study["gpu_hours"] = by_study(jobs.duration_h * jobs.gpus)
    per_study["energy_kwh"] = by_study(energy_job)
    per_study["waiting_energy_kwh"] = by_study(wait_kwh)
    per_study["co2e_kg"] = by_study(co2_job)
    per_study["cost_usd"] = by_study(cost_job)
    per_study["n_trials"] = np.repeat(jobs.n_trials[:, None].astype(np.float64), m, axis=1)
    per_study["electricity_usd"] = per_study["energy_kwh"] * campaign.usd_per_kwh

    energy = per_study["energy_kwh"].sum(axis=0) + reserved_kwh
    co2 = per_study["co2e_kg"].sum(axis=0) + reserved_kwh * campaign.g_co2e_per_kwh / 1000.0
    totals = {
        "n_trials": per_study["n_trials"].sum(axis=0),
        "gpu_hours": per_study["gpu_hours"].sum(axis=0),
        "wall_clock_h": sched.wall_clock_h,
        "energy_kwh": energy,
        "co2e_kg": co2,
        "cost_usd": per_study["cost_usd"].sum(axis=0) if reserved_cost is None else reserved_cost,
        "electricity_usd": energy * campaign.usd_per_kwh,
        "waiting_energy_kwh": per_study["waiting_energy_kwh"].sum(axis=0) + reserved_kwh,
    }
    return ChunkMetrics(totals, per_study), {
        "energy_kwh": energy_job,
        "co2e_kg": co2_job,
        "cost_usd": cost_job,
    }
