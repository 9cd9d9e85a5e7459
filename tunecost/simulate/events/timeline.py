"""The per-worker timeline of one replicate: a CSV and a Gantt chart coloured by power."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from tunecost._atomic import atomic_open
from tunecost.exceptions import MissingExtraError
from tunecost.simulate.events._queue import STATE_NAMES, Timeline
from tunecost.units import W_PER_KW

__all__ = ["write_timeline"]


def write_timeline(path: Path, tl: Timeline, instance_names: list[str]) -> tuple[Path, Path]:
    """Write ``path`` (CSV) and ``path.with_suffix('.png')`` (Gantt), both atomically.

    CSV columns: ``worker, start_s, end_s, state, power_w, study, trial`` (``trial`` -1 for
    waiting without a job and idle); ``power_w`` is IT power before PUE. In the chart each
    worker is a row, busy intervals are coloured by power (one colour scale, W), waiting
    intervals hatched in grey, idle ones light, the framework's time between trials orange.

    Returns:
        The CSV and PNG paths.

    Raises:
        MissingExtraError: matplotlib is not installed (``tunecost[plot]``).
    """
    order = np.lexsort((np.asarray(tl.start_s), np.asarray(tl.worker)))
    with atomic_open(path, newline="") as fh:
        w = csv.writer(fh)
        w.writerow(("worker", "start_s", "end_s", "state", "power_w", "study", "trial"))
        for i in order:
            kw = tl.power_kw[i]
            w.writerow([tl.worker[i], f"{tl.start_s[i]:.6f}", f"{tl.end_s[i]:.6f}",
                        STATE_NAMES[tl.state[i]], "" if np.isnan(kw) else f"{kw * W_PER_KW:.2f}",
                        instance_names[tl.study[i]], tl.trial[i]])
    png = path.with_suffix(".png")
    _gantt(png, tl)
    return path, png


def _gantt(png: Path, tl: Timeline) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib import colors
    except ImportError:
        raise MissingExtraError("matplotlib", "plot") from None
    worker = np.asarray(tl.worker)
    start = np.asarray(tl.start_s)
    width = np.asarray(tl.end_s) - start
    state = np.asarray(tl.state)
    power_w = np.asarray(tl.power_kw) * W_PER_KW
    busy = state == 0
    fig, ax = plt.subplots(figsize=(10, 0.4 * (max(worker.max(initial=0), 0) + 1) + 1.5))
    lo, hi = (float(np.nanmin(power_w[busy])), float(np.nanmax(power_w[busy]))) \
        if busy.any() else (0.0, 1.0)
    norm = colors.Normalize(vmin=lo, vmax=max(hi, lo + 1e-9))
    cmap = plt.get_cmap("viridis")
    ax.barh(worker[busy], width[busy], left=start[busy], height=0.8,
            color=cmap(norm(power_w[busy])), edgecolor="white", linewidth=0.3)
    wait = state == 1
    ax.barh(worker[wait], width[wait], left=start[wait], height=0.8, color="0.75",
            hatch="///", edgecolor="0.45", linewidth=0.0, label="waiting (idle power)")
    idle = state == 2
    ax.barh(worker[idle], width[idle], left=start[idle], height=0.8, color="0.93",
            label="idle")
    over = state == 3
    ax.barh(worker[over], width[over], left=start[over], height=0.8, color="#f4a261",
            label="between trials (sampler, start-up)")
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="busy power (W)")
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("worker")
    ax.invert_yaxis()
    if wait.any() or idle.any() or over.any():
        ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    with atomic_open(png, "wb") as fh:
        fig.savefig(fh, format="png", dpi=100)
    plt.close(fig)
