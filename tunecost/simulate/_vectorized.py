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
from tunecost.simulate._ledger import job_costs, write_ledger
from tunecost.simulate._list_scheduler import Schedule
from tunecost.simulate._resolve import ResolvedCampaign, resolve
from tunecost.simulate._result import (
    KEEP_REPLICATES_MAX,
    CampaignResult,
    StudyResult,
    _NotKept,
    assumptions,
)

__all__ = ["MAX_SCHEDULE_STEPS", "MEMORY_LIMIT_BYTES", "run_vectorized"]

_ELEMENTS_PER_CHUNK = 2_000_000
"""Target size of one ``(n_reps, n_jobs)`` array; about 16 MB, so a chunk's dozen arrays stay
in the low hundreds of MB whatever the replicate count."""


def _chunk_size(n_jobs: int, replicates: int) -> int:
    return int(max(1, min(replicates, _ELEMENTS_PER_CHUNK // max(n_jobs, 1))))


_BYTES_PER_JOB_REPLICATE = 8 * 32
"""Bytes one job of one replicate takes while a chunk runs: about 32 float64/int64 arrays of
shape ``(replicates, jobs)`` (the draws, the plan, the schedule, the accounting) at once."""

MEMORY_LIMIT_BYTES = 2 * 2**30
"""Refused above this estimate for one chunk (a chunk is never smaller than one replicate)."""

MAX_SCHEDULE_STEPS = 20_000_000
"""Refused above this many steps of the scheduling loop (one per job per chunk, each a numpy
operation over the chunk's replicates): minutes of work at most, never an apparent hang."""


def _jobs_per_replicate(campaign: ResolvedCampaign) -> int:
    """Jobs of one replicate of the whole campaign (every instance of every study)."""
    rng = as_generator(0)
    return sum(s.count * s.strategy.plan(1, rng=rng).n_jobs for s in campaign.studies)


def _check_work(n_jobs: int, replicates_per_chunk: int, n_chunks: int) -> None:
    """Refuse a run that does not fit memory or time, with the estimate, before building it."""
    _check_memory(n_jobs, replicates_per_chunk)
    steps = n_jobs * n_chunks
    if steps > MAX_SCHEDULE_STEPS:
        raise ConfigError(
            f"{n_jobs:,} jobs per replicate in {n_chunks:,} chunk(s) of {replicates_per_chunk:,} "
            f"replicates is {steps:,} scheduling steps, above the {MAX_SCHEDULE_STEPS:,} that "
            "run in minutes; fewer replicates (--replicates) or fewer jobs (count × trials)"
        )


def _check_memory(n_jobs: int, replicates_per_chunk: int) -> None:
    need = n_jobs * replicates_per_chunk * _BYTES_PER_JOB_REPLICATE
    if need > MEMORY_LIMIT_BYTES:
        raise ConfigError(
            f"one chunk of {replicates_per_chunk:,} replicate(s) × {n_jobs:,} jobs needs about "
            f"{need / 2**30:,.1f} GiB, above the {MEMORY_LIMIT_BYTES / 2**30:g} GiB limit; "
            "fewer jobs (count × trials)"
            + (" or a smaller chunk_size (--chunk-size)" if replicates_per_chunk > 1 else "")
        )


def run_vectorized(
    config: CampaignConfig,
    *,
    replicates: int,
    root: np.random.SeedSequence,
    chunk_size: int | None = None,
    ledger: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    backend: str | Backend = "local",
    address: str | None = None,
    keep_replicates: bool | None = None,
) -> CampaignResult:
    """Simulate ``replicates`` runs of ``config`` from the root seed ``root`` (arguments as
    :func:`tunecost.simulate.simulate`'s)."""
    n_reps = replicates
    campaign = resolve(config)

    # Strategies fix their job count per study: count one plan of each study (each is
    # bounded by MAX_JOBS_PER_STUDY) before anything the size of the campaign is built.
    n_jobs = _jobs_per_replicate(campaign)
    size = chunk_size if chunk_size is not None else _chunk_size(n_jobs, n_reps)
    if size < 1:
        raise ConfigError(f"`chunk_size >= 1` must hold, but got chunk_size={size}")
    n_chunks = -(-n_reps // size)
    _check_work(n_jobs, min(size, n_reps), n_chunks)
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
    for part in get_backend(backend, address=address).map_chunks(run_chunk, campaign, tasks):
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
