"""The list scheduler: every replicate of a chunk scheduled together, in queue order.

List scheduling: each job takes the earliest-free slot of the pool and starts when that slot
is free and its dependencies have ended. Arrays are ``(m, J)`` with the replicate axis first;
the only Python loop is over jobs, every step of it a numpy operation over the chunk's
replicates. :func:`usage` reduces the schedule to what :func:`~tunecost.simulate._totals.totals`
accounts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tunecost.simulate._draw import Jobs
from tunecost.simulate._resolve import ResolvedCampaign
from tunecost.simulate._totals import Usage

__all__ = ["Schedule", "schedule", "usage"]


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


def usage(campaign: ResolvedCampaign, jobs: Jobs, sched: Schedule) -> Usage:
    """What a scheduled chunk used, per study ``(S, m)``: the input of the accounting."""
    m = jobs.duration_h.shape[0]
    waiting = sched.wait_h > 0
    # 0 × NaN would be NaN: a slot that never waits costs nothing whatever its idle power.
    wait_kwh = np.where(waiting, sched.wait_h * jobs.idle_kw, 0.0)
    busy_kwh = jobs.duration_h * jobs.busy_kw
    n_studies = len(campaign.studies)
    masks = [jobs.study == s for s in range(n_studies)]

    def by_study(per_job: np.ndarray) -> np.ndarray:  # (m, J) -> (S, m)
        # Row sums, not a one-hot matmul: BLAS rounding depends on its thread count, and
        # Ray workers run single-threaded, so a matmul would break bit-identical backends.
        return np.stack([per_job[:, mask].sum(axis=1) for mask in masks]).reshape(n_studies, m)

    g = None
    if campaign.series is not None:
        s = sched.start_h
        grid = (jobs.busy_kw * campaign.series.integral(s, s + jobs.duration_h)
                + np.where(waiting, jobs.idle_kw * campaign.series.integral(s - sched.wait_h, s),
                           0.0))
        it_kwh = by_study(busy_kwh + wait_kwh)
        with np.errstate(invalid="ignore", divide="ignore"):
            g = np.where(it_kwh > 0, by_study(grid) / it_kwh, campaign.g_co2e_per_kwh)
    unused = np.clip(sched.wall_clock_h[:, None] - sched.busy_h, 0.0, None).sum(axis=1)
    return Usage(
        n_trials=np.repeat(jobs.n_trials[:, None], m, axis=1),
        busy_h=by_study(jobs.duration_h),
        busy_it_kwh=by_study(busy_kwh),
        waiting_it_kwh=by_study(wait_kwh),
        paid_h=by_study(jobs.duration_h + sched.wait_h),
        wall_clock_h=sched.wall_clock_h,
        unused_slot_h=unused + sched.idle_slots * sched.wall_clock_h,
        g_co2e_per_kwh=g,
    )
