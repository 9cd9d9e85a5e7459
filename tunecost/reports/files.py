"""The files of a report: what is written into its folder, and :class:`ReportFiles`, the list."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunecost.reports.context import ReportContext
from tunecost.reports.render import Block, to_html, to_markdown, write_csv, write_json, write_text
from tunecost.reports.totals import totals_rows

__all__ = ["ReportFiles", "write_files"]


@dataclass(frozen=True, slots=True)
class ReportFiles:
    """What :func:`~tunecost.reports.build_report` wrote, and the report's key numbers.

    Attributes:
        out: the folder.
        markdown, html, json: the report files.
        pngs, csvs: every plot and table file.
        headline: the one line that says which assumption moves the totals most (``None``
            without a campaign).
        data: the JSON report, as a dict.
        totals: ``[label, P5, P50, P95]`` rows of the campaign's totals, formatted as the
            report shows them (empty without a campaign).
        hours_unit: ``GPU-hours`` or ``CPU-hours`` (CPU-only hardware).
        multiplier: the tuning-multiplier line (``None`` without a campaign).
    """

    out: Path
    markdown: Path
    html: Path
    json: Path
    pngs: list[Path]
    csvs: list[Path]
    headline: str | None
    data: dict[str, Any] = field(repr=False)
    totals: list[list[str]] = field(default_factory=list)
    hours_unit: str = "GPU-hours"
    multiplier: str | None = None

    def moved_to(self, out: Path) -> ReportFiles:
        """The same files, named in the folder ``out`` they were moved into."""
        return dataclasses.replace(
            self, out=out, markdown=out / self.markdown.name, html=out / self.html.name,
            json=out / self.json.name, pngs=[out / p.name for p in self.pngs],
            csvs=[out / p.name for p in self.csvs],
        )


def write_files(ctx: ReportContext, blocks: Sequence[Block], *, final: Path) -> ReportFiles:
    """Write the report into ``ctx.out``: one CSV per table, ``report.json``, ``report.md``
    and ``report.html`` (the PNGs are there already), every path named as it will be once
    ``ctx.out`` is moved to ``final``."""
    moved = _Renamer(str(ctx.out), str(final))
    out, title = ctx.out, ctx.inputs.title
    csvs = [write_csv(out / f"{name}.csv", moved(rows)) for name, rows in ctx.tables.items()]
    data = ctx.data
    data["tables"] = ctx.tables
    data["files"] = {"png": [p.name for p in ctx.pngs], "csv": [p.name for p in csvs]}
    data = moved(data)
    json_path = write_json(out / "report.json", data)
    md_path = write_text(out / "report.md", moved(to_markdown(title, blocks)))
    html_path = write_text(out / "report.html", moved(to_html(title, blocks)))
    found, run = ctx.findings, ctx.run
    return ReportFiles(
        out, md_path, html_path, json_path, ctx.pngs, csvs,
        found.tornado.headline() if found.tornado is not None else None, data,
        totals_rows(run.summary) if run is not None else [], ctx.hours_unit,
        found.breakdown.explosion(ctx.hours_unit) if found.breakdown is not None else None,
    )


@dataclass(frozen=True, slots=True)
class _Renamer:
    """Replaces one folder's path by another in every string of a JSON-like object."""

    # A calibration fitted here was read from the temporary folder: name where it will be.
    old: str
    new: str

    def __call__(self, obj: Any) -> Any:
        if isinstance(obj, str):
            return obj.replace(self.old, self.new)
        if isinstance(obj, dict):
            return {k: self(v) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return type(obj)(self(v) for v in obj)
        return obj
