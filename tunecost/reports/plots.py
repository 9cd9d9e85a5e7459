"""The report's figures: matplotlib ``Figure`` objects on the Agg canvas, saved as PNG.

No pyplot: figures are built directly (``matplotlib.figure.Figure``), so nothing touches the
global backend or interactive state, and plotting is safe in any process. Each function takes
the numbers a report section computed and a path, writes the PNG atomically and returns the
path; the same numbers go to the report's JSON and CSV.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tunecost._atomic import atomic_open
from tunecost.exceptions import MissingExtraError

__all__ = [
    "PLAIN_TEXT",
    "breakdown_png",
    "expected_best_png",
    "importance_png",
    "marginals_png",
    "seed_variance_png",
    "plain_texts",
    "sobol_figure",
    "sobol_png",
    "tornado_figure",
    "tornado_png",
]

_DPI = 100
_C = ("#1f5fa8", "#d1495b", "#edae49", "#00798c", "#66a182", "#8d6a9f", "#7f7f7f")

UNIT_LABELS = {
    "n_trials": "trials",
    "gpu_hours": "GPU-hours",
    "energy_kwh": "kWh",
    "co2e_kg": "kgCO2e",
    "usd": "US dollars",
}
TOTAL_LABELS = {
    "energy_kwh": "energy (kWh)",
    "co2e_kg": "CO2e (kg)",
    "cost_usd": "cloud cost ($)",
    "electricity_usd": "electricity ($)",
}


PLAIN_TEXT = {"text.parse_math": False, "text.usetex": False}
"""rcParams every figure is built and saved under: text is never mathtext or TeX."""


def _plain_text(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Build and save the figure under :data:`PLAIN_TEXT` (tick labels made at draw time
    read the rcParams then, so the save is inside the context too)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import matplotlib

        with matplotlib.rc_context(PLAIN_TEXT):
            return fn(*args, **kwargs)

    return wrapper


def _figure(w: float, h: float) -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - depends on the environment
        raise MissingExtraError("matplotlib", "plot") from None
    fig = Figure(figsize=(w, h), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def plain_texts(fig: Any) -> list[Any]:
    """Every text object of ``fig`` (titles, labels, tick labels, legends), math parsing off."""
    from matplotlib.text import Text

    texts = fig.findobj(Text)
    for t in texts:
        t.set_parse_math(False)
    return texts


def _drawn(fig: Any) -> Any:
    fig.canvas.draw()  # creates the tick labels, so that plain_texts reaches them too
    plain_texts(fig)
    return fig


def _save(fig: Any, path: Path) -> Path:
    plain_texts(fig)  # texts made later, at draw time, read PLAIN_TEXT (see _plain_text)
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=_DPI)
    return Path(path)


@_plain_text
def importance_png(importances: Mapping[str, Mapping[str, Mapping[str, float]]],
                   params: Sequence[str], path: Path) -> Path:
    """Grouped bars: each parameter's importance for each target, one panel per evaluator."""
    evs = list(importances)
    fig = _figure(4.2 * len(evs) + 1, 3.6)
    axes = fig.subplots(1, len(evs), squeeze=False)[0]
    for ax, ev in zip(axes, evs, strict=True):
        targets = list(importances[ev])
        y = np.arange(len(params))
        h = 0.8 / max(1, len(targets))
        for k, t in enumerate(targets):
            vals = [importances[ev][t].get(p, 0.0) for p in params]
            ax.barh(y + k * h - 0.4 + h / 2, vals, height=h, color=_C[k], label=t)
        ax.set_yticks(y, params)
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.set_xlabel("normalised importance")
        ax.set_title({"ped_anova": "PED-ANOVA", "fanova": "fANOVA"}.get(ev, ev))
        ax.grid(axis="x", alpha=0.3)
    axes[0].legend(loc="lower right", fontsize=8)
    return _save(fig, path)


@_plain_text
def marginals_png(
    columns: Mapping[str, np.ndarray],
    params: Sequence[str],
    targets: Mapping[str, str],
    log_params: Sequence[str],
    path: Path,
) -> Path:
    """Scatter of each target against each parameter, with a binned median line."""
    fig = _figure(2.3 * len(params) + 0.6, 2.1 * len(targets) + 0.4)
    axes = fig.subplots(len(targets), len(params), squeeze=False)
    for r, (t, label) in enumerate(targets.items()):
        y = np.asarray(columns[t], dtype=float)
        for c, p in enumerate(params):
            ax = axes[r, c]
            x = np.asarray(columns[p], dtype=float)
            ok = np.isfinite(x) & np.isfinite(y)
            ax.scatter(x[ok], y[ok], s=12, color=_C[r], alpha=0.7, linewidths=0)
            if p in log_params:
                ax.set_xscale("log")
                _plain_log_axis(ax, "x")
            if t != "objective":
                ax.set_yscale("log")
                _plain_log_axis(ax, "y")
            _binned_median(ax, x[ok], y[ok], log=p in log_params)
            if r == len(targets) - 1:
                ax.set_xlabel(p)
            if c == 0:
                ax.set_ylabel(label, fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
    return _save(fig, path)


def _plain_log_axis(ax: Any, axis: str) -> None:
    """Label only the decades of a log axis (minor labels overlap in small panels)."""
    from matplotlib.ticker import NullFormatter

    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_minor_formatter(NullFormatter())


def _binned_median(ax: Any, x: np.ndarray, y: np.ndarray, *, log: bool) -> None:
    if x.size < 6 or np.unique(x).size < 3:
        return
    edges = np.quantile(x, np.linspace(0, 1, 5))
    edges = np.unique(edges)
    mids, meds = [], []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        sel = (x >= lo) & (x <= hi)
        if sel.sum():
            mids.append(np.sqrt(lo * hi) if log and lo > 0 else (lo + hi) / 2)
            meds.append(np.median(y[sel]))
    ax.plot(mids, meds, color="black", lw=1.2)


@_plain_text
def seed_variance_png(configs: Sequence[Mapping[str, Any]], search_std: float | None,
                      path: Path) -> Path:
    """Each repeated configuration's runs: objective, duration, energy."""
    keys = [("values", "final objective"), ("durations_s", "duration (s)"),
            ("energies_j", "energy (J)")]
    fig = _figure(10, 3.2)
    axes = fig.subplots(1, 3)
    for ax, (k, label) in zip(axes, keys, strict=True):
        for i, c in enumerate(configs):
            v = np.asarray([x for x in c[k] if x is not None], dtype=float)
            if v.size == 0:
                continue
            jitter = np.linspace(-0.12, 0.12, v.size)
            ax.scatter(i + jitter, v, color=_C[i % len(_C)], s=18)
            ax.errorbar(i + 0.3, v.mean(), yerr=v.std(ddof=1) if v.size > 1 else 0,
                        fmt="o", color="black", capsize=4, ms=4)
        ax.set_xticks(range(len(configs)), [f"config {i}" for i in range(len(configs))])
        ax.set_title(label, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    if search_std:
        axes[0].set_xlabel(f"std across the search: {search_std:.3g}", fontsize=8)
    return _save(fig, path)


@_plain_text
def expected_best_png(rows: Sequence[Mapping[str, Any]], units: Sequence[str],
                      estimators: Sequence[str], maximize: bool, path: Path, *,
                      hours_unit: str = "GPU-hours") -> Path:
    """Expected best score vs budget, one panel per budget unit, bootstrap bands shaded.

    ``hours_unit`` names the ``gpu_hours`` axis (``GPU-hours`` or ``CPU-hours``)."""
    unit_labels = {**UNIT_LABELS, "gpu_hours": hours_unit}
    fig = _figure(3.3 * len(units) + 0.4, 3.4)
    axes = fig.subplots(1, len(units), squeeze=False)[0]
    names = {"dodge2019": "Dodge et al. 2019", "tang2020": "Tang et al. 2020 (unbiased)"}
    for ax, u in zip(axes, units, strict=True):
        x = np.array([r[u] for r in rows], dtype=float)
        for k, e in enumerate(estimators):
            y = np.array([r[e] for r in rows], dtype=float)
            lo = np.array([r[f"{e}_low"] for r in rows], dtype=float)
            hi = np.array([r[f"{e}_high"] for r in rows], dtype=float)
            ax.fill_between(x, lo, hi, color=_C[k], alpha=0.18, linewidth=0)
            ax.plot(x, y, color=_C[k], lw=1.6, label=names.get(e, e))
        ax.set_xscale("log")
        _plain_log_axis(ax, "x")
        ax.set_xlabel(f"budget ({unit_labels.get(u, u)})")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"expected {'best (max)' if maximize else 'best (min)'} objective")
    axes[0].legend(fontsize=8)
    return _save(fig, path)


@_plain_text
def breakdown_png(rows: Sequence[Mapping[str, Any]], edges: Sequence[float],
                  counts: Sequence[int], tm_p50: float, path: Path) -> Path:
    """Energy from one run to the whole campaign (log bars), and the tuning multiplier."""
    fig = _figure(10, 3.6)
    ax, hx = fig.subplots(1, 2, width_ratios=[1.3, 1])
    labels = [f"{r['level']}\n{r['name']}" for r in rows]
    vals = [r["energy_kwh"] for r in rows]
    bars = ax.barh(range(len(rows)), vals, color=[_C[min(i, 2)] for i in
                                                  [0, *([1] * (len(rows) - 2)), 2]])
    ax.set_xscale("log")
    _plain_log_axis(ax, "x")
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("energy, kWh (P50, log scale)")
    for b, r in zip(bars, rows, strict=True):
        ax.text(b.get_width(), b.get_y() + b.get_height() / 2,
                f" {r['x_reference']:,.1f}×", va="center", fontsize=8)
    ax.set_title("where the cost explodes", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    e = np.asarray(edges)
    hx.bar((e[:-1] + e[1:]) / 2, counts, width=np.diff(e), color=_C[3], alpha=0.8)
    hx.axvline(tm_p50, color="black", lw=1)
    hx.set_xlabel("tuning multiplier (campaign energy / one run)")
    hx.set_ylabel("replicates")
    hx.set_title(f"tuning multiplier, P50 {tm_p50:,.1f}×", fontsize=10)
    return _save(fig, path)


@_plain_text
def tornado_png(tornado: Any, totals: Sequence[str], path: Path) -> Path:
    """One tornado per total: bars from the low-end to the high-end value, largest first."""
    return _save(tornado_figure(tornado, totals), path)


@_plain_text
def tornado_figure(tornado: Any, totals: Sequence[str]) -> Any:
    """The figure :func:`tornado_png` saves, drawn, every text plain."""
    fig = _figure(4.6 * len(totals), 3.8)
    axes = fig.subplots(1, len(totals), squeeze=False)[0]
    order = tornado.ranking
    labels = {a.name: a.label for a in tornado.assumptions}
    for ax, t in zip(axes, totals, strict=True):
        base = tornado.base[t]
        y = np.arange(len(order))
        for i, n in enumerate(order):
            lo, hi = tornado.low[n][t], tornado.high[n][t]
            ax.barh(i, lo - base, left=base, color=_C[0], height=0.6)
            ax.barh(i, hi - base, left=base, color=_C[1], height=0.6)
        ax.axvline(base, color="black", lw=1)
        ax.set_yticks(y, [labels[n] for n in order], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(TOTAL_LABELS.get(t, t))
        ax.grid(axis="x", alpha=0.3)
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 4))
    axes[0].set_title("blue: low end, red: high end", fontsize=9, loc="left")
    return _drawn(fig)


@_plain_text
def sobol_png(sobol: Any, totals: Sequence[str], labels: Mapping[str, str], path: Path) -> Path:
    """First-order (S1) and total (ST) Sobol indices of each total."""
    return _save(sobol_figure(sobol, totals, labels), path)


@_plain_text
def sobol_figure(sobol: Any, totals: Sequence[str], labels: Mapping[str, str]) -> Any:
    """The figure :func:`sobol_png` saves, drawn, every text plain."""
    fig = _figure(4.6 * len(totals), 3.8)
    axes = fig.subplots(1, len(totals), squeeze=False)[0]
    names = sobol.names
    y = np.arange(len(names))
    for ax, t in zip(axes, totals, strict=True):
        idx = sobol.indices[t]
        ax.barh(y - 0.2, np.clip(idx["S1"], 0, None), height=0.4, color=_C[0], label="S1",
                xerr=idx["S1_conf"], error_kw={"lw": 0.8})
        ax.barh(y + 0.2, np.clip(idx["ST"], 0, None), height=0.4, color=_C[2], label="ST",
                xerr=idx["ST_conf"], error_kw={"lw": 0.8})
        ax.set_yticks(y, [labels.get(n, n) for n in names], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, 1.05)
        ax.set_xlabel(f"Sobol index of {TOTAL_LABELS.get(t, t)}")
        ax.grid(axis="x", alpha=0.3)
    axes[0].legend(fontsize=8, loc="lower right")
    return _drawn(fig)
