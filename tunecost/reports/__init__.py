"""Sensitivity and variance reports: what drives the objective, the cost and the spread.

:func:`build_report` is the one public entry point (``tunecost report`` calls it). From a
campaign config, a calibration, measured trial records (JSON Lines or an Optuna storage) and
repeated configurations, in any useful combination, it writes to one folder:

* ``report.md`` and a self-contained ``report.html`` (plots embedded, nothing from the
  network);
* one PNG per plot, and ``report.json`` plus one CSV per table with the numbers behind them.

Sections (each needs some inputs, and says so when they are missing):

1. what drives the objective and per-trial cost (:mod:`.importance`), with seed variance;
2. expected best score vs budget (:mod:`.expected_max`), in trials, GPU-hours, kWh, kgCO2e
   and dollars;
3. where costs explode, one run → one tune → campaign (:mod:`.breakdown`);
4. which assumption moves the totals most (:mod:`.sensitivity`).
"""

from __future__ import annotations

from tunecost.reports.report import ReportFiles, build_report

__all__ = ["ReportFiles", "build_report"]
