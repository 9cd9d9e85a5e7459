"""What a simulation returns: every replicate's totals, their summary JSON, and the checks
every engine's result passes before it is returned."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tunecost.exceptions import ConfigError
from tunecost.simulate._resolve import ResolvedCampaign
from tunecost.simulate.start_time import PowerProfile, StartChoice
from tunecost.summary import RELATIVE_ACCURACY, StreamingSummary, format_figure, summarize

__all__ = ["KEEP_REPLICATES_MAX", "SCHEMA_VERSION", "CampaignResult", "StudyResult",
           "assumptions", "finite_totals"]

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
        start_time: the carbon-aware start within a window (``simulate(...,
            start_window_h=...)``), of :meth:`power_profile`; ``None`` when not asked.
    """

    name: str
    replicates: int
    seed: int | list[int]
    chunk_size: int
    metrics: dict[str, np.ndarray]
    tuning_multiplier: np.ndarray
    reference_energy_kwh: float
    reference_how: str
    studies: list[StudyResult]
    assumptions: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, StreamingSummary] | None = None
    engine: str = "vectorized"
    start_time: StartChoice | None = None

    def power_profile(self) -> PowerProfile:
        """The campaign's power schedule as one constant block: the P50 wall clock at the
        P50 energy's mean IT power (P50 energy / PUE / P50 wall clock), from the start.

        A flat block, not replicate 0's schedule: the start time then answers for a typical
        replicate rather than for one draw, and holds for either engine (the replay's
        timeline and the ledger keep one replicate only). Its CO2e at offset 0 is therefore
        the P50 energy at the series' mean intensity over the P50 wall clock, close to but
        not the simulated P50 CO2e, which charges each job the hours it ran.

        Raises:
            ConfigError: the campaign's energy or wall clock has no summary (no replicates).
        """
        metrics = self.summary()["metrics"]
        energy, wall = metrics.get("energy_kwh"), metrics.get("wall_clock_h")
        if energy is None or wall is None:
            raise ConfigError("the campaign has no energy or wall clock to build a power "
                              "profile from")
        pue = float(self.assumptions.get("pue", 1.0))
        energy_kwh, wall_h = energy["p50"], wall["p50"]
        it_kw = energy_kwh / pue / wall_h if wall_h > 0 else 0.0
        how = (f"P50 energy over P50 wall clock, {format_figure(energy_kwh)} kWh / "
               f"{format_figure(wall_h)} h = {format_figure(it_kw)} kW IT × PUE {pue:g}")
        return PowerProfile.block(duration_h=wall_h, power_kw=it_kw, pue=pue, how=how)

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
            # The root SeedSequence's entropy: SeedSequence(seed_entropy) reproduces the run.
            "seed_entropy": self.seed,
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
            **({} if self.start_time is None else {"start_time": self.start_time.to_dict()}),
        }


def assumptions(campaign: ResolvedCampaign) -> dict[str, Any]:
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


def finite_totals(fn: Callable[..., CampaignResult]) -> Callable[..., CampaignResult]:
    """Run ``fn`` with numpy's overflow warnings off and its totals :func:`_checked`: an
    overflow in a product of large finite inputs is reported once, as one error line, not
    beside RuntimeWarnings."""

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> CampaignResult:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return _checked(fn(*args, **kwargs))

    return wrapped


def _all_fine(result: CampaignResult) -> bool:
    """Whether every kept metric's summary is finite and >= 0 throughout, or absent (all
    NaN). Finite values >= 0 have finite percentiles >= 0, so only the mean and the standard
    deviation (which a sum can overflow) need computing: all metrics at once, no sorting."""
    arrays = list(result.metrics.values()) + [
        v for s in result.studies for v in s.metrics.values()]
    if not arrays:
        return True
    values = np.stack([np.asarray(v, dtype=np.float64) for v in arrays])
    if values.shape[1] == 0:
        return True
    finite = np.isfinite(values).all(axis=1)
    if not finite.all():  # fine only where the whole metric is NaN (nothing to report)
        if not np.isnan(values[~finite]).all():
            return False
        values = values[finite]
        if values.size == 0:
            return True
    if values.min() < 0:
        return False
    with np.errstate(over="ignore", invalid="ignore"):
        spread = values.std(axis=1, ddof=1) if values.shape[1] > 1 else np.zeros(1)
        return bool(np.isfinite(values.mean(axis=1)).all() and np.isfinite(spread).all())


def _checked(result: CampaignResult) -> CampaignResult:
    """``result`` if every total is finite and >= 0; else one error naming the metric.

    Inputs are finite and bounded at the boundary; this is the net under products of large
    finite inputs (1e308 W × hours) that still overflow float64.
    """
    if result.stats is None and _all_fine(result):
        return result  # every summary figure is finite and >= 0 (below), without sorting
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
