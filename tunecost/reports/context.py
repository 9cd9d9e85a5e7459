"""What every report section reads and writes: the inputs, the simulation, the collectors.

One :class:`ReportContext` is built per report and handed to each section in turn. Sections
read the inputs and the campaign's simulation, write their plots into :attr:`out`, add their
tables (one CSV each) and JSON entries, and leave what later sections need in
:attr:`~ReportContext.findings`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunecost.calibrate import TrialRecord
from tunecost.reports.breakdown import Breakdown
from tunecost.reports.campaign import CampaignRun
from tunecost.reports.expected_max import ExpectedBest
from tunecost.reports.importance import ImportanceResult, SeedVariance
from tunecost.reports.inputs import ReportInputs
from tunecost.reports.sensitivity import SobolResult, TornadoResult

__all__ = ["Findings", "Progress", "ReportContext", "Settings"]

Progress = Callable[[str, int, int], None]
"""``progress(step, done, total)``: called as long steps advance."""


@dataclass(frozen=True, slots=True)
class Settings:
    """How much work the analyses do (the knobs of :func:`~tunecost.reports.build_report`).

    Attributes:
        sensitivity_replicates: replicates per tornado evaluation.
        sobol_n: SALib's base sample size N (a power of 2; N × 9 evaluations).
        sobol_replicates: replicates per Sobol evaluation.
        ranges: ``{assumption: (low, high)}`` overriding the default ranges.
        n_boot: bootstrap resamples for the expected-best bands.
    """

    sensitivity_replicates: int = 64
    sobol_n: int = 256
    sobol_replicates: int = 2
    ranges: Mapping[str, tuple[float, float]] | None = None
    n_boot: int = 1000


@dataclass(slots=True)
class Findings:
    """What sections computed that other sections read (``None``: not computed)."""

    importance: ImportanceResult | None = None
    seed_variance: SeedVariance | None = None
    expected_best: ExpectedBest | None = None
    breakdown: Breakdown | None = None
    tornado: TornadoResult | None = None
    sobol: SobolResult | None = None
    closing: str | None = None
    """The closing note's text (the top three assumptions by swing)."""


def _no_progress(step: str, done: int, total: int) -> None:
    """The default progress: nothing is shown."""


@dataclass(slots=True)
class ReportContext:
    """The shared state of one report being built.

    Attributes:
        out: the folder the sections write their PNGs into (the staging folder).
        inputs: the report's inputs, read and checked.
        run: the campaign's simulation (``None`` without a campaign).
        settings: how much work the analyses do.
        tick: ``tick(step, done, total)`` as long steps advance.
        tables: ``{name: rows}``, one ``name.csv`` each, and ``report.json``'s ``tables``.
        pngs: every plot written, in report order.
        data: the JSON report being assembled (sections add their entries).
        findings: what sections computed for later ones.
    """

    out: Path
    inputs: ReportInputs
    run: CampaignRun | None = None
    settings: Settings = field(default_factory=Settings)
    tick: Progress = _no_progress
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    pngs: list[Path] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    findings: Findings = field(default_factory=Findings)

    @property
    def hours_unit(self) -> str:
        """``GPU-hours`` or ``CPU-hours`` (CPU-only hardware; ``GPU-hours`` without a
        campaign)."""
        return self.run.hours_unit if self.run is not None else "GPU-hours"

    @property
    def complete(self) -> list[TrialRecord]:
        """The measured trials that completed."""
        return [r for r in self.inputs.records if r.state == "COMPLETE"]
