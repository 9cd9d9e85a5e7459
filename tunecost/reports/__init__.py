"""Sensitivity and variance reports: what drives the objective, the cost and the spread.

:func:`build_report` is the one public entry point (``tunecost report`` calls it). From a
campaign config, a calibration, measured trial records (JSON Lines, an Optuna storage or a
Ray Tune experiment folder) and repeated configurations, in any useful combination, it
writes to one folder:

* ``report.md`` and a self-contained ``report.html`` (plots embedded, nothing from the
  network; the Markdown links its PNGs relatively, so the folder reads the same attached
  to a pull request);
* one PNG per plot, and ``report.json`` (``schema_version`` 1) plus one CSV per table with
  the numbers behind them.

The folder is written whole: into a temporary folder beside it, then swapped in.

The report leads with the answer: a P5/P50/P95 table of trials, GPU-hours (CPU-hours on
CPU-only hardware), wall clock, kWh, kgCO2e and dollars, then the tuning multiplier, then
the assumption that moves the totals most. Then the sections (each needs some inputs, and
says so when they are missing):

1. what drives the objective and per-trial cost (:mod:`.importance`), with seed variance;
2. expected best score vs budget (:mod:`.expected_max`), in trials, GPU-hours, kWh, kgCO2e
   and dollars;
3. where costs explode, one run → one tune → campaign (:mod:`.breakdown`);
4. which assumption moves the totals most (:mod:`.sensitivity`; for campaigns only the
   replay engine can simulate, the four that scale its totals exactly).

Each section is one file in :mod:`.sections`, listed in reading order in
:data:`.sections.SECTIONS`; :func:`build_report` (:mod:`.report`) renders every registered
section, so a new section is a new file and one registry entry.
"""

from __future__ import annotations

from tunecost.reports.report import ReportFiles, build_report

__all__ = ["ReportFiles", "build_report"]
