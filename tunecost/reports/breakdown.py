"""Where costs explode: one run → one tune → the whole campaign (Strubell et al. 2019, Table 4).

The rows are the reference run (the "one final run" the tuning multiplier divides by), one
instance of each study (one tune; per-replicate study totals divided by the study's count)
and the whole campaign, each in GPU-hours, kWh, kgCO2e and dollars, with its multiple of the
reference run's energy. The tuning multiplier's distribution over replicates comes with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunecost import accounting
from tunecost.simulate import CampaignResult
from tunecost.simulate.pipeline import ResolvedCampaign, expected_trial
from tunecost.summary import format_figure, summarize

__all__ = ["Breakdown", "breakdown"]

COLUMNS = ("gpu_hours", "energy_kwh", "co2e_kg", "cost_usd", "electricity_usd")


@dataclass(frozen=True, slots=True)
class Breakdown:
    """The Table-4-shaped breakdown.

    Attributes:
        rows: ``{"level", "name", "count", <column>: P50, <column>_p5, <column>_p95,
            "x_reference"}`` from the single run to the whole campaign.
        tuning_multiplier: summary (mean, std, p5, p50, p95) of campaign energy / one run;
            ``None`` where the reference run draws no energy.
        histogram: ``(edges, counts)`` of the tuning multiplier over replicates.
        reference_how: how the reference run was sized.
    """

    rows: list[dict[str, Any]]
    tuning_multiplier: dict[str, float] | None
    histogram: tuple[list[float], list[int]]
    reference_how: str
    replicates: int

    def explosion(self, hours_unit: str = "GPU-hours") -> str:
        """One line: how many times one run the campaign costs.

        Args:
            hours_unit: what ``gpu_hours`` counts, ``"GPU-hours"`` or ``"CPU-hours"``.
        """
        tm = self.tuning_multiplier
        one = self.rows[0]
        if tm is None:
            return (f"Tuning multiplier: not defined, the reference run draws no energy "
                    f"({self.reference_how}); one run is {_sig(one['gpu_hours'])} "
                    f"{hours_unit}.")
        return (
            f"Tuning multiplier: the whole campaign costs {_sig(tm['p50'])}× the energy of "
            f"one run (P5–P95 {_sig(tm['p5'])}–{_sig(tm['p95'])}×); one run is "
            f"{_sig(one['gpu_hours'])} {hours_unit}, {_sig(one['energy_kwh'])} kWh "
            f"({self.reference_how})."
        )


_sig = format_figure


def _row(level: str, name: str, count: int, values: dict[str, np.ndarray], ref_kwh: float):
    row: dict[str, Any] = {"level": level, "name": name, "count": count}
    for c in COLUMNS:
        s = summarize(values[c])
        row[c] = None if s is None else s["p50"]
        row[f"{c}_p5"] = None if s is None else s["p5"]
        row[f"{c}_p95"] = None if s is None else s["p95"]
    row["x_reference"] = row["energy_kwh"] / ref_kwh if ref_kwh > 0 else math.nan
    return row


def breakdown(result: CampaignResult, campaign: ResolvedCampaign, *, bins: int = 40) -> Breakdown:
    """Single run → one tune of each study → whole campaign, from a simulation.

    Args:
        result: the simulation of ``campaign``.
        campaign: the resolved campaign (for the reference run's hours and prices).
        bins: histogram bins of the tuning multiplier.
    """
    cfg = campaign.config
    ref_name = cfg.reference_run.study or cfg.studies[0].name
    ref = next(s for s in campaign.studies if s.name == ref_name)
    mean_h, _ = expected_trial(ref)
    ref_h = cfg.reference_run.duration_h or mean_h
    ref_kwh = result.reference_energy_kwh
    one = {
        "gpu_hours": np.array([ref_h * ref.gpus]),
        "energy_kwh": np.array([ref_kwh]),
        "co2e_kg": np.array([accounting.co2e_kg(ref_kwh, campaign.g_co2e_per_kwh)]),
        "cost_usd": np.array([ref_h * ref.gpus * ref.usd_per_accelerator_hour]),
        "electricity_usd": np.array([ref_kwh * campaign.usd_per_kwh]),
    }
    rows = [_row("one run", ref_name, 1, one, ref_kwh)]
    for s in result.studies:
        per = {c: s.metrics[c] / s.count for c in COLUMNS}
        rows.append(_row("one tune", s.name, s.count, per, ref_kwh))
    rows.append(_row("whole campaign", result.name, 1, result.metrics, ref_kwh))
    tm = np.asarray(result.tuning_multiplier, dtype=float)
    if tm.size and np.all(np.isfinite(tm)):
        counts, edges = np.histogram(tm, bins=bins)
        summary = summarize(tm)
    else:  # the reference run draws no energy (a CPU-only study at 0 W): no multiplier
        counts, edges, summary = np.zeros(0, dtype=int), np.zeros(0), None
    return Breakdown(
        rows,
        summary,
        ([float(e) for e in edges], [int(c) for c in counts]),
        result.reference_how,
        result.replicates,
    )
