"""Markdown and HTML rendering of report blocks: plain text, relative images."""

from __future__ import annotations

from pathlib import Path

from tunecost.reports.render import Image, Para, Table, to_html, to_markdown


def test_dollars_are_escaped_in_markdown_outside_code() -> None:
    md = to_markdown("t $", [
        Para("price (× base $/GPU-h and $/kWh), see `cost$.csv`"),
        Table(["cloud cost ($)"], [["$1,234 | $5"]]),
    ])
    assert "price (× base \\$/GPU-h and \\$/kWh), see `cost$.csv`" in md
    assert "| \\$1,234 \\| \\$5 |" in md and "# t \\$" in md


def test_images_are_relative_links(tmp_path: Path) -> None:
    png = tmp_path / "deep" / "tornado plot.png"
    md = to_markdown("t", [Image(png, "tornado")])
    assert "![tornado](tornado%20plot.png)" in md and str(tmp_path) not in md


def test_html_keeps_dollars_as_text() -> None:
    html = to_html("t", [Para("$/GPU-h and $/kWh")])
    assert "<p>$/GPU-h and $/kWh</p>" in html
