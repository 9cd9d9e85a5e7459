"""The answer's first table: P5/P50/P95 of each campaign total, as the report and CLI print it."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from tunecost.reports.formatting import figure, money
from tunecost.reports.render import Table

__all__ = ["TOTAL_ROWS", "hours_unit", "totals_data", "totals_rows", "totals_table"]

TOTAL_ROWS = (
    ("n_trials", "trials"),
    ("gpu_hours", None),  # the summary's hours_unit
    ("wall_clock_h", "wall clock (hours)"),
    ("energy_kwh", "energy (kWh)"),
    ("co2e_kg", "CO2e (kg)"),
    ("cost_usd", "cloud cost ($)"),
    ("electricity_usd", "electricity ($)"),
)
"""``(summary metric, row label)`` in report order; ``None``: the label is :func:`hours_unit`."""


def hours_unit(summary: Mapping[str, Any]) -> str:
    """What the summary's ``gpu_hours`` counts: ``GPU-hours`` or ``CPU-hours``.

    Example:
        >>> hours_unit({"hours_unit": "CPU-hours"}), hours_unit({})
        ('CPU-hours', 'GPU-hours')
    """
    return str(summary.get("hours_unit") or "GPU-hours")


def _trials(x: Any) -> str:
    # A count of trials is whole: no significant figures unless it is a fraction.
    return figure(x) if x is None or not math.isfinite(x) or abs(x) < 1 else f"{x:,.0f}"


def totals_rows(summary: Mapping[str, Any]) -> list[list[str]]:
    """``[label, P5, P50, P95]`` of each total the simulation summary has, in report order.

    Example:
        >>> totals_rows({"metrics": {"n_trials": {"p5": 40, "p50": 40, "p95": 41},
        ...                          "cost_usd": {"p5": 1.5, "p50": 2.0, "p95": 2.25}}})
        [['trials', '40', '40', '41'], ['cloud cost ($)', '$1.50', '$2.00', '$2.25']]
    """
    rows = []
    for key, label in TOTAL_ROWS:
        stats = summary["metrics"].get(key)
        if stats is None:
            continue
        fmt = _trials if key == "n_trials" else money if key.endswith("_usd") else figure
        rows.append([label or hours_unit(summary), *(fmt(stats[q]) for q in ("p5", "p50", "p95"))])
    return rows


def totals_table(summary: Mapping[str, Any]) -> Table:
    """The totals as a report table, its caption naming the campaign, replicates and seed."""
    engine = summary.get("engine")
    return Table(
        ["total", "P5", "P50", "P95"], totals_rows(summary),
        f"Totals of {summary['name']!r}: {summary['replicates']:,} replicates, seed "
        f"{summary['seed']}" + (f", {engine} engine" if engine else ""),
    )


def totals_data(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The totals unformatted, for ``report.json``: ``hours_unit``, ``replicates`` and
    ``{metric: {"p5", "p50", "p95"}}`` (``None`` for a total the campaign has not)."""
    return {
        "hours_unit": hours_unit(summary), "replicates": summary["replicates"],
        **{k: ({q: summary["metrics"][k][q] for q in ("p5", "p50", "p95")}
               if summary["metrics"].get(k) is not None else None)
           for k, _ in TOTAL_ROWS},
    }
