"""The vectorised engine: chunks of replicates drawn, list-scheduled and accounted together.

:func:`run_vectorized` sizes the chunks so memory stays bounded, refuses a run that would not
fit memory or minutes before building anything, runs the chunks on a
:class:`~tunecost.simulate._backends.Backend` (each from its own spawned stream, merged in
chunk order: the same bits on every backend) and writes replicate 0's ledger.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from tunecost._rng import as_generator
from tunecost.config import CampaignConfig
from tunecost.exceptions import ConfigError
from tunecost.simulate._backends import Backend, get_backend
from tunecost.simulate._chunks import ChunkTask, Merged, run_chunk
from tunecost.simulate._draw import SKIPPED, STATE_NAMES, Jobs
from tunecost.simulate._kernel import kernel_path
from tunecost.simulate._ledger import job_costs, write_ledger
from tunecost.simulate._list_scheduler import Schedule
from tunecost.simulate._resolve import ResolvedCampaign, ResolvedStudy, resolve
from tunecost.simulate._result import (
    KEEP_REPLICATES_MAX,
    CampaignResult,
    StudyResult,
    _NotKept,
    assumptions,
)

__all__ = ["CHUNK_BYTES", "MAX_FALLBACK_STEPS", "MAX_INSTANCE_DRAWS", "MAX_SCHEDULE_STEPS",
           "MEMORY_LIMIT_BYTES", "run_vectorized"]

CHUNK_BYTES = 64 * 2**20
"""Working set one chunk is sized to (the replicates' share of memory, on top of the
interpreter's): with LISA's 4,789 jobs about 1,450 replicates, so a 10,000-replicate run
peaks under 300 MB of RSS whatever the replicate count."""

_BYTES_PER_JOB_REPLICATE = 9
"""Bytes per job and replicate that live for the whole chunk: its duration (float64) and
accelerator index (int8), what the scheduling kernel reads; power comes from per-job tables.
A calibrated energy model adds :data:`_BYTES_CALIBRATED` (each trial's own power)."""

_BYTES_CALIBRATED = 8


def _bytes_transient(study: ResolvedStudy) -> int:
    """Bytes per job and replicate of one instance of ``study`` while it is drawn (measured
    with tracemalloc, rounded up): its plan (fidelity, fidelity reached, stopped) and the
    duration model's draws and temporaries; the accelerator uniforms of a mix; the crash
    uniforms and flags; preemption counts and lost hours; a calibration's parameters."""
    return (48 + 9 * (len(study.accelerators) > 1) + 10 * (study.crash_probability > 0)
            + 48 * (study.preemption is not None) + 96 * (study.calibration is not None))


_BYTES_SCHEDULE = 160
"""Bytes per job and replicate where every replicate's schedule is kept (an hourly carbon
series integrates each job's interval): the jobs' power, state, fidelity and preemptions,
start, wait and slot of each job, and the series integrals."""

_BYTES_PER_JOB = 160
"""Bytes per job whatever the replicate count: the per-job arrays (study, instance, trial,
dependencies, GPUs, price, power tables) and the ledger's configuration labels."""


def _bytes_per_replicate(campaign: ResolvedCampaign, sizes: list[int]) -> int:
    """Working set of one replicate of a chunk: every job's share, plus the transient
    arrays of the largest study instance while it is drawn."""
    n_jobs = sum(s.count * n for s, n in zip(campaign.studies, sizes, strict=True))
    per = _BYTES_PER_JOB_REPLICATE
    if any(s.calibrated_energy for s in campaign.studies):
        per += _BYTES_CALIBRATED
    if campaign.series is not None:
        per += _BYTES_SCHEDULE
    transient = max((n * _bytes_transient(s) for s, n in zip(campaign.studies, sizes,
                                                             strict=True)), default=0)
    return n_jobs * per + transient


def _chunk_size(n_reps: int, per_replicate: int) -> int:
    """Replicates per chunk: as many as :data:`CHUNK_BYTES` holds, in equal chunks, their
    number rounded up to a multiple of 4 when above 2 so that 2 or 4 cores finish together
    (LISA's 10,000 replicates, 1,450 to a chunk: 8 chunks of 1,250, not 6 and a short one).
    It depends on the campaign and the replicate count only, never on the machine: the same
    seed gives the same chunks, so the same bits, everywhere."""
    fit = max(1, CHUNK_BYTES // max(per_replicate, 1))
    n_chunks = -(-n_reps // fit)
    if n_chunks > 2:
        n_chunks = min(-(-n_chunks // 4) * 4, n_reps)
    return int(-(-n_reps // n_chunks))


MEMORY_LIMIT_BYTES = 2 * 2**30
"""Refused above this estimate for one chunk (a chunk is never smaller than one replicate)."""

MAX_SCHEDULE_STEPS = 5_000_000_000
"""Refused above this many scheduling steps, one per job per replicate (the compiled
kernel and the draw take tens of nanoseconds each): minutes of work at most, never an
apparent hang."""

MAX_FALLBACK_STEPS = 20_000_000
"""Without numba (the numpy fallback: one numpy operation per job per chunk), refused above
this many job × chunk steps: minutes."""

MAX_INSTANCE_DRAWS = 2_000_000
"""Refused above this many study-instance draws (instances × chunks; each some numpy calls
of its own, ~100 µs): minutes."""


def _plan_sizes(campaign: ResolvedCampaign) -> list[int]:
    """Jobs of one instance of each study (every strategy fixes it)."""
    rng = as_generator(0)
    return [s.strategy.plan(1, rng=rng).n_jobs for s in campaign.studies]


def _check_work(campaign: ResolvedCampaign, sizes: list[int], n_reps: int,
                replicates_per_chunk: int, n_chunks: int) -> None:
    """Refuse a run that does not fit memory or time, with the estimate, before building it."""
    n_jobs = sum(s.count * n for s, n in zip(campaign.studies, sizes, strict=True))
    need = (n_jobs * _BYTES_PER_JOB
            + replicates_per_chunk * _bytes_per_replicate(campaign, sizes))
    if need > MEMORY_LIMIT_BYTES:
        raise ConfigError(
            f"one chunk of {replicates_per_chunk:,} replicate(s) × {n_jobs:,} jobs needs about "
            f"{need / 2**30:,.1f} GiB, above the {MEMORY_LIMIT_BYTES / 2**30:g} GiB limit; "
            "fewer jobs (count × trials)"
            + (" or a smaller chunk_size (--chunk-size)" if replicates_per_chunk > 1 else "")
        )
    steps = n_jobs * n_reps
    if steps > MAX_SCHEDULE_STEPS:
        raise ConfigError(
            f"{n_jobs:,} jobs per replicate × {n_reps:,} replicates is {steps:,} scheduling "
            f"steps, above the {MAX_SCHEDULE_STEPS:,} that run in minutes; fewer replicates "
            "(--replicates) or fewer jobs (count × trials)"
        )
    draws = sum(s.count for s in campaign.studies) * n_chunks
    if draws > MAX_INSTANCE_DRAWS:
        raise ConfigError(
            f"{draws // n_chunks:,} study instances in {n_chunks:,} chunk(s) of "
            f"{replicates_per_chunk:,} replicates is {draws:,} instance draws, above the "
            f"{MAX_INSTANCE_DRAWS:,} that run in minutes; fewer replicates (--replicates), "
            "a larger chunk_size (--chunk-size) or a smaller count"
        )
    fallback_steps = n_jobs * n_chunks
    if fallback_steps > MAX_FALLBACK_STEPS and kernel_path() == "fallback":
        raise ConfigError(
            f"{n_jobs:,} jobs per replicate in {n_chunks:,} chunk(s) of "
            f"{replicates_per_chunk:,} replicates is {fallback_steps:,} scheduling steps of "
            f"the numpy fallback, above the {MAX_FALLBACK_STEPS:,} that run in minutes; fewer "
            "replicates (--replicates), fewer jobs (count × trials), or the compiled kernel: "
            "pip install 'tunecost[fast]'"
        )


def run_vectorized(
    config: CampaignConfig,
    *,
    replicates: int,
    root: np.random.SeedSequence,
    chunk_size: int | None = None,
    ledger: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    backend: str | Backend = "auto",
    address: str | None = None,
    keep_replicates: bool | None = None,
) -> CampaignResult:
    """Simulate ``replicates`` runs of ``config`` from the root seed ``root`` (arguments as
    :func:`tunecost.simulate.simulate`'s)."""
    n_reps = replicates
    campaign = resolve(config)

    # Strategies fix their job count per study: count one plan of each study (each is
    # bounded by MAX_JOBS_PER_STUDY) before anything the size of the campaign is built.
    sizes = _plan_sizes(campaign)
    per_replicate = _bytes_per_replicate(campaign, sizes)
    size = chunk_size if chunk_size is not None else _chunk_size(n_reps, per_replicate)
    if size < 1:
        raise ConfigError(f"`chunk_size >= 1` must hold, but got chunk_size={size}")
    n_chunks = -(-n_reps // size)
    _check_work(campaign, sizes, n_reps, min(size, n_reps), n_chunks)
    # Spawned one at a time: child i is the same whether spawned alone or in a list of
    # n_chunks, and a list of 10**9 seed sequences would not fit memory.
    streams = (root.spawn(1)[0] for _ in range(n_chunks))

    keep = n_reps <= KEEP_REPLICATES_MAX if keep_replicates is None else keep_replicates
    tasks = (
        ChunkTask(c, min(size, n_reps - c * size), stream, keep, c == 0 and ledger is not None)
        for c, stream in enumerate(streams)
    )
    merged = Merged(keep=keep)
    done = 0
    # Backends yield in chunk order and every chunk has its own stream: the merge, and so
    # the result, is the same bits on every backend.
    runner = get_backend(backend, address=address, n_chunks=n_chunks)
    for part in runner.map_chunks(run_chunk, campaign, tasks):
        merged.add(part)
        if part.ledger is not None:
            _write_ledger(Path(ledger), campaign, *part.ledger)  # type: ignore[arg-type]
        done = min(done + size, n_reps)
        if progress is not None:
            progress(done, n_reps)

    values = merged.values()
    tm = values.pop("tuning_multiplier")
    studies = [
        StudyResult(s.name, s.count, m) if keep else StudyResult(s.name, s.count, _NotKept(), m)
        for s, m in zip(campaign.studies, merged.studies(), strict=True)
    ]
    return CampaignResult(
        name=config.name,
        replicates=n_reps,
        seed=root.entropy,
        chunk_size=size,
        metrics=values if keep else _NotKept(),
        tuning_multiplier=tm if keep else np.empty(0),
        reference_energy_kwh=campaign.reference_energy_kwh,
        reference_how=campaign.reference_how,
        studies=studies,
        stats=None if keep else {**values, "tuning_multiplier": tm},
        assumptions=assumptions(campaign),
    )


def _write_ledger(path: Path, campaign: ResolvedCampaign, jobs: Jobs, sched: Schedule) -> None:
    """Replicate 0's jobs (skipped ones left out: their trial crashed before they ran)."""
    energy, co2, cost = job_costs(
        campaign, jobs.study, sched.start_h[0], jobs.duration_h[0], sched.wait_h[0],
        jobs.busy_kw[0], jobs.idle_kw[0])
    rows = (
        [
            campaign.studies[jobs.study[j]].name,
            int(jobs.instance[j]),
            int(jobs.trial[j]),
            jobs.config[j],
            f"{jobs.reached[0, j]:.6g}",
            STATE_NAMES[jobs.state[0, j]],
            f"{sched.start_h[0, j]:.6f}",
            f"{jobs.duration_h[0, j]:.6f}",
            f"{sched.wait_h[0, j]:.6f}",
            int(sched.worker[0, j]),
            campaign.studies[jobs.study[j]].accelerators[jobs.accelerator[0, j]],
            int(jobs.gpus[j]),
            int(jobs.preemptions[0, j]),
            energy[j],
            co2[j],
            cost[j],
        ]
        for j in range(jobs.duration_h.shape[1])
        if jobs.state[0, j] != SKIPPED
    )
    write_ledger(path, rows)
