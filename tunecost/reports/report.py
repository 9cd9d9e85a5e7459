"""Build a report: gather the inputs, compute every section, render and write the files."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import secrets
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tunecost._direction import normalize_direction
from tunecost.calibrate import (
    Calibration,
    TrialRecord,
    fit_calibration,
    load_records,
    read_records,
)
from tunecost.config import CampaignConfig, ScenarioSet, load_config, with_calibration
from tunecost.exceptions import ConfigError
from tunecost.reports import plots
from tunecost.reports.breakdown import Breakdown, breakdown
from tunecost.reports.expected_max import ExpectedBest, expected_best_curve
from tunecost.reports.importance import (
    TARGETS,
    ImportanceResult,
    SeedVariance,
    param_importances,
    seed_variance,
)
from tunecost.reports.render import (
    Block,
    Heading,
    Image,
    Items,
    Para,
    Table,
    to_html,
    to_markdown,
    write_csv,
    write_json,
    write_text,
)
from tunecost.reports.sensitivity import (
    SCALE_ASSUMPTIONS,
    ScaledTotalsModel,
    SobolResult,
    TornadoResult,
    TotalsModel,
    default_assumptions,
    sobol,
    tornado,
)
from tunecost.simulate import SCHEMA_VERSION  # one version for every JSON layout
from tunecost.summary import format_figure
from tunecost.units import S_PER_H

__all__ = ["SCHEMA_VERSION", "ReportFiles", "build_report", "hours_unit", "totals_rows"]


Progress = Callable[[str, int, int], None]
"""``progress(step, done, total)``: called as long steps advance."""

DEFAULT_CAMPAIGN = {
    "pue": 1.0,
    "carbon": {"region": "WORLD"},
    "electricity": {"region": "us-2019-strubell"},
}
"""What a campaign built from a calibration alone assumes; the report states it."""


@dataclass(frozen=True, slots=True)
class ReportFiles:
    """What :func:`build_report` wrote, and the report's key numbers.

    Attributes:
        out: the folder.
        markdown, html, json: the report files.
        pngs, csvs: every plot and table file.
        headline: the one line that says which assumption moves the totals most (``None``
            without a campaign).
        data: the JSON report, as a dict.
        totals: ``[label, P5, P50, P95]`` rows of the campaign's totals, formatted as the
            report shows them (empty without a campaign).
        hours_unit: ``GPU-hours`` or ``CPU-hours`` (CPU-only hardware).
        multiplier: the tuning-multiplier line (``None`` without a campaign).
    """

    out: Path
    markdown: Path
    html: Path
    json: Path
    pngs: list[Path]
    csvs: list[Path]
    headline: str | None
    data: dict[str, Any] = field(repr=False)
    totals: list[list[str]] = field(default_factory=list)
    hours_unit: str = "GPU-hours"
    multiplier: str | None = None


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


def _campaign_from_calibration(cal: Calibration, path: Path, n_trials: int) -> CampaignConfig:
    accelerator = cal.accelerator
    if accelerator is None and cal.energy is not None and cal.energy_scope == "host":
        accelerator = "none"  # a CPU-only study: its host energy is all the energy
    if accelerator is None:
        raise ConfigError(
            f"{path}: the calibration names no accelerator, so no campaign can be built from "
            "it alone; pass a campaign CONFIG (or calibrate with --accelerator)"
        )
    return CampaignConfig.model_validate({
        "name": f"{cal.study}",
        "description": f"{n_trials} random-search trials of {cal.study!r} on one "
                       f"{accelerator}, costs from {path.name}",
        "workers": 1,
        **DEFAULT_CAMPAIGN,
        "replicates": 2000,
        "seed": 0,
        "studies": [{
            "name": cal.study,
            "strategy": {"kind": "random", "n_trials": n_trials},
            "hardware": {"accelerator": accelerator},
            "calibration": {"path": str(path)},
        }],
    })


def _per_trial_costs(records: Sequence[TrialRecord], campaign: Any) -> dict[str, float]:
    """Mean cost of one measured trial in every unit, at the campaign's PUE, grid and prices."""
    done = [r for r in records if r.state == "COMPLETE" and r.value is not None]
    out: dict[str, float] = {"n_trials": 1.0}
    gpus = campaign.studies[0].gpus if campaign is not None else 1
    gpu_h = float(np.mean([r.duration_s for r in done])) / S_PER_H * gpus
    out["gpu_hours"] = gpu_h
    joules = [
        (r.energy_j or 0.0) + (r.cpu_energy_j or 0.0) + (r.dram_energy_j or 0.0) for r in done
    ]
    if not any(r.energy_j is not None or r.cpu_energy_j is not None for r in done):
        return out
    pue = campaign.pue if campaign is not None else 1.0
    kwh = float(np.mean(joules)) / 3.6e6 * pue
    out["energy_kwh"] = kwh
    if campaign is None:
        return out
    out["co2e_kg"] = kwh * campaign.g_co2e_per_kwh / 1000.0
    rate = campaign.studies[0].usd_per_accelerator_hour
    if not math.isnan(rate):
        out["usd"] = gpu_h * rate
    elif not math.isnan(campaign.usd_per_kwh):
        out["usd"] = kwh * campaign.usd_per_kwh
    return out


# --------------------------------------------------------------------------------------------
# Formatting helpers
# --------------------------------------------------------------------------------------------


def _f(x: Any, fmt: str = ",.0f") -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    return format(x, fmt)


_g = format_figure  # one way to print a figure, CLI and reports


def _money(x: Any) -> str:
    return "—" if x is None or not math.isfinite(x) else f"${_g(x)}"


# --------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------


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
    out = _check_out(Path(out))
    _remove_stale(out)
    staging = _staging(out)
    try:
        files = _build(
            config, staging, final=out, calibration=calibration, records=records, repeats=repeats,
            optuna_storage=optuna_storage, study=study, ray_results=ray_results,
            metric=metric, accelerator=accelerator, direction=direction,
            replicates=replicates, engine=engine,
            sensitivity_replicates=sensitivity_replicates, sobol_n=sobol_n,
            sobol_replicates=sobol_replicates, ranges=ranges, n_boot=n_boot, seed=seed,
            progress=progress,
        )
        _swap_in(staging, out)
    except BaseException:  # KeyboardInterrupt too: nothing half-written stays behind
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return dataclasses.replace(
        files, out=out, markdown=out / files.markdown.name, html=out / files.html.name,
        json=out / files.json.name, pngs=[out / p.name for p in files.pngs],
        csvs=[out / p.name for p in files.csvs],
    )


# --------------------------------------------------------------------------------------------
# The output folder: one whole report or the previous state, never a mix
# --------------------------------------------------------------------------------------------

_TMP_TAG = ".tunecost-report-"
"""Temporary folders beside ``out`` are ``.{out.name}.tunecost-report-{tmp|old}-{pid}-{hex}``:
a later run finds those of a process that no longer runs (killed) and removes them."""


def _check_out(out: Path) -> Path:
    out = Path(os.path.abspath(out))
    for parent in [out, *out.parents]:
        if parent.exists() or parent.is_symlink():
            if parent == out and out.is_dir():
                break
            if parent == out:
                raise ConfigError(f"--out must be a folder, but {str(out)!r} is a file")
            if not parent.is_dir():
                raise ConfigError(
                    f"--out must be a folder, but {str(out)!r} lies under the file "
                    f"{str(parent)!r}"
                )
            break
    cwd = Path.cwd()
    if out == cwd or out in cwd.parents:
        raise ConfigError(
            f"--out must not be the current folder or one above it (the report replaces the "
            f"folder whole), but got {str(out)!r}"
        )
    if out.is_dir() and any(out.iterdir()) and not _is_report(out):
        raise ConfigError(
            f"--out must be a new folder, an empty one or a previous tunecost report (it is "
            f"replaced whole), but {str(out)!r} holds other files"
        )
    return out


def _is_report(folder: Path) -> bool:
    """Whether ``folder`` holds a report this function wrote (its ``report.json``)."""
    try:
        data = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and str(data.get("title", "")).startswith("tunecost report")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def _remove_stale(out: Path) -> None:
    """Remove the temporary folders a killed run left beside ``out``."""
    if not out.parent.is_dir():
        return
    prefix = f".{out.name}{_TMP_TAG}"
    for p in sorted(out.parent.iterdir()):
        if not p.name.startswith(prefix) or not p.is_dir():
            continue
        parts = p.name[len(prefix):].split("-")
        if len(parts) != 3 or not parts[1].isdigit() or _pid_alive(int(parts[1])):
            continue
        if parts[0] == "old" and not (out.exists() or out.is_symlink()):
            # Killed between its two renames: the previous report goes back where it was.
            os.rename(p, out)
        else:
            shutil.rmtree(p, ignore_errors=True)


def _tmp_name(out: Path, kind: str) -> Path:
    return out.parent / f".{out.name}{_TMP_TAG}{kind}-{os.getpid()}-{secrets.token_hex(4)}"


def _staging(out: Path) -> Path:
    staging = _tmp_name(out, "tmp")
    try:
        staging.mkdir(parents=True)
    except OSError as exc:
        raise ConfigError(
            f"--out: cannot create a folder beside {str(out)!r}: {exc.strerror or exc}"
        ) from None
    return staging


def _swap_in(staging: Path, out: Path) -> None:
    """Replace ``out`` by ``staging``: rename the old one away, the new one in, remove the old.

    Each rename is atomic; between the two, ``out`` is briefly absent (never mixed). If the
    second rename fails, the old report is put back; if another run's report took its place
    meanwhile, that one is kept whole and this one is refused.
    """
    old = None
    try:
        if out.exists() or out.is_symlink():
            old = _tmp_name(out, "old")
            os.rename(out, old)
        os.rename(staging, out)
    except OSError as exc:
        if out.exists():  # another run swapped its report in between our two renames
            if old is not None:
                _remove(old)
            raise ConfigError(
                f"--out: another report was written into {str(out)!r} at the same time; it "
                "is kept whole and this one was not written"
            ) from None
        if old is not None:
            os.rename(old, out)
        raise ConfigError(
            f"--out: cannot move the report into {str(out)!r}: {exc.strerror or exc}"
        ) from None
    except BaseException:
        if old is not None and not out.exists():
            os.rename(old, out)
        raise
    if old is not None:
        _remove(old)


def _remove(path: Path) -> None:
    if path.is_symlink():  # --out was a link to a folder: the link goes, not its target
        path.unlink()
    else:
        shutil.rmtree(path, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# The answer: totals, tuning multiplier
# --------------------------------------------------------------------------------------------

_TOTAL_ROWS = (
    ("n_trials", "trials"),
    ("gpu_hours", None),  # the summary's hours_unit
    ("wall_clock_h", "wall clock (hours)"),
    ("energy_kwh", "energy (kWh)"),
    ("co2e_kg", "CO2e (kg)"),
    ("cost_usd", "cloud cost ($)"),
    ("electricity_usd", "electricity ($)"),
)


def hours_unit(summary: Mapping[str, Any]) -> str:
    """What the summary's ``gpu_hours`` counts: ``GPU-hours`` or ``CPU-hours``."""
    return str(summary.get("hours_unit") or "GPU-hours")


def _trials(x: Any) -> str:
    return _g(x) if x is None or not math.isfinite(x) or abs(x) < 1 else f"{x:,.0f}"


def totals_rows(summary: Mapping[str, Any]) -> list[list[str]]:
    """``[label, P5, P50, P95]`` of each total the simulation summary has, in report order."""
    rows = []
    for key, label in _TOTAL_ROWS:
        stats = summary["metrics"].get(key)
        if stats is None:
            continue
        fmt = _trials if key == "n_trials" else _money if key.endswith("_usd") else _g
        rows.append([label or hours_unit(summary), *(fmt(stats[q]) for q in ("p5", "p50", "p95"))])
    return rows


def _totals_block(summary: Mapping[str, Any]) -> Table:
    engine = summary.get("engine")
    return Table(
        ["total", "P5", "P50", "P95"], totals_rows(summary),
        f"Totals of {summary['name']!r}: {summary['replicates']:,} replicates, seed "
        f"{summary['seed']}" + (f", {engine} engine" if engine else ""),
    )


# --------------------------------------------------------------------------------------------
# Building the report in a folder
# --------------------------------------------------------------------------------------------


def _default_direction(cal: Calibration | None, recs: Sequence[TrialRecord]) -> str:
    """The objective's direction as the study stored it: the calibration's learning curve,
    else the records' ``attrs["direction"]`` (Optuna) or ``attrs["mode"]`` (Ray Tune)."""
    lc = getattr(cal, "learning_curve", None)
    if getattr(lc, "direction", None) is not None:
        return normalize_direction(lc.direction, field="calibration direction")
    for key in ("direction", "mode"):
        found = {r.attrs[key] for r in recs if isinstance(r.attrs.get(key), str)}
        if len(found) == 1:
            return normalize_direction(found.pop(), field=f'records attrs["{key}"]')
    return "minimize"


def _build(
    config: str | Path | CampaignConfig | None,
    out: Path,
    *,
    final: Path,
    calibration: str | Path | None,
    records: str | Path | None,
    repeats: str | Path | None,
    optuna_storage: str | None,
    study: str | None,
    ray_results: str | Path | None,
    metric: str | None,
    accelerator: str | None,
    direction: str | None,
    replicates: int | None,
    engine: str,
    sensitivity_replicates: int,
    sobol_n: int,
    sobol_replicates: int,
    ranges: Mapping[str, tuple[float, float]] | None,
    n_boot: int,
    seed: int | None,
    progress: Progress | None,
) -> ReportFiles:
    tick: Progress = progress or (lambda step, done, total: None)
    if direction is not None:
        direction = normalize_direction(direction, field="--direction")

    # -- inputs --------------------------------------------------------------------------
    given = [name for name, v in (("--records", records), ("--optuna-storage", optuna_storage),
                                  ("--ray-results", ray_results)) if v is not None]
    if len(given) > 1:
        raise ConfigError(f"give one source of measured trials, not {' and '.join(given)}")
    recs: list[TrialRecord] = []
    source = []
    if records is not None:
        recs = read_records(records)
        source.append(f"trials: `{records}` ({len(recs)} records)")
    elif optuna_storage is not None or study is not None:
        recs = load_records(optuna_storage=optuna_storage, study=study)
        source.append(f"trials: Optuna study {study!r} in `{optuna_storage}` ({len(recs)})")
    elif ray_results is not None or metric is not None:
        mode = {"minimize": "min", "maximize": "max"}[direction or "minimize"]
        recs = load_records(ray_results=ray_results, metric=metric, mode=mode)
        source.append(f"trials: Ray Tune results `{ray_results}`, metric {metric!r} "
                      f"({len(recs)})")
    reps = read_records(repeats) if repeats is not None else []
    if repeats is not None:
        source.append(f"repeated configurations: `{repeats}` ({len(reps)} records)")

    cal: Calibration | None = None
    cal_path: Path | None = None
    notes: list[str] = []
    if calibration is not None:
        cal_path = Path(calibration)
        cal = Calibration.load(cal_path)
        source.append(f"calibration: `{cal_path}` ({cal.n_records} trials of {cal.study!r})")
    direction = direction or _default_direction(cal, recs)
    if cal is None and recs and config is None:
        cal = fit_calibration(recs, accelerator=accelerator,
                              direction=direction)  # type: ignore[arg-type]
        cal_path = out / "calibration.json"
        cal.save(cal_path)
        source.append(f"calibration fitted on the trials: `{cal_path.name}`")
        if cal.energy is None:
            notes.append("the trials have no measured energy: the campaign's energy is "
                         "ESTIMATED from the accelerator's catalog power")
    maximize = direction == "maximize"

    campaign_cfg: CampaignConfig | None = None
    assumed = False
    if config is not None:
        loaded = (load_config(config, calibration=cal_path)
                  if not isinstance(config, CampaignConfig) else config)
        if isinstance(loaded, ScenarioSet):
            names = ", ".join(c.name for c in loaded.scenarios)
            raise ConfigError(
                f"{config}: a report covers one campaign, this file has scenarios ({names}); "
                "write the one to report on to its own file"
            )
        if cal_path is not None and isinstance(config, CampaignConfig):
            loaded = with_calibration(loaded, cal_path)
        campaign_cfg = loaded
        source.insert(0, f"campaign: `{config}`" if not isinstance(config, CampaignConfig)
                      else f"campaign: {loaded.name!r}")
    elif cal is not None and cal_path is not None:
        n = sum(r.state == "COMPLETE" for r in recs) or cal.n_records
        campaign_cfg = _campaign_from_calibration(cal, cal_path, n)
        assumed = True
    if campaign_cfg is None and not recs:
        raise ConfigError(
            "nothing to report on: give a campaign CONFIG, --calibration, --records, "
            "--optuna-storage/--study or --ray-results/--metric"
        )
    root_seed = seed if seed is not None else (campaign_cfg.seed if campaign_cfg else 0)
    title = f"tunecost report: {campaign_cfg.name if campaign_cfg else recs[0].study}"

    blocks: list[Block] = []
    data: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "title": title, "inputs": source,
                            "seed": root_seed, "direction": direction}
    tables: dict[str, list[dict[str, Any]]] = {}
    pngs: list[Path] = []

    # -- campaign simulation: the same entry point and engine choice as `tunecost simulate` --
    result = resolved = None
    summary: dict[str, Any] | None = None
    unit = "GPU-hours"
    if campaign_cfg is not None:
        from tunecost.simulate import KEEP_REPLICATES_MAX, simulate
        from tunecost.simulate.pipeline import resolve

        n_reps = replicates if replicates is not None else campaign_cfg.replicates
        if n_reps > KEEP_REPLICATES_MAX:
            # The breakdown and the sensitivity need every replicate's totals.
            raise ConfigError(f"--replicates: a report keeps every replicate, so <= "
                              f"{KEEP_REPLICATES_MAX:,} must hold, but got {n_reps:,}")
        tick("simulating the campaign", 0, n_reps)
        result = simulate(
            campaign_cfg, replicates=n_reps, seed=root_seed, engine=engine,  # type: ignore[arg-type]
            progress=lambda d, t: tick("simulating the campaign", d, t), keep_replicates=True,
        )
        resolved = resolve(campaign_cfg)
        summary = result.summary()
        unit = hours_unit(summary)
        data["campaign"] = summary

    # -- 0. the answer ---------------------------------------------------------------------
    blocks.append(Heading("Summary"))
    summary_at = len(blocks)
    if summary is not None:
        blocks.append(_totals_block(summary))
        data["totals"] = {
            "hours_unit": unit, "replicates": summary["replicates"],
            **{k: ({q: summary["metrics"][k][q] for q in ("p5", "p50", "p95")}
                   if summary["metrics"].get(k) is not None else None)
               for k, _ in _TOTAL_ROWS},
        }
        if summary["metrics"].get("cost_usd") is None and \
                summary["metrics"].get("electricity_usd") is None:
            notes.insert(0, "No dollars: the campaign names no cloud instance or rental rate "
                            "and no electricity price.")
    if assumed:
        notes.insert(0,
            "No campaign config was given, so the campaign is the measured study re-run: "
            f"{campaign_cfg.studies[0].strategy.n_trials} random trials on one "  # type: ignore[union-attr]
            f"{campaign_cfg.studies[0].hardware.accelerator}, at PUE 1.0 (energy as measured, "  # type: ignore[union-attr]
            "no facility overhead), "
            "the world-average grid intensity (WORLD, 475 g/kWh) and $0.12/kWh "
            "(Strubell et al.'s US average). Pass a CONFIG to set them.")
        data["assumed_campaign"] = DEFAULT_CAMPAIGN

    # -- 1. importances, marginals, seed variance ------------------------------------------
    blocks.append(Heading("1. What drives the objective, and the cost"))
    imp: ImportanceResult | None = None
    if len([r for r in recs if r.state == "COMPLETE"]) >= 2:
        tick("parameter importances", 0, 1)
        imp = param_importances(recs, space=cal.space if cal is not None else None,
                                direction=direction, seed=root_seed)
        tick("parameter importances", 1, 1)
        _importance_section(blocks, imp, recs, cal, out, tables, pngs)
        data["importance"] = {"importances": imp.importances, "params": imp.params,
                              "n_trials": imp.n_trials, "notes": imp.notes}
    else:
        blocks.append(Para(
            "Not available: no measured trials were given (pass --records FILE.jsonl, "
            "--optuna-storage URL --study NAME or --ray-results DIR --metric M).", "note"))
    sv: SeedVariance | None = seed_variance(reps, recs) if reps else None
    _seed_section(blocks, sv, reps, out, tables, pngs)
    if sv is not None:
        data["seed_variance"] = {
            "value_std_seed": sv.value_std_seed, "value_std_search": sv.value_std_search,
            "seed_share": sv.seed_share, "duration_cv": sv.duration_cv,
            "energy_cv": sv.energy_cv,
            "configs": [{k: v for k, v in c.items()} for c in sv.configs],
        }

    # -- 2. expected best vs budget ---------------------------------------------------------
    blocks.append(Heading("2. Expected best score vs budget"))
    eb: ExpectedBest | None = None
    scores = [r.value for r in recs if r.state == "COMPLETE" and r.value is not None]
    if len(scores) >= 2:
        tick("expected best vs budget (bootstrap)", 0, 1)
        eb = expected_best_curve(
            np.array(scores), maximize=maximize,
            cost_per_trial=_per_trial_costs(recs, resolved), n_boot=n_boot, rng=root_seed,
        )
        tick("expected best vs budget (bootstrap)", 1, 1)
        _expected_section(blocks, eb, out, tables, pngs, unit)
        data["expected_best"] = {
            "maximize": maximize, "n_boot": n_boot, "band_pct": list(eb.band_pct),
            "cost_per_trial": eb.cost_per_trial, "cost_of_step": eb.cost_of_step(),
            "cost_of_step_dodge": eb.cost_of_step("dodge2019"), "notes": eb.notes,
        }
    else:
        blocks.append(Para("Not available: it needs the scores of at least 2 measured trials "
                           "(pass --records, --optuna-storage or --ray-results).", "note"))

    # -- 3. breakdown ----------------------------------------------------------------------
    blocks.append(Heading("3. Where the cost explodes: one run → one tune → campaign"))
    bd: Breakdown | None = None
    if result is not None and resolved is not None:
        bd = breakdown(result, resolved)
        _breakdown_section(blocks, bd, out, tables, pngs, unit)
        data["breakdown"] = {"tuning_multiplier": bd.tuning_multiplier,
                             "reference_how": bd.reference_how, "replicates": bd.replicates}
    else:
        blocks.append(Para("Not available: it needs a campaign (CONFIG or --calibration).",
                           "note"))

    # -- 4. sensitivity --------------------------------------------------------------------
    blocks.append(Heading("4. Which assumption moves the total most"))
    tr: TornadoResult | None = None
    sr: SobolResult | None = None
    closing: str | None = None
    if campaign_cfg is not None and resolved is not None and result is not None:
        assumptions = default_assumptions(resolved, ranges)
        replayed = getattr(result, "engine", "vectorized") == "replay"
        if replayed:
            # The replay loops over replicates: re-running it per tornado or Sobol point is
            # out of reach, so only the assumptions that scale its totals exactly are varied.
            assumptions = [a for a in assumptions if a.name in SCALE_ASSUMPTIONS]
            model: Any = ScaledTotalsModel(result.metrics, resolved, seed=result.seed)
            sobol_model: Any = model
        else:
            k_max = next(a.high for a in assumptions if a.name == "n_trials")
            model = TotalsModel(campaign_cfg, replicates=sensitivity_replicates,
                                seed=root_seed, k_max=k_max)
            sobol_model = TotalsModel(campaign_cfg, replicates=sobol_replicates,
                                      seed=root_seed, k_max=k_max)
        tr = tornado(model, assumptions,
                     progress=lambda d, t: tick("tornado (one at a time)", d, t))
        sr = sobol(sobol_model, assumptions, n_base=sobol_n, seed=root_seed,
                   progress=lambda d, t: tick("Sobol indices (SALib)", d, t))
        closing = _sensitivity_section(blocks, tr, sr, out, tables, pngs, replayed)
        data["tornado"] = {
            "ranking": tr.ranking, "score": tr.score, "base": tr.base, "dollars": tr.dollars,
            "replicates": tr.replicates, "seed": tr.seed, "headline": tr.headline(),
            "assumptions": [
                {"name": a.name, "label": a.label, "base": a.base, "low": a.low,
                 "high": a.high, "unit": a.unit, "why": a.why} for a in tr.assumptions
            ],
        }
        data["sobol"] = {"n_base": sr.n_base, "n_evals": sr.n_evals,
                         "replicates": sobol_model.replicates if replayed else sobol_replicates,
                         "indices": sr.indices}
        data["closing_note"] = closing
    else:
        blocks.append(Para("Not available: it needs a campaign (CONFIG or --calibration).",
                           "note"))

    # -- the summary: totals (above), then the multiplier, then what moves them -------------
    multiplier = bd.explosion(unit) if bd is not None else None
    headline_blocks: list[Block] = []
    if multiplier is not None:
        headline_blocks.append(Para(multiplier))
    if tr is not None:
        headline_blocks.append(Para(tr.headline(), "headline"))
    headline_blocks += [Para(n, "note") for n in notes]
    if imp is not None:
        headline_blocks.append(Para(_importance_line(imp)))
    if eb is not None:
        line = _step_line(eb, unit)
        if line:
            headline_blocks.append(Para(line))
    headline_blocks.append(Para("Inputs: " + "; ".join(source) + ".", "note"))
    at = summary_at + (1 if summary is not None else 0)
    blocks[at:at] = headline_blocks
    data["summary"] = {"tuning_multiplier": multiplier,
                       "headline": tr.headline() if tr is not None else None}
    if closing is not None:
        blocks.append(Heading("Closing note"))
        blocks.append(Para(closing, "headline"))
    if result is not None:
        blocks.append(Heading("Assumptions and sources", 3))
        items = [f"{k}: {v}" for k, v in result.assumptions["sources"].items()]
        items.append(f"reference run: {result.reference_how}")
        items.append(f"{result.replicates:,} replicates, seed {result.seed}")
        blocks.append(Items(items))

    # -- files ------------------------------------------------------------------------------
    # A calibration fitted here was read from the temporary folder: name where it will be.
    def moved(obj: Any) -> Any:
        if isinstance(obj, str):
            return obj.replace(str(out), str(final))
        if isinstance(obj, dict):
            return {k: moved(v) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return type(obj)(moved(v) for v in obj)
        return obj

    csvs = [write_csv(out / f"{name}.csv", moved(rows)) for name, rows in tables.items()]
    data["tables"] = tables
    data["files"] = {"png": [p.name for p in pngs], "csv": [p.name for p in csvs]}
    data = moved(data)
    json_path = write_json(out / "report.json", data)
    md_path = write_text(out / "report.md", moved(to_markdown(title, blocks)))
    html_path = write_text(out / "report.html", moved(to_html(title, blocks)))
    return ReportFiles(out, md_path, html_path, json_path, pngs, csvs,
                       tr.headline() if tr else None, data,
                       totals_rows(summary) if summary is not None else [], unit, multiplier)


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------


def _importance_line(imp: ImportanceResult) -> str:
    ev = "fanova" if "fanova" in imp.importances else "ped_anova"
    name = {"fanova": "fANOVA", "ped_anova": "PED-ANOVA"}[ev]
    parts = []
    for t in TARGETS:
        top = imp.top(t, ev)
        if top is not None:
            parts.append(f"{t.replace('_', ' ')}: {top} ({imp.importances[ev][t][top]:.2f})")
    return f"Most important hyperparameter ({name}): " + "; ".join(parts) + "."


def _step_line(eb: ExpectedBest, hours_unit: str = "GPU-hours") -> str | None:
    c = eb.cost_of_step()
    if c.get("from_n") is None:
        return None
    better = "higher" if eb.maximize else "lower"
    units = [f"{_g(c[f'extra_{u}'])} {lab}" for u, lab in
             (("gpu_hours", hours_unit), ("energy_kwh", "kWh"), ("co2e_kg", "kgCO2e"))
             if f"extra_{u}" in c]
    if "extra_usd" in c:
        units.append(f"${_g(c['extra_usd'])}")
    return (
        f"The last {eb.step:g} of the objective ({better} is better; expected best "
        f"{c['from_score']:.4g} → {c['best_at_N']:.4g}, unbiased estimator) takes "
        f"{c['extra_trials']} more trials ({c['from_n']} → {c['N']}): " + ", ".join(units) + "."
    )


def _importance_section(blocks, imp, recs, cal, out, tables, pngs) -> None:
    evs = list(imp.importances)
    blocks.append(Para(
        "Importances from Optuna's evaluators over the measured trials, one study per target: "
        "PED-ANOVA (what separates the best 10 % of trials from the rest)"
        + (" and fANOVA (share of the variance, random forest)" if "fanova" in evs else "")
        + ". Cost targets are minimised. Each column sums to 1."))
    for n in imp.notes:
        blocks.append(Para(n, "note"))
    cols = ["parameter"] + [
        f"{ {'ped_anova': 'PED-ANOVA', 'fanova': 'fANOVA'}[ev]}: {t}"
        for ev in evs for t in imp.importances[ev]
    ]
    rows = [[p] + [f"{imp.importances[ev][t][p]:.3f}" for ev in evs for t in imp.importances[ev]]
            for p in imp.params]
    blocks.append(Table(cols, rows, f"{max(imp.n_trials.values())} complete trials"))
    tables["importance"] = imp.to_rows()
    png = plots.importance_png(imp.importances, imp.params, out / "importance.png")
    pngs.append(png)
    blocks.append(Image(png, "parameter importances", ["importance.csv"]))

    done = [r for r in recs if r.state == "COMPLETE"]
    # Every parameter, branch-only ones too (Optuna's evaluators rank only those every
    # trial has; a conditional child is plotted where it was active).
    names = list(dict.fromkeys(p for r in done for p in r.params))
    trial_rows = []
    for r in done:
        row: dict[str, Any] = {"number": r.number}
        row.update({p: r.params.get(p) for p in names})
        row.update({"objective": r.value, "duration_s": r.duration_s,
                    "energy_j": r.energy_j if r.energy_j is not None else r.host_energy_j})
        trial_rows.append(row)
    tables["trials"] = trial_rows
    targets = {t: lab for t, lab in TARGETS.items()
               if any(row[t] is not None for row in trial_rows)}
    columns = {k: np.array([np.nan if row[k] is None else float(row[k]) for row in trial_rows])
               for k in (*names, *targets)
               if all(isinstance(row[k], int | float | type(None)) for row in trial_rows)
               and not all(isinstance(row[k], bool) for row in trial_rows)}
    params = [p for p in names if p in columns and np.isfinite(columns[p]).sum() >= 2]
    if not params:
        return  # no numeric hyperparameter to plot against
    log_params = [p for p in params if cal is not None and p in cal.space and cal.space[p].log]
    png = plots.marginals_png(columns, params, targets, log_params, out / "marginals.png")
    pngs.append(png)
    blocks.append(Heading("Per-parameter marginals", 3))
    blocks.append(Para("Each measured trial's objective, duration and energy against each "
                       "hyperparameter; the black line is the median within quartile bins."))
    blocks.append(Image(png, "per-parameter marginals", ["trials.csv"]))


def _seed_section(blocks, sv, reps, out, tables, pngs) -> None:
    blocks.append(Heading("Seed variance", 3))
    if sv is None:
        blocks.append(Para(
            "Not available: no repeated configurations were given (pass --repeats FILE.jsonl: "
            "the same parameters run with several seeds)." if not reps else
            "Not available: no configuration in --repeats was run more than once.", "note"))
        return
    rows = []
    for i, c in enumerate(sv.configs):
        rows.append([
            f"config {i}", ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                     for k, v in c["params"].items()),
            str(c["n"]), _f(c["value_mean"], ".4f"), _f(c["value_std"], ".4f"),
            _f(c["duration_mean_s"], ".2f"), f"{100 * c['duration_cv']:.1f} %",
            _f(c["energy_mean_j"], ",.0f"),
            "—" if c["energy_cv"] is None else f"{100 * c['energy_cv']:.1f} %",
        ])
    blocks.append(Table(
        ["", "parameters", "runs", "objective mean", "objective std", "duration mean (s)",
         "duration CV", "energy mean (J)", "energy CV"], rows))
    share = sv.seed_share
    line = (f"Across seeds the objective moves by a std of {_f(sv.value_std_seed, '.4f')} "
            f"(median over configurations); duration by {100 * sv.duration_cv:.1f} % and "
            + ("energy by " + f"{100 * sv.energy_cv:.1f} %" if sv.energy_cv is not None
               else "energy unmeasured") + " (CV).")
    if share is not None:
        line += (f" Across the search's hyperparameters the objective's std is "
                 f"{sv.value_std_search:.4f}: seeds account for {100 * share:.1f} % of that "
                 "spread, so differences between configurations larger than about "
                 f"{2 * sv.value_std_seed:.4f} are not seed noise.")
    blocks.append(Para(line))
    tables["seed_variance"] = sv.to_rows()
    png = plots.seed_variance_png(sv.configs, sv.value_std_search, out / "seed_variance.png")
    pngs.append(png)
    blocks.append(Image(png, "seed variance of repeated configurations", ["seed_variance.csv"]))


_UNIT_NAMES = {"n_trials": "trials", "gpu_hours": "GPU-h", "energy_kwh": "kWh",
               "co2e_kg": "kgCO2e", "usd": "$"}


def _expected_section(blocks, eb: ExpectedBest, out, tables, pngs,
                      hours_unit: str = "GPU-hours") -> None:
    units = list(eb.cost_per_trial)
    names = {**_UNIT_NAMES, "gpu_hours": hours_unit}
    blocks.append(Para(
        f"Expected best objective after n random-search trials, estimated from the "
        f"{eb.n[-1]} measured ones: Dodge et al. 2019 (n draws with replacement from the "
        "empirical distribution; biased low for maxima, high for losses) and the unbiased "
        "estimator of Tang et al. 2020 (mean best over all n-subsets). Bands: "
        f"{eb.band_pct[0]:g}–{eb.band_pct[1]:g} % percentile bootstrap ({eb.n_boot} "
        "resamples). The cost axes are n × the mean measured trial: "
        + ", ".join(f"{_g(c)} {names[u]}" for u, c in eb.cost_per_trial.items()
                    if u != "n_trials") + " per trial."))
    for n in eb.notes:
        blocks.append(Para(n, "note"))
    rows = eb.to_rows()
    tables["expected_best"] = rows
    png = plots.expected_best_png(rows, units, list(eb.curves), eb.maximize,
                                  out / "expected_best.png", hours_unit=hours_unit)
    pngs.append(png)
    blocks.append(Image(png, "expected best score vs budget", ["expected_best.csv"]))
    picks = sorted({1, 2, 5, 10, 20, int(eb.n[-1])} & set(int(n) for n in eb.n))
    trows = []
    for n in picks:
        r = rows[n - 1]
        trows.append([str(n)] + [_g(r[u]) for u in units if u != "n_trials"] + [
            f"{r['dodge2019']:.4f}", f"{r['tang2020']:.4f} "
            f"[{r['tang2020_low']:.4f}, {r['tang2020_high']:.4f}]"])
    blocks.append(Table(
        ["trials"] + [names[u] for u in units if u != "n_trials"]
        + ["Dodge 2019", "Tang 2020 [band]"], trows))
    line = _step_line(eb, hours_unit)
    if line:
        blocks.append(Para(line))


def _breakdown_section(blocks, bd: Breakdown, out, tables, pngs,
                       hours_unit: str = "GPU-hours") -> None:
    rows = []
    for r in bd.rows:
        rows.append([
            r["level"], r["name"], str(r["count"]), _g(r["gpu_hours"]),
            _g(r["energy_kwh"]), _g(r["co2e_kg"]), _money(r["cost_usd"]),
            _money(r["electricity_usd"]), f"{r['x_reference']:,.1f}×",
        ])
    blocks.append(Para(
        "The shape of Strubell et al.'s Table 4: the one final run, one tune (one instance "
        "of each study: its total divided by its count), and the whole campaign; P50 over "
        f"{bd.replicates:,} replicates. The reference run is {bd.reference_how}."))
    blocks.append(Table(
        ["level", "name", "count", hours_unit, "kWh", "kgCO2e", "cloud $", "electricity $",
         "× one run (kWh)"], rows))
    tm = bd.tuning_multiplier
    blocks.append(Para(bd.explosion(hours_unit) + (
        "" if tm is None else f" Tuning multiplier mean {tm['mean']:,.1f}×, "
                              f"std {tm['std']:,.1f}×.")))
    tables["breakdown"] = bd.rows
    edges, counts = bd.histogram
    tables["tuning_multiplier_histogram"] = [
        {"bin_low": lo, "bin_high": hi, "replicates": c}
        for lo, hi, c in zip(edges[:-1], edges[1:], counts, strict=True)
    ]
    if tm is None:
        return
    png = plots.breakdown_png(bd.rows, edges, counts, tm["p50"], out / "breakdown.png")
    pngs.append(png)
    blocks.append(Image(png, "cost breakdown and tuning multiplier",
                        ["breakdown.csv", "tuning_multiplier_histogram.csv"]))


def _range_text(a) -> str:
    from tunecost.reports.sensitivity import _fmt_range

    return _fmt_range(a)


def _sensitivity_section(blocks, tr: TornadoResult, sr: SobolResult, out, tables, pngs,
                         replayed: bool = False) -> str:
    blocks.append(Para(tr.headline(), "headline"))
    how = (
        "PUE, grid intensity, power and price scale the replay's simulated totals exactly. "
        "This campaign runs on the replay engine (real samplers, pruners and schedulers, one "
        "replicate at a time), too slow to re-run at every point, so the duration spread, "
        "the number of trials and the failure rate are not varied here."
        if replayed else
        "PUE, grid intensity, power and price scale the simulated totals exactly; duration "
        "spread, number of trials and failure rate re-run the vectorised simulator."
    )
    blocks.append(Para(
        "Each assumption is moved over its range with the others at their base values "
        f"(tornado; {tr.replicates} replicates per evaluation, the same random numbers in "
        f"each, seed {tr.seed}), then all at once, uniform over the ranges (Sobol indices, "
        f"SALib Saltelli scheme, N = {sr.n_base}, {sr.n_evals:,} evaluations). " + how
        + " Ranking: the largest relative swing of kWh, kgCO2e, cloud dollars or electricity "
        "dollars."))
    rows = [[a.label, _f(a.base, ".4g"), _range_text(a), a.why] for a in tr.assumptions]
    blocks.append(Table(["assumption", "base", "range", "why this range"], rows,
                        "Assumptions and their ranges"))
    tables["assumptions"] = [
        {"assumption": a.name, "base": a.base, "low": a.low, "high": a.high, "unit": a.unit,
         "why": a.why} for a in tr.assumptions
    ]
    d = tr.dollars
    trows = []
    for rank, n in enumerate(tr.ranking, start=1):
        a = next(x for x in tr.assumptions if x.name == n)
        trows.append([
            str(rank), a.label, _range_text(a),
            f"{_g(tr.low[n]['energy_kwh'])} – {_g(tr.high[n]['energy_kwh'])}",
            _g(tr.swing(n, "energy_kwh")), _g(tr.swing(n, "co2e_kg")),
            _money(tr.swing(n, "cost_usd")), _money(tr.swing(n, "electricity_usd")),
            f"{100 * tr.score[n]:.1f} %",
        ])
    blocks.append(Table(
        ["rank", "assumption", "range", "kWh (low – high end)", "kWh swing", "kgCO2e swing",
         "cloud $ swing", "electricity $ swing", "largest relative swing"], trows,
        f"Tornado: base {_g(tr.base['energy_kwh'])} kWh, {_g(tr.base['co2e_kg'])} kgCO2e, "
        f"{_money(tr.base['cost_usd'])} cloud, {_money(tr.base['electricity_usd'])} "
        "electricity"))
    tables["tornado"] = tr.to_rows()
    totals = ["energy_kwh", "co2e_kg", d]
    png = plots.tornado_png(tr, totals, out / "tornado.png")
    pngs.append(png)
    blocks.append(Image(png, "tornado: one-at-a-time swings", ["tornado.csv",
                                                                "assumptions.csv"]))
    labels = {a.name: a.label for a in tr.assumptions}
    srows = []
    for n_i, n in enumerate(sr.names):
        srows.append([labels[n]] + [
            "—" if not math.isfinite(sr.indices[t]["S1"][n_i]) else
            f"{sr.indices[t]['S1'][n_i]:.2f} / {sr.indices[t]['ST'][n_i]:.2f}"
            for t in totals])
    blocks.append(Table(["assumption"] + [f"{plots.TOTAL_LABELS[t]}: S1 / ST" for t in totals],
                        srows, "Sobol indices (first order / total effect)"))
    tables["sobol"] = sr.to_rows()
    sobol_totals = [t for t in totals if all(math.isfinite(x) for x in sr.indices[t]["S1"])]
    if sobol_totals:
        png = plots.sobol_png(sr, sobol_totals, labels, out / "sobol.png")
        pngs.append(png)
        blocks.append(Image(png, "Sobol indices", ["sobol.csv"]))
    return _closing(tr, sr)


_WORDS = {4: "four", 7: "seven"}


def _closing(tr: TornadoResult, sr: SobolResult) -> str:
    parts = []
    for rank, n in enumerate(tr.ranking[:3], start=1):
        a = next(x for x in tr.assumptions if x.name == n)
        dollars = [f"cloud {_money(tr.swing(n, 'cost_usd'))}"] if math.isfinite(
            tr.base["cost_usd"]) else []
        if math.isfinite(tr.base["electricity_usd"]):
            dollars.append(f"electricity {_money(tr.swing(n, 'electricity_usd'))}")
        parts.append(
            f"({rank}) {a.short} over {_range_text(a)}: {_g(tr.swing(n, 'energy_kwh'))} kWh, "
            f"{_g(tr.swing(n, 'co2e_kg'))} kgCO2e"
            + (", " + ", ".join(dollars) if dollars else "")
        )
    text = "Top three assumptions by swing of the totals: " + "; ".join(parts) + "."
    co2_top = max(tr.ranking, key=lambda n: tr.swing(n, "co2e_kg"))
    short = {a.name: a.short for a in tr.assumptions}
    text += f" CO2e moves most with {short[co2_top]} ({_g(tr.swing(co2_top, 'co2e_kg'))} kgCO2e)."
    st = sr.indices.get("energy_kwh", {}).get("ST")
    if st and all(math.isfinite(x) for x in st):
        i = int(np.argmax(st))
        text += (f" Varying all {_WORDS.get(len(sr.names), len(sr.names))} together, "
                 f"{short[sr.names[i]]} carries the "
                 f"largest share of the energy variance (total Sobol index {st[i]:.2f}).")
    return text
