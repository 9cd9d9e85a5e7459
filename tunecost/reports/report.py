"""Build a report: gather the inputs, simulate the campaign, render every registered section,
write the files, swap the folder in.

The steps live in their own modules: :mod:`.inputs` (what the report is of), :mod:`.campaign`
(the simulation), :mod:`.sections` (one file per section, and the registry that orders
them), :mod:`.files` (what is written) and :mod:`.folder` (the folder swapped in whole).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tunecost.config import CampaignConfig
from tunecost.reports.campaign import simulate_campaign
from tunecost.reports.context import Progress, ReportContext, Settings
from tunecost.reports.files import ReportFiles, write_files
from tunecost.reports.folder import check_out, remove_stale, staged
from tunecost.reports.inputs import ReportInputs, gather_inputs
from tunecost.reports.render import Block
from tunecost.reports.sections import SECTIONS, Section, render_order, section_blocks
from tunecost.reports.totals import hours_unit, totals_rows
from tunecost.simulate import SCHEMA_VERSION  # one version for every JSON layout

# hours_unit and totals_rows stay importable from here, where they were first.
__all__ = ["SCHEMA_VERSION", "ReportFiles", "build_report", "hours_unit", "totals_rows"]


def build_report(
    config: str | Path | CampaignConfig | None = None,
    *,
    out: str | Path,
    calibration: str | Path | None = None,
    records: str | Path | None = None,
    repeats: str | Path | None = None,
    optuna_storage: str | None = None,
    study: str | None = None,
    ray_results: str | Path | None = None,
    metric: str | None = None,
    accelerator: str | None = None,
    direction: str | None = None,
    replicates: int | None = None,
    engine: str = "auto",
    sensitivity_replicates: int = 64,
    sobol_n: int = 256,
    sobol_replicates: int = 2,
    ranges: Mapping[str, tuple[float, float]] | None = None,
    n_boot: int = 1000,
    seed: int | None = None,
    progress: Progress | None = None,
) -> ReportFiles:
    """Write the report of a campaign and/or a measured study: the answer first (P5/P50/P95
    totals, the tuning multiplier, what moves them), then the sections behind it.

    Args:
        config: a campaign file or config (its studies take per-trial costs from
            ``calibration`` when that is given too, as ``tunecost simulate --calibration``).
        out: the folder to write into. The report is written into a temporary folder beside
            it and swapped in whole, so ``out`` holds one complete report or its previous
            state, never a mix; an existing ``out`` must be empty or a previous report.
        calibration: a calibration JSON; alone, it defines a campaign of as many random
            trials as ``records`` holds (or it was fitted on), on one of its accelerator,
            at PUE 1.0, world-average grid intensity and $0.12/kWh, which the report states.
        records: measured trials (JSON Lines): importances and expected best vs budget.
        repeats: repeated configurations (JSON Lines): seed variance.
        optuna_storage, study: read the measured trials from an Optuna storage instead; a
            calibration is fitted from them when none is given.
        ray_results, metric: read the measured trials from a Ray Tune experiment folder
            (``metric``: the objective key the trainable reports).
        accelerator: catalog accelerator of the measured trials (for that fit).
        direction: ``minimize``/``maximize`` (or ``min``/``max``); default: the
            calibration's, else the records' ``attrs["direction"]`` (Ray: ``attrs["mode"]``),
            else minimize.
        replicates: Monte Carlo replicates of the campaign (default: the config's).
        engine: ``auto``, ``vectorized`` or ``replay``, as ``tunecost simulate --engine``.
        sensitivity_replicates: replicates per tornado evaluation.
        sobol_n: SALib's base sample size N (a power of 2; N × 9 evaluations).
        sobol_replicates: replicates per Sobol evaluation.
        ranges: ``{assumption: (low, high)}`` overriding the default ranges.
        n_boot: bootstrap resamples for the expected-best bands.
        seed: root seed of everything random (default: the config's).
        progress: ``progress(step, done, total)``.

    Raises:
        ConfigError: no usable input, inputs that contradict each other, or an ``out`` that
            is a file, lies under a file, or is a non-empty folder that is not a report.
    """
    final = check_out(Path(out))
    remove_stale(final)
    tick: Progress = progress or (lambda step, done, total: None)
    settings = Settings(sensitivity_replicates=sensitivity_replicates, sobol_n=sobol_n,
                        sobol_replicates=sobol_replicates, ranges=ranges, n_boot=n_boot)
    with staged(final) as staging:
        inputs = gather_inputs(
            config, staging, calibration=calibration, records=records, repeats=repeats,
            optuna_storage=optuna_storage, study=study, ray_results=ray_results,
            metric=metric, accelerator=accelerator, direction=direction, seed=seed,
        )
        ctx = ReportContext(staging, inputs, settings=settings, tick=tick,
                            data=_head_data(inputs))
        if inputs.campaign is not None:
            ctx.run = simulate_campaign(inputs.campaign, replicates=replicates,
                                        seed=inputs.seed, engine=engine, tick=tick)
            ctx.data["campaign"] = ctx.run.summary
        files = write_files(ctx, render_sections(ctx), final=final)
    return files.moved_to(final)


def _head_data(inputs: ReportInputs) -> dict[str, Any]:
    """``report.json``'s first entries: what the report is of."""
    return {"schema_version": SCHEMA_VERSION, "title": inputs.title, "inputs": inputs.sources,
            "seed": inputs.seed, "direction": inputs.direction}


def render_sections(ctx: ReportContext,
                    sections: Mapping[str, Section] = SECTIONS) -> list[Block]:
    """Every section's blocks, laid out in the registry's order; each section rendered in
    :func:`~tunecost.reports.sections.render_order` (after the sections it needs)."""
    rendered = {name: section_blocks(sections[name], ctx) for name in render_order(sections)}
    return [block for name in sections for block in rendered[name]]
