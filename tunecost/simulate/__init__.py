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
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from tunecost._atomic import atomic_open, check_writable
from tunecost.config import CampaignConfig
from tunecost.exceptions import ConfigError
from tunecost.simulate._backends import (
    BACKENDS,
    Backend,
    LocalBackend,
    RayBackend,
    get_backend,
    ray_connect,
)
from tunecost.simulate._chunks import ChunkTask, Merged, run_chunk
from tunecost.simulate._resolve import ResolvedCampaign, replicates_and_seed, resolve
from tunecost.simulate._vectorized import SKIPPED, STATE_NAMES
from tunecost.summary import RELATIVE_ACCURACY, StreamingSummary, summarize

__all__ = [
    "BACKENDS",
    "KEEP_REPLICATES_MAX",
    "SCHEMA_VERSION",
    "Backend",
    "CampaignResult",
    "LocalBackend",
    "RayBackend",
    "StudyResult",
    "get_backend",
    "ray_connect",
    "simulate",
]

SCHEMA_VERSION = 1
"""Version of the JSON the tool writes (summaries, the CLI's ``--json``, ``report.json``: their
top-level ``schema_version``); raised when a
key is renamed or removed, not when one is added."""

KEEP_REPLICATES_MAX = 200_000
"""Above this many replicates, :func:`simulate` keeps streaming summaries instead of
per-replicate arrays unless asked (``keep_replicates=True``)."""

QUANTILE_METHOD_STREAMED = f"log-histogram (relative error <= {RELATIVE_ACCURACY:.1%})"


class _NotKept(dict):
    """The empty ``metrics`` of a streamed result: looking a metric up says why it is absent."""

    def __missing__(self, key: str) -> Any:
        raise ConfigError(
            f"per-replicate arrays of {key!r} were not kept (keep_replicates=False, the default "
            f"above {KEEP_REPLICATES_MAX:,} replicates); pass keep_replicates=True, or read "
            "summary()"
        )


def _summarize(values: np.ndarray | StreamingSummary) -> dict[str, float] | None:
    if isinstance(values, StreamingSummary):
        return values.summary()
    return summarize(values)


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
    """Per-replicate totals of one study (all its instances), each ``(n_reps,)``.

    ``stats`` holds streaming summaries instead when the arrays were not kept.
    """

    name: str
    count: int
    metrics: dict[str, np.ndarray]
    stats: dict[str, StreamingSummary] | None = None


@dataclass(frozen=True, slots=True)
class CampaignResult:
    """Every replicate's totals, and what they were computed from.

    Attributes:
        metrics: metric name → ``(n_reps,)`` array (``n_trials``, ``gpu_hours``,
            ``wall_clock_h``, ``energy_kwh``, ``co2e_kg``, ``cost_usd``, ``electricity_usd``,
            ``waiting_energy_kwh``); dollars are NaN when the campaign has no prices.
        tuning_multiplier: campaign energy / energy of one final run, ``(n_reps,)``.
        stats: when the per-replicate arrays were not kept (see ``keep_replicates`` in
            :func:`simulate`), a :class:`~tunecost.summary.StreamingSummary` per metric and
            for ``tuning_multiplier``; ``metrics`` is then empty and ``tuning_multiplier``
            has no elements.
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
    stats: dict[str, StreamingSummary] | None = None
    engine: str = "vectorized"

    def summary(self) -> dict[str, Any]:
        """The JSON report: summaries (mean, std, p5, p50, p95) of every metric.

        ``quantile_method`` says whether the percentiles are exact (``numpy.percentile`` of
        the kept arrays) or from streaming log-histograms, within 0.1 % relative error.
        """
        if self.stats is not None:
            tm = _summarize(self.stats["tuning_multiplier"]) or {}
            metrics = {k: _summarize(v) for k, v in self.stats.items() if k != "tuning_multiplier"}
        else:
            tm = summarize(self.tuning_multiplier) or {}
            metrics = {k: summarize(v) for k, v in self.metrics.items()}
        if not self.reference_energy_kwh > 0:  # no multiplier of a run that draws no power
            tm = {}
        by_study = self.assumptions.get("hours_unit_by_study", {})
        return {
            "schema_version": SCHEMA_VERSION,
            "name": self.name,
            "hours_unit": self.assumptions.get("hours_unit", "GPU-hours"),
            "engine": self.engine,
            "replicates": self.replicates,
            "seed": self.seed,
            "chunk_size": self.chunk_size,
            "quantile_method": "exact" if self.stats is None else QUANTILE_METHOD_STREAMED,
            "metrics": metrics,
            "tuning_multiplier": {k: tm[k] for k in ("mean", "p5", "p50", "p95")} if tm else None,
            "reference_run": {"energy_kwh": self.reference_energy_kwh, "how": self.reference_how},
            "studies": [
                {
                    "name": s.name,
                    "count": s.count,
                    "hours_unit": by_study.get(s.name, "GPU-hours"),
                    "metrics": {k: _summarize(v) for k, v in (s.stats or s.metrics).items()},
                }
                for s in self.studies
            ],
            "assumptions": self.assumptions,
        }


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
    rng = np.random.default_rng(0)
    return sum(s.count * s.strategy.plan(1, rng=rng).n_jobs for s in campaign.studies)


MAX_REPLAY_TRIALS = 1_000_000
"""Most trials (over all replicates) one replay may run: each is a real sampler's ask and tell
(milliseconds, more as a study grows), so a million is already an hour or more."""

MAX_RESERVED_REPLAY_WORKERS = 1_000_000
"""Most slots of a reserved pool the replay keeps state for (an unreserved pool is cut to the
trials it can run at once, which gives the same result)."""


def _replay_sized(config: CampaignConfig, replicates: int | None) -> CampaignConfig:
    """``config`` for the replay, its size checked first: refused above
    :data:`MAX_REPLAY_TRIALS`, and an unreserved pool cut to its trial count."""
    n_reps, _ = replicates_and_seed(config, replicates, None)
    trials = sum(s.count * int(getattr(s.strategy, "n_trials", 1)) for s in config.studies)
    if trials * n_reps > MAX_REPLAY_TRIALS:
        raise ConfigError(
            f"the replay runs every trial of every replicate through the real search "
            f"algorithm: {trials:,} trials × {n_reps:,} replicates = {trials * n_reps:,}, above "
            f"{MAX_REPLAY_TRIALS:,}; fewer replicates (--replicates) or trials, or "
            "--engine vectorized"
        )
    if config.workers > trials:
        if not config.reserved:  # slots beyond the trials never run one: same result
            return config.model_copy(update={"workers": max(trials, 1)})
        if config.workers > MAX_RESERVED_REPLAY_WORKERS:
            raise ConfigError(
                f"`workers <= {MAX_RESERVED_REPLAY_WORKERS:,}` must hold for a reserved pool "
                f"in the replay engine, but got workers={config.workers:,}"
            )
    return config


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
        "warnings": list(campaign.warnings),
        "hours_unit": _hours_unit(campaign),
        "hours_unit_by_study": {s.name: s.hours_unit for s in campaign.studies},
    }


def _hours_unit(campaign: ResolvedCampaign) -> str:
    """The campaign's ``gpu_hours`` unit: the studies' one (CPU-hours when every study is
    CPU-only), ``device-hours`` where GPU and CPU-only studies are added together."""
    units = {s.hours_unit for s in campaign.studies}
    return units.pop() if len(units) == 1 else "device-hours"


def _finite_totals(fn: Callable[..., CampaignResult]) -> Callable[..., CampaignResult]:
    """Run ``fn`` with numpy's overflow warnings off and its totals :func:`_checked`: an
    overflow in a product of large finite inputs is reported once, as one error line, not
    beside RuntimeWarnings."""

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> CampaignResult:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return _checked(fn(*args, **kwargs))

    return wrapped


@_finite_totals
def simulate(
    config: CampaignConfig,
    *,
    replicates: int | None = None,
    seed: int | None = None,
    chunk_size: int | None = None,
    ledger: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    backend: str | Backend = "local",
    address: str | None = None,
    keep_replicates: bool | None = None,
    engine: Literal["auto", "vectorized", "replay"] = "auto",
    timeline: str | Path | None = None,
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
        backend: where chunks run: ``"local"`` (this process), ``"ray"`` (one Ray task per
            chunk), or a :class:`Backend`. The result is identical, bit for bit, on every
            backend for the same seed and chunk size.
        address: Ray cluster to connect to when Ray is not yet initialised (``"auto"``,
            ``"HOST:PORT"``, ``"ray://HOST:10001"``); ``None`` starts a local one.
        keep_replicates: keep every replicate's totals in ``metrics`` (default: only up to
            :data:`KEEP_REPLICATES_MAX` replicates). Otherwise ``stats`` holds streaming
            summaries, memory does not grow with ``replicates``, and the summary's
            percentiles are within 0.1 % relative error (``quantile_method`` says which).
        engine: ``"vectorized"`` (i.i.d. trials, this module), ``"replay"`` (the
            event-driven replay of :mod:`tunecost.replay`: real samplers, pruners and
            schedulers on a simulated clock; a loop over replicates, local only), or
            ``"auto"``: the replay when a study's strategy is ``optuna`` or ``ray_tune``.
        timeline: replay only: write replicate 0's per-worker timeline CSV and Gantt PNG.
    """
    # Checked before any work: a ledger path that is a folder must not fail after the run.
    if ledger is not None:
        check_writable(ledger, what="ledger")
    if timeline is not None:
        check_writable(timeline, what="timeline")
    if engine not in ("auto", "vectorized", "replay"):
        raise ConfigError(
            f"engine must be one of 'auto', 'vectorized', 'replay', but got {engine!r}"
        )
    from tunecost.replay import needs_replay

    if engine == "replay" or (engine == "auto" and needs_replay(config)):
        from tunecost.replay import replay

        if backend != "local" or chunk_size is not None or keep_replicates is False:
            raise ConfigError(
                "the replay engine runs its replicates one by one in this process and keeps "
                f"them all: backend='local' and no chunk_size, but got backend={backend!r}, "
                f"chunk_size={chunk_size!r}, keep_replicates={keep_replicates!r}"
            )
        sized = _replay_sized(config, replicates)
        result = replay(sized, replicates=replicates, seed=seed, ledger=ledger,
                        timeline=timeline, progress=progress)
        result.assumptions["workers"] = config.workers  # as given, not as cut
        return result
    if timeline is not None:
        raise ConfigError("a worker timeline comes from the replay engine: pass "
                          "engine='replay' (tunecost simulate --engine replay)")
    n_reps, root_seed = replicates_and_seed(config, replicates, seed)
    campaign = resolve(config)

    # Strategies fix their job count per study: count one plan of each study (each is
    # bounded by MAX_JOBS_PER_STUDY) before anything the size of the campaign is built.
    n_jobs = _jobs_per_replicate(campaign)
    size = chunk_size if chunk_size is not None else _chunk_size(n_jobs, n_reps)
    if size < 1:
        raise ConfigError(f"`chunk_size >= 1` must hold, but got chunk_size={size}")
    n_chunks = -(-n_reps // size)
    _check_work(n_jobs, min(size, n_reps), n_chunks)
    root = np.random.SeedSequence(root_seed)
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
        seed=root_seed,
        chunk_size=size,
        metrics=values if keep else _NotKept(),
        tuning_multiplier=tm if keep else np.empty(0),
        reference_energy_kwh=campaign.reference_energy_kwh,
        reference_how=campaign.reference_how,
        studies=studies,
        stats=None if keep else {**values, "tuning_multiplier": tm},
        assumptions=_assumptions(campaign),
    )


def _checked(result: CampaignResult) -> CampaignResult:
    """``result`` if every total is finite and >= 0; else one error naming the metric.

    Inputs are finite and bounded at the boundary; this is the net under products of large
    finite inputs (1e308 W × hours) that still overflow float64.
    """
    summary = result.summary()
    scopes = [("campaign", summary["metrics"])] + [
        (f"study {s['name']!r}", s["metrics"]) for s in summary["studies"]
    ]
    for scope, metrics in scopes:
        for key, stats in metrics.items():
            bad = [(q, v) for q, v in (stats or {}).items() if not (math.isfinite(v) and v >= 0)]
            if bad:
                raise ConfigError(
                    f"the {scope} total {key} is not a finite number >= 0 ({bad[0][0]}="
                    f"{bad[0][1]}): an input is too large for float64 arithmetic; "
                    "check the power, price, carbon, duration and restart figures"
                )
    return result


def _write_ledger(path: Path, campaign: ResolvedCampaign, jobs, sched, per_job) -> None:
    """Write replicate 0's jobs as CSV via a temporary file and an atomic rename."""
    with atomic_open(path, newline="") as fh:
        w = csv.writer(fh)
        w.writerow(LEDGER_COLUMNS)
        for j in range(jobs.duration_h.shape[1]):
            if jobs.state[0, j] == SKIPPED:  # its trial crashed earlier: it never ran
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
