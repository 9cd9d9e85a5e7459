"""Section 1's plot of every trial: objective, duration and energy against each hyperparameter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tunecost.calibrate import TrialRecord
from tunecost.reports import plots
from tunecost.reports.context import ReportContext
from tunecost.reports.importance import TARGETS
from tunecost.reports.render import Block, Heading, Image, Para
from tunecost.reports.sections.base import Section

__all__ = ["MarginalsSection", "trial_rows"]


class MarginalsSection(Section):
    """Every complete trial (``trials.csv``), and where a hyperparameter is numeric, its
    per-parameter marginals."""

    def applies(self, ctx: ReportContext) -> bool:
        # With the importances: below 2 trials, section 1 already says what is missing.
        return len(ctx.complete) >= 2

    def render(self, ctx: ReportContext) -> list[Block]:
        done = ctx.complete
        # Every parameter, branch-only ones too (Optuna's evaluators rank only those every
        # trial has; a conditional child is plotted where it was active).
        names = list(dict.fromkeys(p for r in done for p in r.params))
        rows = trial_rows(done, names)
        ctx.tables["trials"] = rows
        targets = {t: lab for t, lab in TARGETS.items()
                   if any(row[t] is not None for row in rows)}
        columns = _numeric_columns(rows, [*names, *targets])
        params = [p for p in names if p in columns and np.isfinite(columns[p]).sum() >= 2]
        if not params:
            return []  # no numeric hyperparameter to plot against
        cal = ctx.inputs.calibration
        log_params = [p for p in params if cal is not None and p in cal.space
                      and cal.space[p].log]
        png = plots.marginals_png(columns, params, targets, log_params,
                                  ctx.out / "marginals.png")
        ctx.pngs.append(png)
        return [
            Heading("Per-parameter marginals", 3),
            Para("Each measured trial's objective, duration and energy against each "
                 "hyperparameter; the black line is the median within quartile bins."),
            Image(png, "per-parameter marginals", ["trials.csv"]),
        ]


def trial_rows(done: Sequence[TrialRecord], names: Sequence[str]) -> list[dict[str, Any]]:
    """One row per trial: ``number``, each of ``names`` (``None`` where inactive),
    ``objective``, ``duration_s`` and ``energy_j`` (accelerator energy, else host energy)."""
    rows = []
    for r in done:
        row: dict[str, Any] = {"number": r.number}
        row.update({p: r.params.get(p) for p in names})
        row.update({"objective": r.value, "duration_s": r.duration_s,
                    "energy_j": r.energy_j if r.energy_j is not None else r.host_energy_j})
        rows.append(row)
    return rows


def _numeric_columns(rows: Sequence[dict[str, Any]],
                     keys: Sequence[str]) -> dict[str, np.ndarray]:
    """``{key: values}`` of the keys whose every value is a number or missing (NaN), not
    all booleans; shape ``(len(rows),)``."""
    return {k: np.array([np.nan if row[k] is None else float(row[k]) for row in rows])
            for k in keys
            if all(isinstance(row[k], int | float | type(None)) for row in rows)
            and not all(isinstance(row[k], bool) for row in rows)}
