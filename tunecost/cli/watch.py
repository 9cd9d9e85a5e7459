"""``tunecost watch``: a running study's spend, the forecast of its end, and its budget, live.

Parses, calls :func:`tunecost.live.watch.snapshot` (every ``--interval`` seconds: the
forecast is recomputed only when more trials have finished) and renders: a table of spent
and P5/P50/P95 totals with the completion time, and a bar toward the budget with the P50
forecast marked. Exits when the study has run its trials, or on Ctrl-C (exit status 0).
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.table import Table
from rich.text import Text

from tunecost._errors import one_line
from tunecost.cli.console import number, out, print_json
from tunecost.cli.errors import user_errors
from tunecost.cli.signals import sigterm_exits
from tunecost.exceptions import ConfigError

__all__ = ["watch"]

ROWS = (
    ("trials", "trials"),
    ("device_hours", "device-hours"),
    ("wall_clock_h", "wall clock (h)"),
    ("energy_kwh", "energy (kWh)"),
    ("co2e_kg", "CO2e (kg)"),
    ("usd", "cost ($)"),
)
"""The table's rows: a :data:`~tunecost.live.METRICS` key and its label."""

BAR_WIDTH = 30
"""Characters of the budget bar (the limit is its right end)."""


def watch(
    optuna_storage: Annotated[
        str | None,
        typer.Option(help="Optuna storage: an SQLAlchemy URL (sqlite:///study.db) or a "
                     "JournalStorage file (journal:///path/study.log, or its bare path)."),
    ] = None,
    study: Annotated[str | None, typer.Option(help="Optuna study name.")] = None,
    ray_results: Annotated[
        Path | None,
        typer.Option(help="Ray Tune experiment folder (needs --metric); its "
                     "tunecost_forecast.json is read where a tunecost callback writes one."),
    ] = None,
    metric: Annotated[str | None, typer.Option(help="Objective key in Ray results.")] = None,
    mode: Annotated[
        str | None, typer.Option(help="Ray objective's direction: min or max (default min).")
    ] = None,
    strategy: Annotated[
        str | None,
        typer.Option(help="Ray: the remaining trials' search, a config strategy as JSON "
                     "('{\"kind\": \"ray_tune\", \"scheduler\": {...}}') or a .json file; "
                     "without it a Ray experiment shows what is spent only."),
    ] = None,
    n_trials: Annotated[
        int | None,
        typer.Option(min=1, help="Trials the study runs in all (default: the study's own "
                     "tunecost:n_trials, else required)."),
    ] = None,
    budget_kwh: Annotated[
        float | None, typer.Option(help="Energy budget, kWh (facility energy, with --pue).")
    ] = None,
    budget_kgco2e: Annotated[
        float | None, typer.Option(help="Carbon budget, kgCO2e (needs --g-co2e-per-kwh).")
    ] = None,
    budget_usd: Annotated[
        float | None,
        typer.Option(help="Cost budget, $ (needs --usd-per-kwh or --usd-per-device-hour)."),
    ] = None,
    stop_when: Annotated[
        str | None,
        typer.Option(help="When the budget says stop: 'spent' (the finished trials spent it; "
                     "the default), 'forecast_p95' or 'forecast_p50' (the forecast's final "
                     "total exceeds it). Watch only reports the verdict; the callbacks act."),
    ] = None,
    prior: Annotated[
        Path | None,
        typer.Option(help="Calibration JSON (tunecost calibrate) to forecast from until the "
                     "study has enough finished trials to recalibrate on."),
    ] = None,
    g_co2e_per_kwh: Annotated[
        float | None, typer.Option(help="Grid intensity, gCO2e/kWh (adds the CO2e row).")
    ] = None,
    usd_per_kwh: Annotated[
        float | None, typer.Option(help="Electricity price, $/kWh (adds the cost row).")
    ] = None,
    usd_per_device_hour: Annotated[
        float | None, typer.Option(help="Rental price of one trial's device, $/h.")
    ] = None,
    pue: Annotated[float, typer.Option(help="Facility overhead on measured energy, >= 1.")] = 1.0,
    replicates: Annotated[
        int, typer.Option(min=1, help="Replays of the remaining trials per forecast.")
    ] = 32,
    interval: Annotated[
        float, typer.Option(min=0.05, help="Seconds between refreshes (live mode).")
    ] = 5.0,
    once: Annotated[bool, typer.Option("--once", help="Print the state once and exit.")] = False,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="JSON (schema_version 1): one object with --once; else one "
                     "line each time more trials have finished, until the study ends."),
    ] = False,
) -> None:
    """Watch a running study: spent and P5/P50/P95 forecast totals, live, against a budget.

    Reads an Optuna storage (--optuna-storage, --study) or a Ray Tune experiment
    (--ray-results, --metric) every --interval seconds while trials finish. The
    table: trials, device-hours, wall clock, kWh, kgCO2e and $ spent so far and
    forecast at the study's end (P5/P50/P95), and when it ends. The bar: the
    budget spent, and where the P50 forecast lands. The forecast (a refit on the
    finished trials, replays of the rest) is recomputed only when more trials
    have finished; one a tunecost callback stored for the same trials is used.
    Exits when the study has run its trials, or on Ctrl-C.
    """
    from tunecost.live.budget import Budget
    from tunecost.live.watch import WatchSource, snapshot

    with user_errors():
        source = WatchSource.of(optuna_storage=optuna_storage, study=study,
                                ray_results=ray_results, metric=metric, mode=mode)
        given = [b for b in (budget_kwh, budget_kgco2e, budget_usd) if b is not None]
        if stop_when is not None and not given:
            raise ConfigError("--stop-when needs a budget (--budget-kwh, --budget-kgco2e or "
                              "--budget-usd)")
        budget = None if not given else Budget.of(
            budget_kwh=budget_kwh, budget_kgco2e=budget_kgco2e, budget_usd=budget_usd,
            stop_when=stop_when or "spent")  # type: ignore[arg-type]
        settings: dict[str, Any] = {
            "g_co2e_per_kwh": g_co2e_per_kwh, "usd_per_kwh": usd_per_kwh,
            "usd_per_device_hour": usd_per_device_hour, "pue": pue, "prior": prior,
            "replicates": replicates, "strategy": _strategy(strategy)}

        def look(previous: Any = None) -> Any:
            return snapshot(source, n_trials=n_trials, budget=budget, previous=previous,
                            **settings)

        state = look()
    if once:
        if as_json:
            print_json(state.to_dict())
        else:
            out.print(_view(state))
        return
    _live(state, look, interval_s=interval, as_json=as_json)


def _live(state: Any, look: Any, *, interval_s: float, as_json: bool) -> None:
    """Refresh until the study is done, or Ctrl-C (exit status 0) / SIGTERM (143). On a
    terminal, a live table; else (a log, a pipe) one line each time more trials have
    finished and the table at the end; with ``--json``, JSON Lines."""
    from rich.live import Live

    def emit(s: Any) -> None:
        if as_json:
            typer.echo(json.dumps(s.to_dict()))
        else:
            out.print(_line(s), highlight=False, soft_wrap=True)

    live = Live(_view(state), console=out, auto_refresh=False) \
        if out.is_terminal and not as_json else None
    try:
        with sigterm_exits():
            if live is None:
                emit(state)
            else:
                live.start(refresh=True)
            while not state.done:
                time.sleep(interval_s)
                state, changed = _refresh(state, look)
                if live is not None:
                    live.update(_view(state), refresh=True)
                elif changed:
                    emit(state)
    except KeyboardInterrupt:
        pass
    finally:
        if live is not None:
            live.stop()  # the last table stays on the screen
    if live is None and not as_json:
        out.print(_view(state))


def _refresh(state: Any, look: Any) -> tuple[Any, bool]:
    """The next state, and whether more trials have finished; a refresh that fails (a
    storage busy with a write, a results file half written) keeps the state, with a note."""
    try:
        new = look(state)
    except Exception as exc:
        note = f"refresh at {time.strftime('%H:%M:%S')} failed: {one_line(exc)}"
        return dataclasses.replace(state, notes=(*state.notes, note)[-3:]), False
    return new, new.n_finished != state.n_finished


def _strategy(text: str | None) -> dict[str, Any] | None:
    """``--strategy``: inline JSON or a .json file, a config ``strategy`` mapping."""
    if text is None:
        return None
    raw = text if text.lstrip().startswith("{") else None
    if raw is None:
        path = Path(text)
        if not path.is_file():
            raise ConfigError(f"--strategy {text!r}: neither JSON nor a file")
        raw = path.read_text(encoding="utf-8")
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ConfigError(f"--strategy is not JSON: {one_line(exc)}") from None
    if not isinstance(value, dict) or "kind" not in value:
        raise ConfigError("--strategy must be a JSON object with a 'kind' "
                          "({\"kind\": \"ray_tune\", ...})")
    return value


def _view(state: Any) -> Group:
    """The table of spent and forecast totals, the budget bar, and the notes."""
    fc = state.forecast
    band = fc is not None and bool(fc.p50)
    basis = "spent only" if fc is None else fc.basis
    title = (f"{state.study}: {state.n_finished}/{state.n_trials} trials finished, "
             f"{state.n_running} running [{basis}]")
    t = Table(title=title, title_justify="left")
    t.add_column("total")
    for col in ("spent", "P5", "P50", "P95"):
        t.add_column(col, justify="right")
    for key, label in ROWS:
        if key not in state.spent:
            continue
        q = [number(getattr(fc, p).get(key)) if band else "—" for p in ("p5", "p50", "p95")]
        t.add_row(label, number(state.spent[key]), *q)
    from tunecost.live._forecast import clock

    ends = ["—"] * 3
    if band and fc.completion_s:
        ends = [clock(fc.completion_s[p], state.now_s) for p in ("p5", "p50", "p95")]
    t.add_row("ends", "done" if state.done else "", *ends)
    parts: list[Any] = [t]
    if state.budget is not None:
        parts.append(_bar(state))
    if state.verdict is not None:
        parts.append(Text.assemble(("stop: ", "bold red"), state.verdict))
    if state.stop_reason is not None:
        parts.append(Text(f"the study's budget callback stopped it: {state.stop_reason}"))
    if fc is not None and not band:
        parts.append(Text(f"no forecast yet: {fc.notes[-1] if fc.notes else fc.basis}"))
    notes = [*state.notes, *(() if fc is None else fc.notes)]
    if fc is not None and (fc.replicates or state.forecast_from != "computed"):
        notes.append(f"forecast {state.forecast_from}"
                     + (f" at {fc.n_finished} finished trials, {fc.replicates} replays in "
                        f"{fc.compute_s:.2g} s" if state.forecast_from != "previous"
                        or fc.compute_s else ""))
    parts.extend(Text(f"  • {n}", style="dim") for n in notes)
    return Group(*parts)


def _bar(state: Any) -> Text:
    """``budget [█████▒▒▒┃░░░░] … of … kWh spent (x %); final P50 y %, P95 z %``: █
    spent, ▒ up to the P50 forecast, ┃ the P50, ░ the rest of the budget; past the limit,
    ▶ and the excess."""
    b = state.budget
    used = state.fraction("spent") or 0.0
    p50 = state.fraction("p50")
    n_used = min(round(used * BAR_WIDTH), BAR_WIDTH)
    mark = None if p50 is None else min(round(p50 * BAR_WIDTH), BAR_WIDTH)
    bar = Text("budget [")
    style = "red" if used >= 1 else "yellow" if (p50 or 0) > 1 else "green"
    bar.append("█" * n_used, style=style)
    if mark is not None and mark > n_used:
        bar.append("▒" * (mark - n_used - 1), style="yellow" if p50 > 1 else "cyan")
        bar.append("┃" if p50 <= 1 else "▒", style="bold")
        bar.append("░" * (BAR_WIDTH - mark))
    else:
        bar.append("░" * (BAR_WIDTH - n_used))
    bar.append("▶" if (p50 or 0) > 1 or used > 1 else "]")
    bar.append(f" {number(state.spent.get(b.metric))} of {number(b.limit)} {b.unit} spent "
               f"({100 * used:.0f} %)")
    if p50 is not None:
        bar.append(f"; final P50 {100 * p50:.0f} %, P95 "
                   f"{100 * (state.fraction('p95') or 0):.0f} %")
    return bar


def _line(state: Any) -> str:
    """One log line: the forecast's :meth:`~tunecost.live.Forecast.line`, and the budget."""
    metric = state.budget.metric if state.budget is not None else "energy_kwh"
    if state.forecast is not None:
        head = dataclasses.replace(state.forecast, spent=state.spent).line(metric)
    else:
        head = (f"tunecost watch {state.study!r} {state.n_finished}/{state.n_trials} trials: "
                f"{metric} spent {number(state.spent.get(metric))}")
    used = state.fraction("spent")
    return head + ("" if used is None else f"; budget {100 * used:.0f} % spent") + (
        "" if state.verdict is None else f"; stop: {state.verdict}")
