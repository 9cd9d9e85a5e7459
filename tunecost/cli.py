"""The ``tunecost`` command line: each command parses, calls one public function, renders."""

from __future__ import annotations

import contextlib
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from tunecost import __version__, catalog, papers
from tunecost._errors import one_line
from tunecost.config import CampaignConfig, ScenarioSet, load_config
from tunecost.estimate import RunSpec, estimate_run
from tunecost.exceptions import ConfigError, TunecostError
from tunecost.papers import TextTable
from tunecost.summary import format_figure

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="What a hyperparameter search or an R&D campaign will cost, before you run it.",
)

# No markup and no emoji codes on either console: names, paths and messages are the user's
# text (`run[/bold].yaml`, a campaign `lr sweep [/v2]`, `h100[sxm]`, `:x:`) and are printed
# as they are; styles are given as `style=`, never as `[red]...[/red]` in a string.
_out = Console(soft_wrap=False, markup=False, emoji=False)
_err = Console(stderr=True, markup=False, emoji=False)



def _version(value: bool) -> None:
    if value:
        typer.echo(f"tunecost {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """What a hyperparameter search or an R&D campaign will cost, before you run it."""


@contextlib.contextmanager
def _user_errors() -> Iterator[None]:
    """Turn an error in the user's input into one line on stderr and exit status 2."""
    try:
        yield
    except (TunecostError, ValidationError, FileNotFoundError) as exc:
        _err.print(Text.assemble(("error:", "red"), " ", one_line(exc)), soft_wrap=True)
        raise typer.Exit(2) from None


def _warn(message: str) -> None:
    """One line on stderr: the result is computed, but something in it looks wrong."""
    _err.print(Text.assemble(("warning:", "yellow"), " ", message), soft_wrap=True)


def _print_json(obj: dict[str, Any]) -> None:
    """Print ``obj`` as JSON with ``schema_version`` first at its top level."""
    from tunecost.simulate import SCHEMA_VERSION

    typer.echo(json.dumps({"schema_version": SCHEMA_VERSION, **obj}, indent=2))


def _render(table: TextTable) -> None:
    t = Table(title=table.title, title_justify="left", show_lines=False)
    for i, col in enumerate(table.columns):
        t.add_column(
            col,
            justify="left" if i == 0 or col in ("how", "Hardware") else "right",
            overflow="fold",
        )
    for row in table.rows:
        t.add_row(*row)
    _out.print(t)
    for note in table.notes:
        _out.print(f"  • {note}", style="dim", highlight=False)
    _out.print()


@app.command()
def reproduce(
    paper: Annotated[str, typer.Argument(help=f"Paper key: {', '.join(papers.PAPERS)}.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print unrounded numbers as JSON.")
    ] = False,
) -> None:
    """Recompute a paper's cost tables from its own inputs, each quirk explained."""
    with _user_errors():
        result = papers.reproduce(paper)
    if as_json:
        _print_json(result.to_dict())
        return
    for table in result.tables():
        _render(table)


@app.command()
def estimate(
    accelerator: Annotated[str, typer.Option(help="Catalog accelerator, e.g. h100-sxm, V100.")],
    hours: Annotated[float, typer.Option(help="Wall-clock hours of the run.")],
    gpus: Annotated[int, typer.Option(help="Accelerators used.")] = 1,
    power_w: Annotated[
        float | None, typer.Option(help="Average W per accelerator (default: TDP × utilization).")
    ] = None,
    utilization: Annotated[float, typer.Option(help="Fraction of TDP drawn.")] = 1.0,
    host_power_w: Annotated[float, typer.Option(help="CPU + DRAM power, W.")] = 0.0,
    pue: Annotated[float | None, typer.Option(help="Facility PUE (default 1).")] = None,
    pue_key: Annotated[str | None, typer.Option(help="Catalog PUE row, e.g. uptime-2018.")] = None,
    region: Annotated[
        str | None, typer.Option(help="Catalog grid region for CO2e, e.g. FR.")
    ] = None,
    instance: Annotated[str | None, typer.Option(help="Catalog cloud instance for $.")] = None,
    pricing: Annotated[str, typer.Option(help="on_demand, spot or preemptible.")] = "on_demand",
    electricity: Annotated[
        str | None, typer.Option(help="Catalog electricity-price region for the power bill.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Energy, CO2e and dollars of one run on catalog hardware."""
    with _user_errors():
        result = estimate_run(
            RunSpec(
                accelerator=accelerator,
                n_accelerators=gpus,
                hours=hours,
                accelerator_power_w=power_w,
                utilization=utilization,
                host_power_w=host_power_w,
                pue=pue,
                pue_key=pue_key,
                region=region,
                instance=instance,
                pricing=pricing,
                electricity_region=electricity,
            )
        )
    if as_json:
        _print_json(result.model_dump())
        return
    rows = [
        (
            "accelerator",
            f"{gpus} × {result.accelerator} at {result.accelerator_power_w:g} W "
            f"({result.power_source})",
        ),
        ("PUE", f"{result.pue:g}"),
        ("energy", f"{_number(result.energy_kwh)} kWh"),
    ]
    if result.co2e_kg is not None:
        rows.append(("CO2e", f"{_number(result.co2e_kg)} kg at {result.g_co2e_per_kwh:g} g/kWh"))
    if result.embodied_co2e_kg is not None:
        rows.append(("embodied CO2e share", f"{_number(result.embodied_co2e_kg)} kg"))
    if result.cloud_cost_usd is not None:
        rows.append(("cloud cost", f"${_number(result.cloud_cost_usd)}"))
    if result.electricity_cost_usd is not None:
        rows.append(("electricity", f"${_number(result.electricity_cost_usd)}"))
    _render(
        TextTable(
            "Run estimate",
            ("quantity", "value"),
            tuple(rows),
            tuple(f"{k}: {v}" for k, v in result.sources.items()),
        )
    )


_CATALOGS = {
    "accelerators": (
        catalog.accelerators,
        ("name", "tdp_w", "idle_w", "peak_bf16_tflops", "memory_gb", "embodied_kgco2e"),
    ),
    "grid": (catalog.grid_intensities, ("region", "name", "g_co2e_per_kwh", "year")),
    "pue": (catalog.pue_figures, ("key", "name", "pue", "year")),
    "prices": (
        catalog.cloud_prices,
        (
            "provider",
            "instance",
            "region",
            "accelerator",
            "n_accelerators",
            "pricing",
            "usd_per_hour",
            "year",
        ),
    ),
    "electricity": (catalog.electricity_prices, ("region", "name", "usd_per_kwh", "year")),
}


@app.command("catalog")
def catalog_cmd(
    kind: Annotated[str, typer.Argument(help=f"One of: {', '.join(_CATALOGS)}.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print every column as JSON.")] = False,
) -> None:
    """List a reference catalog, with the source of every row in --json."""
    with _user_errors():
        if kind not in _CATALOGS:
            from tunecost.exceptions import CatalogKeyError

            raise CatalogKeyError("catalog", kind, _CATALOGS)
        rows_fn, cols = _CATALOGS[kind]
        rows = rows_fn()
    if as_json:
        _print_json({"catalog": kind, "rows": [r.model_dump(mode="json") for r in rows]})
        return
    _render(
        TextTable(
            f"{kind} ({len(rows)} rows; --json shows sources)",
            cols,
            tuple(
                tuple("" if getattr(r, c) is None else str(getattr(r, c)) for c in cols)
                for r in rows
            ),
        )
    )


def _progress_bar() -> tuple[Any, Any]:
    """A rich progress bar on stderr, shown only where stderr is a terminal."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=_err,
        disable=not _err.is_terminal,
        transient=True,
    )
    return bar, bar.add_task("replicates", total=None)


_METRIC_LABELS = {
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


def _number(x: float | None) -> str:
    """:func:`tunecost.summary.format_figure`: one way to print a figure, CLI and reports."""
    return format_figure(x)


def _render_campaign(summary: dict[str, Any]) -> None:
    rows = []
    hours_unit = summary.get("hours_unit", "GPU-hours")
    for key, stats in summary["metrics"].items():
        label = hours_unit if key == "gpu_hours" else _METRIC_LABELS[key]
        if stats is None:
            rows.append((label, "—", "—", "—", "—"))
            continue
        fmt = (lambda x: f"{x:,.0f}") if key == "n_trials" else _number
        rows.append((label, *(fmt(stats[q]) for q in ("p5", "p50", "p95", "mean"))))
    tm = summary["tuning_multiplier"]
    if tm is not None:
        rows.append(
            ("tuning multiplier", *(f"{_number(tm[q])}×" for q in ("p5", "p50", "p95", "mean")))
        )
    notes = [
        f"reference run: {summary['reference_run']['how']}",
        f"{summary['replicates']:,} replicates, seed {summary['seed']}",
    ]
    notes += [f"{k}: {v}" for k, v in summary["assumptions"]["sources"].items()]
    _render(
        TextTable(
            f"{summary['name']}", ("metric", "P5", "P50", "P95", "mean"), tuple(rows), tuple(notes)
        )
    )
    if len(summary["studies"]) > 1:
        study_rows = []

        def p50(stats: dict[str, float] | None, fmt: Any = _number) -> str:
            return "—" if stats is None else fmt(stats["p50"])

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
        _render(
            TextTable(
                "per study (P50)",
                ("study", "count", "trials", hours_unit, "energy (kWh)", "CO2e (kg)", "cost ($)"),
                tuple(study_rows),
            )
        )


@app.command()
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
) -> None:
    """Simulate a campaign: P5/P50/P95 of trials, GPU-hours, wall clock, kWh, CO2e and $."""
    from tunecost.simulate import simulate as run_simulation

    with _user_errors():
        if calibration is not None and calibration.is_dir():
            raise ConfigError(f"--calibration {calibration} is a directory; give the JSON file")
        loaded = load_config(config, calibration=calibration)
        campaigns: list[CampaignConfig] = (
            list(loaded.scenarios) if isinstance(loaded, ScenarioSet) else [loaded]
        )
        summaries = []
        bar, task = _progress_bar()
        with bar:
            for campaign in campaigns:
                bar.update(task, description=escape(campaign.name), completed=0)
                # One file per scenario, named after it: only characters safe in a file name
                # (a scenario "a/b" must not become a folder).
                tag = re.sub(r"[^\w.-]+", "_", campaign.name)
                ledger_path = ledger
                if ledger is not None and len(campaigns) > 1:
                    ledger_path = ledger.with_name(f"{ledger.stem}.{tag}{ledger.suffix}")
                timeline_path = timeline
                if timeline is not None and len(campaigns) > 1:
                    timeline_path = timeline.with_name(f"{timeline.stem}.{tag}{timeline.suffix}")
                result = run_simulation(
                    campaign,
                    replicates=replicates,
                    seed=seed,
                    ledger=ledger_path,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                    backend=backend,
                    address=address,
                    chunk_size=chunk_size,
                    engine=engine,  # type: ignore[arg-type]
                    timeline=timeline_path,
                )
                summaries.append(result.summary())
    for summary in summaries:
        for message in summary["assumptions"].get("warnings", ()):
            _warn(message)
    if as_json:
        _print_json(
            summaries[0] if len(summaries) == 1 else {"name": loaded.name, "scenarios": summaries}
        )
        return
    for summary in summaries:
        _render_campaign(summary)


@app.command()
def calibrate(
    out: Annotated[Path, typer.Option(help="Where to write the calibration JSON.")],
    records: Annotated[
        Path | None, typer.Option(help="JSON Lines file of trial records (tunecost or H200).")
    ] = None,
    optuna_storage: Annotated[
        str | None,
        typer.Option(
            help="Optuna storage: an SQLAlchemy URL (sqlite:///study.db) or a JournalStorage "
            "file (journal:///path/study.log, or its bare path)."
        ),
    ] = None,
    study: Annotated[str | None, typer.Option(help="Optuna study name.")] = None,
    ray_results: Annotated[
        Path | None, typer.Option(help="Ray Tune experiment folder (needs --metric).")
    ] = None,
    metric: Annotated[str | None, typer.Option(help="Objective key in Ray results.")] = None,
    mode: Annotated[
        str | None,
        typer.Option(
            "--mode",
            "--direction",
            help="The objective's direction: min, max, minimize or maximize. Default: the "
            "Optuna study's own; min for Ray Tune.",
        ),
    ] = None,
    codecarbon: Annotated[
        Path | None,
        typer.Option(
            help="A CodeCarbon emissions.csv: alone, one trial per row; with --optuna-storage "
            "or --ray-results, joined to the trials it measured: by name (project_name or "
            "task_name 'trial-<number>', or the Ray trial id), else by time (the row lies "
            "within the trial's start and end)."
        ),
    ] = None,
    accelerator: Annotated[
        str | None, typer.Option(help="Catalog accelerator the trials ran on (bounds power).")
    ] = None,
    repeats: Annotated[
        Path | None,
        typer.Option(help="Records of repeated configurations (JSON Lines), for seed noise."),
    ] = None,
    folds: Annotated[int, typer.Option(min=2, help="Cross-validation folds (>= 2).")] = 5,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the fold shuffling (>= 0).")] = 0,
    evaluate: Annotated[
        Path | None,
        typer.Option(help="Also predict these records (JSON Lines) and report the error."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the calibration as JSON.")
    ] = False,
) -> None:
    """Fit per-trial cost models on a measured study; choose forms by cross-validation.

    Every warning (estimated energy, skipped trials, unmatched CodeCarbon rows) is printed
    as one line on stderr.
    """
    import warnings

    from tunecost import calibrate as cal

    def print_warnings(caught: list[warnings.WarningMessage]) -> None:
        # Each distinct warning once, as one line (not Python's file:line + source form).
        seen: set[str] = set()
        for w in caught:
            if type(w.message).__name__ == "ExperimentalWarning":
                continue  # Optuna's notes on its own experimental APIs
            text = " ".join(str(w.message).split())
            if text and text not in seen:
                seen.add(text)
                _err.print(f"warning: {text}", markup=False, highlight=False, soft_wrap=True)

    with _user_errors(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = cal.calibrate(
                records=records,
                optuna_storage=optuna_storage,
                study=study,
                ray_results=ray_results,
                metric=metric,
                mode=mode,
                codecarbon=codecarbon,
                accelerator=accelerator,
                n_folds=folds,
                repeats=() if repeats is None else cal.read_records(repeats),
                rng=seed,
                out=out,
            )
            evaluation = (
                None if evaluate is None else cal.evaluate_on(result, cal.read_records(evaluate))
            )
        finally:
            print_warnings(caught)
    if as_json:
        data = result.model_dump(mode="json")
        if evaluation is not None:
            data["evaluation"] = evaluation
        _print_json(data)
        return
    _render_calibration(result, evaluation, out)


def _render_calibration(result: Any, evaluation: dict[str, Any] | None, out: Path) -> None:
    rows = []
    energy_label = (
        f"energy ({result.energy_scope}{', estimated' if result.energy_estimated else ''})"
    )
    for target, model in (("duration", result.duration), (energy_label, result.energy)):
        if model is None:
            continue
        for form, err in model.cv_mdape_pct.items():
            rows.append(
                (
                    target,
                    form + (" ✓" if form == model.form else ""),
                    f"{err:.1f} %",
                    f"{model.cv_mape_pct[form]:.1f} %",
                )
            )
    notes = [
        f"{result.n_records} trials of {result.study!r}; written to {out}",
        "search space: "
        + ", ".join(
            (f"{k} [{v.low:g}, {v.high:g}]{' log' if v.log else ''}"
             if v.type != "categorical"
             else f"{k} {v.choices}")
            + ("" if v.condition is None else
               f" (if {v.condition.parent} in {list(v.condition.values)})")
            for k, v in result.space.items()
        ),
    ]
    if result.energy_sources:
        notes.append(f"{result.energy_scope} energy from {', '.join(result.energy_sources)}")
    if result.energy is None:
        notes.append(
            "no energy model (duration only: the trials carry no usable energy figure); "
            "simulate and report estimate energy from the study's power: setting or its "
            "catalog accelerator, and say so"
        )
    elif result.energy_estimated:
        notes.append(
            f"the {result.energy_scope} energy the model was fitted on is partly estimated "
            "(a model of the hardware, not a meter reading)"
        )
    notes.extend(result.notes)
    if result.learning_curve is not None:
        lc = result.learning_curve
        notes.append(
            "rank correlation of early and final values (what pruning relies on): "
            + ", ".join(
                f"f={f:.2f}: {r:.2f}" for f, r in zip(lc.f_grid, lc.spearman, strict=False)
                if r is not None
            )
        )
    if result.report_schedule is not None:
        notes.append(f"trials report {result.report_schedule.describe()}")
    if result.setup is not None:
        notes.append(f"set-up before the first step: {result.setup.duration_s:.3g} s"
                     + ("" if result.setup.energy_j is None
                        else f", {result.setup.energy_j:.3g} J"))
    if result.trial_overhead is not None:
        o = result.trial_overhead
        notes.append(f"framework overhead between trials: median {o.median_s:.3g} s, mean "
                     f"{o.mean_s:.3g} s ({len(o.samples_s)} gaps, {o.workers} at a time)")
    _render(
        TextTable(
            "Calibration: cross-validated error of each candidate form",
            ("target", "form", "median abs % error", "mean abs % error"),
            tuple(rows),
            tuple(notes),
        )
    )
    cv = result.curve_model.cv if result.curve_model is not None else None
    if cv is not None:
        rc = [r for r in cv.rank_corr if r is not None]
        _render(
            TextTable(
                "Learning-curve model, leave one trial out",
                ("at each report", "curve model", "linear trend", "random"),
                (
                    ("median rule", f"{100 * cv.median_rule_agreement:.0f} %",
                     f"{100 * cv.baseline_median_rule_agreement:.0f} %", "50 %"),
                    ("keep best third", f"{100 * cv.top_third_agreement:.0f} %",
                     f"{100 * cv.baseline_top_third_agreement:.0f} %", "56 %"),
                    ("rank correlation", f"{min(rc):.2f}–{max(rc):.2f}" if rc else "—", "",
                     "0"),
                    ("value error", f"{cv.value_mdape_pct:.1f} %", "", ""),
                ),
                (f"{len(result.curve_model.X)} curves on {len(cv.grid)} report positions "
                 f"({result.curve_model.axis} axis); a rule decides the same when it keeps or "
                 "prunes a held-out trial on its predicted value as on its measured one; "
                 "rank correlation: lowest–highest over the reports; value error: median "
                 "absolute",),
            )
        )
    if evaluation is not None:
        _render(
            TextTable(
                "Prediction of other records",
                ("target", "median abs % error", "median signed % error"),
                tuple(
                    (
                        t,
                        f"{evaluation[f'{t}_mdape_pct']:.1f} %",
                        f"{evaluation[f'{t}_median_signed_pct']:+.1f} %",
                    )
                    for t in ("duration", "energy")
                    if evaluation.get(f"{t}_mdape_pct") is not None
                ),
            )
        )


@app.command()
def report(
    out: Annotated[
        Path,
        typer.Option(help="Folder to write the report into (new, empty, or a previous report: "
                     "it is replaced whole)."),
    ],
    config: Annotated[
        Path | None, typer.Argument(help="Campaign file (.yaml, .yml or .toml).")
    ] = None,
    calibration: Annotated[
        Path | None,
        typer.Option(help="Calibration JSON; alone, the campaign is its study re-run."),
    ] = None,
    records: Annotated[
        Path | None, typer.Option(help="Measured trials (JSON Lines): importances, expected max.")
    ] = None,
    repeats: Annotated[
        Path | None, typer.Option(help="Repeated configurations (JSON Lines): seed variance.")
    ] = None,
    optuna_storage: Annotated[
        str | None, typer.Option(help="Optuna storage URL to read the trials from.")
    ] = None,
    study: Annotated[str | None, typer.Option(help="Optuna study name.")] = None,
    ray_results: Annotated[
        Path | None,
        typer.Option(help="Ray Tune experiment folder to read the trials from (needs --metric)."),
    ] = None,
    metric: Annotated[str | None, typer.Option(help="Objective key in Ray results.")] = None,
    accelerator: Annotated[
        str | None, typer.Option(help="Catalog accelerator of the measured trials.")
    ] = None,
    direction: Annotated[
        str | None,
        typer.Option(
            "--direction", "--mode",
            help="min/minimize or max/maximize (default: the calibration's or the study's, "
            "else minimize).",
        ),
    ] = None,
    replicates: Annotated[
        int | None, typer.Option(help="Campaign replicates (default: the config's).")
    ] = None,
    engine: Annotated[
        str,
        typer.Option(help="'vectorized', 'replay' or 'auto', as in tunecost simulate."),
    ] = "auto",
    sobol_n: Annotated[int, typer.Option(help="SALib base sample size N (power of 2).")] = 256,
    seed: Annotated[int | None, typer.Option(help="Root seed (default: the config's).")] = None,
) -> None:
    """Report: P5/P50/P95 totals, tuning multiplier, what moves them; Markdown, HTML, PNG,
    JSON and CSV."""
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from tunecost.reports import build_report

    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=_err,
        disable=not _err.is_terminal,
        transient=True,
    )
    tasks: dict[str, Any] = {}

    def progress(step: str, done: int, total: int) -> None:
        if step not in tasks:
            tasks[step] = bar.add_task(escape(step), total=total)
        bar.update(tasks[step], completed=done, total=total)

    # SIGTERM (`kill`, a CI timeout) raises SystemExit(143), so the report's clean-up runs
    # and no temporary folder is left beside --out (as on Ctrl-C).
    import signal
    import threading

    def _exit(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _exit) if in_main else None
    try:
        with _user_errors(), bar:
            files = build_report(
                config,
                out=out,
                calibration=calibration,
                records=records,
                repeats=repeats,
                optuna_storage=optuna_storage,
                study=study,
                ray_results=ray_results,
                metric=metric,
                accelerator=accelerator,
                direction=direction,
                replicates=replicates,
                engine=engine,
                sobol_n=sobol_n,
                seed=seed,
                progress=progress,
            )
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
    # The answer first, in the report's order: totals, tuning multiplier, what moves them.
    # Names and paths are plain text: rich would read "run[/bold].yaml" as markup and ":x:"
    # as an emoji.
    from rich.text import Text

    if files.totals:
        n_reps = files.data["totals"]["replicates"]
        t = Table(title=Text(f"{files.data['title']}: {n_reps:,} replicates"),
                  title_justify="left")
        for i, col in enumerate(("total", "P5", "P50", "P95")):
            t.add_column(Text(col), justify="left" if i == 0 else "right")
        for row in files.totals:
            t.add_row(*(Text(c) for c in row))
        _out.print(t)
    for line in (files.multiplier, files.headline):
        if line:
            _out.print(line, markup=False, emoji=False, highlight=False, soft_wrap=True)
    _out.print(
        f"wrote {files.html}, {files.markdown}, {files.json}, "
        f"{len(files.pngs)} PNG and {len(files.csvs)} CSV files in {files.out}",
        markup=False,
        emoji=False,
        highlight=False,
        soft_wrap=True,
    )


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
