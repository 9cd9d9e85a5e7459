"""``tunecost simulate CONFIG``: P5/P50/P95 of a campaign's trials, hours, kWh, CO2e and $.

Parses, calls :func:`tunecost.simulate.simulate_scenarios` (a campaign, or each scenario of
a set with its own ledger and timeline) and renders.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from tunecost.cli.console import number, print_json, render_table
from tunecost.cli.errors import user_errors, warn
from tunecost.cli.progress import replicates_bar
from tunecost.config import load_config
from tunecost.exceptions import ConfigError
from tunecost.papers import TextTable

__all__ = ["simulate"]

METRIC_LABELS = {
    "n_trials": "trials",
    "gpu_hours": "GPU-hours",
    "wall_clock_h": "wall clock (h)",
    "energy_kwh": "energy (kWh)",
    "co2e_kg": "CO2e (kg)",
    "cost_usd": "cloud cost ($)",
    "electricity_usd": "electricity ($)",
    "waiting_energy_kwh": "of which waiting (kWh)",
    "overhead_energy_kwh": "of which between trials (kWh)",
}
"""The row label of each summary metric (``gpu_hours``: the summary's hours unit)."""


def simulate(
    config: Annotated[Path, typer.Argument(help="Campaign file (.yaml, .yml or .toml).")],
    replicates: Annotated[
        int | None, typer.Option(help="Monte Carlo replicates (default: the config's).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Root seed (default: the config's).")] = None,
    ledger: Annotated[
        Path | None, typer.Option(help="Write one replicate's per-trial rows to this CSV.")
    ] = None,
    calibration: Annotated[
        Path | None,
        typer.Option(
            help="Calibration JSON (tunecost calibrate): every study takes its per-trial "
            "duration and power from it, its search space drives them. It replaces a study's "
            "duration/power and its own calibration.path (the sources say so); a study may "
            "then omit duration, power and calibration altogether."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    backend: Annotated[
        str,
        typer.Option(
            help="Where replicate chunks run: 'auto' (every core for a run of several "
            "chunks, else this process), 'local' (this process), 'processes' (a worker per "
            "core) or 'ray' (one Ray task per chunk); identical results."
        ),
    ] = "auto",
    address: Annotated[
        str | None,
        typer.Option(
            help="Ray cluster for --backend ray: 'auto', HOST:PORT or ray://HOST:10001 "
            "(default: start a local one)."
        ),
    ] = None,
    chunk_size: Annotated[
        int | None,
        typer.Option(help="Replicates per chunk (default: sized to bound memory)."),
    ] = None,
    engine: Annotated[
        str,
        typer.Option(
            help="'vectorized' (i.i.d. trials), 'replay' (real samplers, pruners and "
            "schedulers on a simulated clock) or 'auto' (replay when a study's strategy is "
            "optuna or ray_tune)."
        ),
    ] = "auto",
    timeline: Annotated[
        Path | None,
        typer.Option(
            help="Replay engine: write one replicate's per-worker timeline to this CSV and "
            "a Gantt chart (power as colour) beside it as .png."
        ),
    ] = None,
    start_window: Annotated[
        float | None,
        typer.Option(
            metavar="HOURS",
            help="With an hourly carbon series (carbon.series_csv): find the start, up to "
            "HOURS after the series' hour 0, at which the campaign (its P50 energy spread "
            "evenly over its P50 wall clock) emits the least CO2e; printed, and in the JSON "
            "as start_time.",
        ),
    ] = None,
    start_step: Annotated[
        float | None,
        typer.Option(metavar="HOURS", help="Hours between the starts --start-window tries "
                     "(default 1)."),
    ] = None,
) -> None:
    """Simulate a campaign: P5/P50/P95 of trials, GPU-hours, wall clock, kWh, CO2e and $."""
    from tunecost.simulate import simulate_scenarios

    with user_errors():
        if calibration is not None and calibration.is_dir():
            raise ConfigError(f"--calibration {calibration} is a directory; give the JSON file")
        if start_step is not None and start_window is None:
            raise ConfigError("--start-step needs --start-window (the window it steps through)")
        step = {} if start_step is None else {"start_step_h": start_step}
        loaded = load_config(config, calibration=calibration)
        bar, task = replicates_bar()

        def progress(scenario: str, done: int, total: int) -> None:
            bar.update(task, description=escape(scenario), completed=done, total=total)

        with bar:
            results = simulate_scenarios(
                loaded, replicates=replicates, seed=seed, ledger=ledger, timeline=timeline,
                progress=progress, backend=backend, address=address, chunk_size=chunk_size,
                engine=engine, start_window_h=start_window, **step,
            )
        summaries = [r.summary() for r in results]
    for summary in summaries:
        for message in summary["assumptions"].get("warnings", ()):
            warn(message)
    if as_json:
        print_json(
            summaries[0] if len(summaries) == 1 else {"name": loaded.name, "scenarios": summaries}
        )
        return
    for summary in summaries:
        _render_campaign(summary)


def _render_campaign(summary: dict[str, Any]) -> None:
    rows = []
    hours_unit = summary.get("hours_unit", "GPU-hours")
    for key, stats in summary["metrics"].items():
        label = hours_unit if key == "gpu_hours" else METRIC_LABELS[key]
        if stats is None:
            rows.append((label, "—", "—", "—", "—"))
            continue
        fmt = (lambda x: f"{x:,.0f}") if key == "n_trials" else number
        rows.append((label, *(fmt(stats[q]) for q in ("p5", "p50", "p95", "mean"))))
    tm = summary["tuning_multiplier"]
    if tm is not None:
        rows.append(
            ("tuning multiplier", *(f"{number(tm[q])}×" for q in ("p5", "p50", "p95", "mean")))
        )
    notes = [
        f"reference run: {summary['reference_run']['how']}",
        f"{summary['replicates']:,} replicates, seed {summary['seed']}",
    ]
    notes += [f"{k}: {v}" for k, v in summary["assumptions"]["sources"].items()]
    render_table(
        TextTable(
            f"{summary['name']}", ("metric", "P5", "P50", "P95", "mean"), tuple(rows), tuple(notes)
        )
    )
    if len(summary["studies"]) > 1:
        _render_studies(summary, hours_unit)
    if "start_time" in summary:
        _render_start(summary["start_time"])


def _render_start(start: dict[str, Any]) -> None:
    """The best start within the window against starting now, and the saving."""
    n = len(start["offsets_h"])
    rows = (
        ("now (+0 h)", number(start["co2e_kg_now"])),
        (f"best (+{start['best_offset_h']:g} h)", number(start["co2e_kg"])),
        ("saving", f"{number(start['saving_kg'])} ({start['saving_pct']:.1f} %)"),
    )
    notes = (
        f"{n:,} starts tried: every {start['step_h']:g} h up to {start['window_h']:g} h after "
        "the carbon series' hour 0",
        f"profile: {start['profile']['how']}",
    )
    render_table(TextTable("carbon-aware start", ("start", "CO2e (kg)"), rows, notes))


def _render_studies(summary: dict[str, Any], hours_unit: str) -> None:
    """The P50 of each study's totals, one row per study."""

    def p50(stats: dict[str, float] | None, fmt: Any = number) -> str:
        return "—" if stats is None else fmt(stats["p50"])

    study_rows = []
    for s in summary["studies"]:
        m = s["metrics"]
        study_rows.append(
            (
                s["name"],
                f"{s['count']}",
                p50(m["n_trials"], lambda x: f"{x:,.0f}"),
                p50(m["gpu_hours"]),
                p50(m["energy_kwh"]),
                p50(m["co2e_kg"]),
                p50(m["cost_usd"]),
            )
        )
    render_table(
        TextTable(
            "per study (P50)",
            ("study", "count", "trials", hours_unit, "energy (kWh)", "CO2e (kg)", "cost ($)"),
            tuple(study_rows),
        )
    )
