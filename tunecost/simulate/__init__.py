"""Campaign simulation: the distribution of a campaign's trials, hours, energy, CO2e and cost.

:func:`simulate` draws ``replicates`` independent runs of the whole campaign on the
vectorised path (:mod:`tunecost.simulate._vectorized`), in chunks so memory stays bounded,
and returns a :class:`CampaignResult` holding every replicate's totals.

Example:
    >>> from tunecost.config import CampaignConfig
    >>> cfg = CampaignConfig.model_validate({
    ...     "name": "demo", "workers": 2, "pue": 1.5, "carbon": {"g_co2e_per_kwh": 400},
    ...     "studies": [{"name": "grid", "strategy": {"kind": "grid", "n_configs": 5},
    ...                  "duration": {"dist": "fixed", "duration_h": 3},
    ...                  "hardware": {"accelerator": "v100-sxm2"},
    ...                  "power": {"kind": "constant", "accelerator_w": 200}}]})
    >>> result = simulate(cfg, replicates=10, seed=1)
    >>> float(result.metrics["wall_clock_h"][0])   # ceil(5 / 2) × 3 h
    9.0
    >>> round(float(result.metrics["energy_kwh"][0]), 3)   # 5 × 3 h × 200 W × 1.5
    4.5
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tunecost.config import CampaignConfig
from tunecost.exceptions import ConfigError
from tunecost.simulate._resolve import ResolvedCampaign, resolve
from tunecost.simulate._vectorized import METRICS, STATE_NAMES, account, build_jobs, schedule
from tunecost.summary import summarize

__all__ = ["CampaignResult", "StudyResult", "simulate"]

_ELEMENTS_PER_CHUNK = 2_000_000
"""Target size of one ``(n_reps, n_jobs)`` array; about 16 MB, so a chunk's dozen arrays stay
in the low hundreds of MB whatever the replicate count."""

LEDGER_COLUMNS = (
    "study",
    "instance",
    "trial",
    "config",
    "fidelity",
    "state",
    "start_h",
    "duration_h",
    "wait_h",
    "worker",
    "accelerator",
    "gpus",
    "preemptions",
    "energy_kwh",
    "co2e_kg",
    "cost_usd",
)


@dataclass(frozen=True, slots=True)
class StudyResult:
    """Per-replicate totals of one study (all its instances), each ``(n_reps,)``."""

    name: str
    count: int
    metrics: dict[str, np.ndarray]


@dataclass(frozen=True, slots=True)
class CampaignResult:
    """Every replicate's totals, and what they were computed from.

    Attributes:
        metrics: metric name → ``(n_reps,)`` array (``n_trials``, ``gpu_hours``,
            ``wall_clock_h``, ``energy_kwh``, ``co2e_kg``, ``cost_usd``, ``electricity_usd``,
            ``waiting_energy_kwh``); dollars are NaN when the campaign has no prices.
        tuning_multiplier: campaign energy / energy of one final run, ``(n_reps,)``.
    """

    name: str
    replicates: int
    seed: int
    chunk_size: int
    metrics: dict[str, np.ndarray]
    tuning_multiplier: np.ndarray
    reference_energy_kwh: float
    reference_how: str
    studies: list[StudyResult]
    assumptions: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The JSON report: summaries (mean, std, p5, p50, p95) of every metric."""
        tm = summarize(self.tuning_multiplier) or {}
        return {
            "name": self.name,
            "engine": "vectorized",
            "replicates": self.replicates,
            "seed": self.seed,
            "chunk_size": self.chunk_size,
            "metrics": {k: summarize(v) for k, v in self.metrics.items()},
            "tuning_multiplier": {k: tm[k] for k in ("mean", "p5", "p50", "p95")} if tm else None,
            "reference_run": {"energy_kwh": self.reference_energy_kwh, "how": self.reference_how},
            "studies": [
                {
                    "name": s.name,
                    "count": s.count,
                    "metrics": {k: summarize(v) for k, v in s.metrics.items()},
                }
                for s in self.studies
            ],
            "assumptions": self.assumptions,
        }


def _chunk_size(n_jobs: int, replicates: int) -> int:
    return int(max(1, min(replicates, _ELEMENTS_PER_CHUNK // max(n_jobs, 1))))


def _assumptions(campaign: ResolvedCampaign) -> dict[str, Any]:
    cfg = campaign.config
    return {
        "workers": cfg.workers,
        "schedule": cfg.schedule,
        "reserved": cfg.reserved,
        "pue": campaign.pue,
        "g_co2e_per_kwh": campaign.g_co2e_per_kwh,
        "usd_per_kwh": None if np.isnan(campaign.usd_per_kwh) else campaign.usd_per_kwh,
        "power": {s.name: list(s.power_how) for s in campaign.studies},
        "sources": campaign.sources,
    }


def simulate(
    config: CampaignConfig,
    *,
    replicates: int | None = None,
    seed: int | None = None,
    chunk_size: int | None = None,
    ledger: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> CampaignResult:
    """Simulate ``replicates`` independent runs of a campaign.

    Args:
        config: the campaign.
        replicates: number of Monte Carlo replicates (default: the config's).
        seed: root seed (default: the config's); the same seed gives identical results, in
            any process. Chunks draw from independent streams spawned from it.
        chunk_size: replicates simulated at once (default: sized to bound memory). Results
            depend on it, so it is reported.
        ledger: write replicate 0's per-job rows to this CSV file (atomically).
        progress: called as ``progress(done, total)`` after each chunk.
    """
    n_reps = config.replicates if replicates is None else replicates
    root_seed = config.seed if seed is None else seed
    if n_reps < 1:
        raise ConfigError(f"`replicates >= 1` must hold, but got replicates={n_reps}")
    if root_seed < 0:
        raise ConfigError(f"`seed >= 0` must hold, but got seed={root_seed}")
    campaign = resolve(config)

    # One probe replicate sizes the chunks (strategies fix their job count per study).
    probe = build_jobs(campaign, 1, np.random.default_rng(0))
    size = chunk_size if chunk_size is not None else _chunk_size(probe.duration_h.shape[1], n_reps)
    if size < 1:
        raise ConfigError(f"`chunk_size >= 1` must hold, but got chunk_size={size}")
    n_chunks = -(-n_reps // size)
    streams = np.random.SeedSequence(root_seed).spawn(n_chunks)

    totals: dict[str, list[np.ndarray]] = {k: [] for k in METRICS}
    per_study: dict[str, list[np.ndarray]] = {k: [] for k in METRICS if k != "wall_clock_h"}
    done = 0
    for c, stream in enumerate(streams):
        m = min(size, n_reps - done)
        jobs = build_jobs(campaign, m, np.random.default_rng(stream))
        sched = schedule(jobs, config.workers, sequential=config.schedule == "sequential")
        chunk, per_job = account(campaign, jobs, sched)
        for k in totals:
            totals[k].append(chunk.campaign[k])
        for k in per_study:
            per_study[k].append(chunk.studies[k])
        if c == 0 and ledger is not None:
            _write_ledger(Path(ledger), campaign, jobs, sched, per_job)
        done += m
        if progress is not None:
            progress(done, n_reps)

    metrics = {k: np.concatenate(v) for k, v in totals.items()}
    studies_arr = {k: np.concatenate(v, axis=1) for k, v in per_study.items()}
    studies = [
        StudyResult(s.name, s.count, {k: studies_arr[k][i] for k in studies_arr})
        for i, s in enumerate(campaign.studies)
    ]
    return CampaignResult(
        name=config.name,
        replicates=n_reps,
        seed=root_seed,
        chunk_size=size,
        metrics=metrics,
        tuning_multiplier=metrics["energy_kwh"] / campaign.reference_energy_kwh,
        reference_energy_kwh=campaign.reference_energy_kwh,
        reference_how=campaign.reference_how,
        studies=studies,
        assumptions=_assumptions(campaign),
    )


def _write_ledger(path: Path, campaign: ResolvedCampaign, jobs, sched, per_job) -> None:
    """Write replicate 0's jobs as CSV via a temporary file and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(LEDGER_COLUMNS)
            for j in range(jobs.duration_h.shape[1]):
                if jobs.state[0, j] == 3:  # skipped after its trial crashed: never ran
                    continue
                study = campaign.studies[jobs.study[j]]
                w.writerow(
                    [
                        study.name,
                        int(jobs.instance[j]),
                        int(jobs.trial[j]),
                        jobs.config[j],
                        f"{jobs.reached[0, j]:.6g}",
                        STATE_NAMES[jobs.state[0, j]],
                        f"{sched.start_h[0, j]:.6f}",
                        f"{jobs.duration_h[0, j]:.6f}",
                        f"{sched.wait_h[0, j]:.6f}",
                        int(sched.worker[0, j]),
                        study.accelerators[jobs.accelerator[0, j]],
                        int(jobs.gpus[j]),
                        int(jobs.preemptions[0, j]),
                        f"{per_job['energy_kwh'][0, j]:.6g}",
                        f"{per_job['co2e_kg'][0, j]:.6g}",
                        ""
                        if np.isnan(per_job["cost_usd"][0, j])
                        else f"{per_job['cost_usd'][0, j]:.6g}",
                    ]
                )
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
