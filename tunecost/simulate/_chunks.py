"""One chunk of replicates, from its own seed to mergeable partial results.

:func:`run_chunk` is what a backend runs: it depends only on the resolved campaign and its
:class:`ChunkTask`, so any process (or machine) gives the same result for the same task.
:class:`Merged` folds the partial results together, in chunk order.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunecost._rng import as_generator
from tunecost.simulate._draw import Jobs, draw_chunk
from tunecost.simulate._list_scheduler import Schedule, schedule, schedule_usage, usage
from tunecost.simulate._resolve import ResolvedCampaign
from tunecost.simulate._totals import METRICS, STUDY_METRICS, totals
from tunecost.summary import StreamingSummary


@dataclass(frozen=True, slots=True)
class ChunkTask:
    """One chunk: ``replicates`` drawn from ``seed``.

    Attributes:
        keep: return per-replicate arrays (else streaming summaries).
        ledger: also return replicate 0's jobs, schedule and per-job costs.
    """

    index: int
    replicates: int
    seed: np.random.SeedSequence
    keep: bool
    ledger: bool = False


@dataclass(slots=True)
class ChunkPartial:
    """A chunk's results: arrays ``(m,)`` / ``(S, m)`` when kept, else summaries of them.

    ``values`` maps each campaign metric and ``tuning_multiplier`` to an ``(m,)`` array or a
    :class:`StreamingSummary`; ``studies`` maps each study metric to an ``(S, m)`` array or
    a list of ``S`` summaries. ``ledger`` is ``(jobs, schedule)`` of replicate 0.
    """

    values: dict[str, Any]
    studies: dict[str, Any]
    ledger: tuple[Jobs, Schedule] | None = None


def _first_replicate(obj: Any) -> Any:
    """``obj`` (Jobs or Schedule) with per-replicate arrays cut to replicate 0 (copies: a
    view would keep the chunk's arrays alive)."""
    per_rep = (lambda v: v.ndim == 2) if isinstance(obj, Jobs) else (lambda v: True)
    if isinstance(obj, Schedule):
        obj = dataclasses.replace(obj, sums=None, unused_h=None)
    return dataclasses.replace(
        obj,
        **{
            f.name: getattr(obj, f.name)[:1].copy()
            for f in dataclasses.fields(obj)
            if isinstance(getattr(obj, f.name), np.ndarray) and per_rep(getattr(obj, f.name))
        },
    )


def run_chunk(campaign: ResolvedCampaign, task: ChunkTask) -> ChunkPartial:
    """Simulate one chunk of replicates and return its mergeable results.

    The draw keeps the per-replicate job fields of the replicates the ledger writes (the
    first) only, and the kernel records their schedule only; an hourly carbon series needs
    every job's interval, so there every replicate's schedule is kept. The sums are the same
    bits either way.
    """
    cfg = campaign.config
    sequential = cfg.schedule == "sequential"
    rng = as_generator(task.seed)
    if campaign.series is not None:
        jobs = draw_chunk(campaign, task.replicates, rng=rng).jobs
        sched = schedule(jobs, cfg.workers, sequential=sequential)
        use = usage(campaign, jobs, sched)
    else:
        draw = draw_chunk(campaign, task.replicates, rng=rng, rows=1 if task.ledger else 0)
        jobs = draw.jobs
        use, sched = schedule_usage(draw, cfg.workers, sequential=sequential,
                                    record=1 if task.ledger else 0)
    chunk = totals(campaign, use)
    values = {k: chunk.campaign[k] for k in METRICS}
    ref_kwh = campaign.reference_energy_kwh
    # A reference run that draws no power (a CPU-only study at 0 W) has no multiplier: NaN,
    # which the summary reports as null, not inf.
    values["tuning_multiplier"] = (
        chunk.campaign["energy_kwh"] / ref_kwh
        if ref_kwh > 0
        else np.full_like(chunk.campaign["energy_kwh"], np.nan)
    )
    studies = {k: chunk.studies[k] for k in STUDY_METRICS}
    ledger = None
    if task.ledger:
        ledger = (_first_replicate(jobs), _first_replicate(sched))
    if task.keep:
        return ChunkPartial(values, studies, ledger)
    return ChunkPartial(
        {k: StreamingSummary.of(v) for k, v in values.items()},
        {k: [StreamingSummary.of(row) for row in v] for k, v in studies.items()},
        ledger,
    )


class Merged:
    """Partial results folded together in chunk order: arrays concatenated, or summaries
    merged (memory independent of the replicate count)."""

    def __init__(self, *, keep: bool) -> None:
        self.keep = keep
        self._values: dict[str, Any] = {}
        self._studies: dict[str, Any] = {}

    def add(self, part: ChunkPartial) -> None:
        if self.keep:
            for k, v in part.values.items():
                self._values.setdefault(k, []).append(v)
            for k, v in part.studies.items():
                self._studies.setdefault(k, []).append(v)
            return
        for k, s in part.values.items():
            if k in self._values:
                self._values[k].merge(s)
            else:
                self._values[k] = s
        for k, ss in part.studies.items():
            if k in self._studies:
                for acc, s in zip(self._studies[k], ss, strict=True):
                    acc.merge(s)
            else:
                self._studies[k] = ss

    def values(self) -> dict[str, Any]:
        """Metric → ``(n_reps,)`` array (kept) or :class:`StreamingSummary`."""
        if self.keep:
            return {k: np.concatenate(v) for k, v in self._values.items()}
        return dict(self._values)

    def studies(self) -> list[dict[str, Any]]:
        """Per study: metric → ``(n_reps,)`` array (kept) or :class:`StreamingSummary`."""
        if self.keep:
            arrays = {k: np.concatenate(v, axis=1) for k, v in self._studies.items()}
            n = next(iter(arrays.values())).shape[0] if arrays else 0
            return [{k: a[i] for k, a in arrays.items()} for i in range(n)]
        n = len(next(iter(self._studies.values()))) if self._studies else 0
        return [{k: ss[i] for k, ss in self._studies.items()} for i in range(n)]
