"""The list scheduler: every replicate of a chunk scheduled, in queue order, and reduced.

List scheduling: each job takes the earliest-free slot of the pool and starts when that slot
is free and its dependencies have ended. The work is done by the scheduling kernel
(:mod:`tunecost.simulate._kernel`: compiled with numba, or a numpy fallback with the same
bits), which sums each study's running and waiting as it goes. :func:`schedule_usage` is
what the engine runs: a chunk's :class:`Usage` without any ``(m, J)`` schedule array, except
for the replicates it is asked to record (the ledger's). :func:`schedule` keeps every
replicate's schedule (the hourly-carbon case needs the intervals) and :func:`usage` reduces
it to what :func:`~tunecost.simulate._totals.totals` accounts: the same bits either way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tunecost.simulate._draw import Draw, Jobs
from tunecost.simulate._kernel import KernelOutput, run_kernel
from tunecost.simulate._resolve import ResolvedCampaign
from tunecost.simulate._totals import Usage, energy_weighted_intensity

__all__ = ["Schedule", "schedule", "schedule_usage", "usage"]


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
        sums: the kernel's per-study sums, ``(4, S, m)`` (see
            :class:`~tunecost.simulate._kernel.KernelOutput`), or ``None``.
        unused_h: the used slots' hours neither running nor waiting, ``(m,)``, or ``None``.
    """

    start_h: np.ndarray
    wait_h: np.ndarray
    worker: np.ndarray
    wall_clock_h: np.ndarray
    busy_h: np.ndarray
    idle_slots: int = 0
    sums: np.ndarray | None = None
    unused_h: np.ndarray | None = None


def _slots(n_workers: int, n_jobs: int) -> tuple[int, int]:
    """Slots that can be used, and slots idle all along: list scheduling never uses more
    slots than jobs (`workers: 1e9` must not allocate 1e9 slots), and the unused ones are
    counted, for a reserved pool's idle power and rent."""
    used = min(n_workers, max(n_jobs, 1))
    return used, max(n_workers - max(n_jobs, 1), 0)


def _structure(jobs: Jobs) -> dict:
    return {"parent": jobs.parent, "barrier": jobs.barrier, "stage": jobs.stage,
            "instance": jobs.instance, "study": jobs.study, "n_studies": len(jobs.n_trials),
            "n_stages": jobs.n_stages, "n_instances": jobs.n_instances}


def schedule(jobs: Jobs, n_workers: int, *, sequential: bool) -> Schedule:
    """List-schedule the jobs, in queue order, on ``n_workers`` identical slots.

    A job may start once its slot is free, its ``parent`` job has ended, every job of its
    ``barrier`` stage has ended and, with ``sequential``, every job of the previous study
    instance has ended. The slot waits (and draws idle power) from when it was freed until
    the job starts.
    """
    m, n_jobs = jobs.duration_h.shape
    used, idle_slots = _slots(n_workers, n_jobs)
    out = run_kernel(jobs.duration_h, busy_kw=jobs.busy_kw, idle_kw=jobs.idle_kw,
                     n_workers=used, sequential=sequential, record=m, **_structure(jobs))
    return _as_schedule(out, idle_slots)


def _as_schedule(out: KernelOutput, idle_slots: int) -> Schedule:
    rec = out.start_h.shape[0]
    return Schedule(out.start_h, out.wait_h, out.worker, out.wall_clock_h[:rec],
                    out.busy_h, idle_slots, out.sums[:, :, :rec], out.unused_h[:rec])


def schedule_usage(
    draw: Draw, n_workers: int, *, sequential: bool, record: int = 0
) -> tuple[Usage, Schedule]:
    """Schedule a chunk's draw and reduce it to its :class:`Usage` at once.

    Returns:
        The usage, and the schedule of the first ``record`` replicates (the ledger's).
    """
    jobs = draw.jobs
    m, n_jobs = draw.m, draw.base.shape[0]
    used, idle_slots = _slots(n_workers, n_jobs)
    out = run_kernel(draw.duration_h, busy_kw=draw.busy_extra_kw, idle_kw=None,
                     accelerator=draw.accelerator, busy_table=draw.busy_table,
                     idle_table=draw.idle_table, layout=(m, draw.base, draw.stride),
                     n_workers=used, sequential=sequential, record=record,
                     **_structure(jobs))
    use = _usage(jobs.n_trials, m, out.sums, out.wall_clock_h, out.unused_h, idle_slots)
    return use, _as_schedule(out, idle_slots)


def _usage(n_trials: np.ndarray, m: int, sums: np.ndarray, wall: np.ndarray,
           unused: np.ndarray, idle_slots: int, g: np.ndarray | None = None) -> Usage:
    return Usage(
        n_trials=np.repeat(n_trials[:, None], m, axis=1),
        busy_h=sums[0],
        busy_it_kwh=sums[1],
        waiting_it_kwh=sums[2],
        paid_h=sums[3],
        wall_clock_h=wall,
        unused_slot_h=unused + idle_slots * wall,
        g_co2e_per_kwh=g,
    )


def _sequential_sums(jobs: Jobs, sched: Schedule) -> tuple[np.ndarray, np.ndarray]:
    """The kernel's sums from a schedule's arrays, added in the kernel's order."""
    m = jobs.duration_h.shape[0]
    sums = np.zeros((4, len(jobs.n_trials), m))
    for j in range(jobs.duration_h.shape[1]):
        d, wt, st = jobs.duration_h[:, j], sched.wait_h[:, j], jobs.study[j]
        sums[0, st] += d
        sums[1, st] += d * jobs.busy_kw[:, j]
        sums[2, st] += np.where(wt > 0, wt * jobs.idle_kw[:, j], 0.0)
        sums[3, st] += d + wt
    unused = np.zeros(m)
    for w in range(sched.busy_h.shape[1]):
        unused += np.maximum(sched.wall_clock_h - sched.busy_h[:, w], 0.0)
    return sums, unused


def usage(campaign: ResolvedCampaign, jobs: Jobs, sched: Schedule) -> Usage:
    """What a scheduled chunk used, per study ``(S, m)``: the input of the accounting."""
    m = jobs.duration_h.shape[0]
    if sched.sums is not None and sched.unused_h is not None:
        sums, unused = sched.sums, sched.unused_h
    else:
        sums, unused = _sequential_sums(jobs, sched)
    g = None
    if campaign.series is not None:
        waiting = sched.wait_h > 0
        n_studies = len(campaign.studies)
        masks = [jobs.study == s for s in range(n_studies)]

        def by_study(per_job: np.ndarray) -> np.ndarray:  # (m, J) -> (S, m)
            # Row sums, not a one-hot matmul: BLAS rounding depends on its thread count,
            # and workers run single-threaded, so a matmul would break bit-identical backends.
            return np.stack([per_job[:, mask].sum(axis=1) for mask in masks]).reshape(
                n_studies, m)

        s = sched.start_h
        # 0 × NaN would be NaN: a slot that never waits costs nothing whatever its idle power.
        wait_kwh = np.where(waiting, sched.wait_h * jobs.idle_kw, 0.0)
        grid = (jobs.busy_kw * campaign.series.integral(s, s + jobs.duration_h)
                + np.where(waiting, jobs.idle_kw * campaign.series.integral(s - sched.wait_h, s),
                           0.0))
        g = energy_weighted_intensity(
            campaign, by_study(jobs.duration_h * jobs.busy_kw + wait_kwh), by_study(grid))
    return _usage(jobs.n_trials, m, sums, sched.wall_clock_h, unused, sched.idle_slots, g)
