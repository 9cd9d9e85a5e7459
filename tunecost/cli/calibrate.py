"""``tunecost calibrate``: fit per-trial cost models on a measured study, choose forms by
cross-validation, and show each candidate's error."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated, Any

import typer

from tunecost.cli.console import print_json, render_table
from tunecost.cli.errors import print_warnings, user_errors
from tunecost.papers import TextTable

__all__ = ["calibrate"]


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
    from tunecost import calibrate as cal

    with user_errors(), warnings.catch_warnings(record=True) as caught:
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
        print_json(data)
        return
    _render_calibration(result, evaluation, out)


def _render_calibration(result: Any, evaluation: dict[str, Any] | None, out: Path) -> None:
    """The cross-validated error of each candidate form, with what the fit found as notes;
    the learning-curve model's decisions; the error on the --evaluate records."""
    render_table(
        TextTable(
            "Calibration: cross-validated error of each candidate form",
            ("target", "form", "median abs % error", "mean abs % error"),
            tuple(_form_rows(result)),
            tuple(_notes(result, out)),
        )
    )
    cv = result.curve_model.cv if result.curve_model is not None else None
    if cv is not None:
        _render_curve_cv(result.curve_model, cv)
    if evaluation is not None:
        _render_evaluation(evaluation)


def _form_rows(result: Any) -> list[tuple[str, ...]]:
    """One row per target and candidate form, the chosen one ticked."""
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
    return rows


def _notes(result: Any, out: Path) -> list[str]:
    """What the calibration was fitted on and found beyond the models' errors."""
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
    return notes


def _render_curve_cv(curve_model: Any, cv: Any) -> None:
    """How often the learning-curve model decides as the measured curves would."""
    rc = [r for r in cv.rank_corr if r is not None]
    render_table(
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
            (f"{len(curve_model.X)} curves on {len(cv.grid)} report positions "
             f"({curve_model.axis} axis); a rule decides the same when it keeps or "
             "prunes a held-out trial on its predicted value as on its measured one; "
             "rank correlation: lowest–highest over the reports; value error: median "
             "absolute",),
        )
    )


def _render_evaluation(evaluation: dict[str, Any]) -> None:
    """The error of the calibration's predictions of the --evaluate records."""
    render_table(
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
