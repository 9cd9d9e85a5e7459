"""Writing a report: Markdown, self-contained HTML, JSON and CSV, each atomically.

A report is a list of blocks (heading, paragraph, list, table, image); :func:`to_markdown`
and :func:`to_html` render the same blocks, so the two never disagree. The HTML embeds every
image as a base64 ``data:`` URI and has no script, font or style sheet from the network: it
opens offline, attached to an e-mail or a paper's supplement.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from tunecost._atomic import atomic_open

__all__ = [
    "Block",
    "Heading",
    "Image",
    "Items",
    "Para",
    "Table",
    "to_html",
    "to_markdown",
    "write_csv",
    "write_json",
    "write_text",
]


@dataclass(frozen=True, slots=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True, slots=True)
class Para:
    text: str
    style: str = ""  # "note" or "headline" in HTML


@dataclass(frozen=True, slots=True)
class Items:
    items: list[str]


@dataclass(frozen=True, slots=True)
class Table:
    columns: list[str]
    rows: list[list[str]]
    caption: str = ""


@dataclass(frozen=True, slots=True)
class Image:
    path: Path  # the PNG, written next to the report
    alt: str
    csv: list[str] = field(default_factory=list)  # the data files behind it


Block = Heading | Para | Items | Table | Image


def _atomic_write(path: Path, data: bytes) -> Path:
    with atomic_open(path, "wb") as fh:
        fh.write(data)
    return Path(path)


def write_text(path: Path, text: str) -> Path:
    """Write UTF-8 text atomically (a temporary file in the same folder, then a rename)."""
    return _atomic_write(path, text.encode("utf-8"))


def _plain(obj: Any) -> Any:
    """JSON-ready: numpy scalars and arrays to Python, NaN/inf to None."""
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_plain(v) for v in obj.tolist()]
    if isinstance(obj, np.generic):
        return _plain(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(path: Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON (NaN as null), atomically."""
    return write_text(path, json.dumps(_plain(obj), indent=2, allow_nan=False) + "\n")


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Write dict rows as CSV (columns: union of keys, first-seen order; floats as repr)."""
    columns: list[str] = []
    for r in rows:
        columns += [k for k in r if k not in columns]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([_cell(r.get(c)) for c in columns])
    return write_text(path, buf.getvalue())


def _cell(v: Any) -> str:
    v = _plain(v)
    if v is None:
        return ""
    if isinstance(v, dict | list):
        return json.dumps(v, sort_keys=True)
    return repr(v) if isinstance(v, float) else str(v)


# --------------------------------------------------------------------------------------------


def _md(text: str) -> str:
    """Plain text for Markdown: ``$`` escaped outside `code` spans (GitHub reads ``$…$`` as
    math, so "$/GPU-h and $/kWh" or two dollar amounts in a row would become a formula)."""
    parts = text.split("`")
    return "`".join(p if i % 2 else p.replace("$", "\\$") for i, p in enumerate(parts))


def _md_cell(text: str) -> str:
    return _md(text).replace("|", "\\|")


def to_markdown(title: str, blocks: Iterable[Block]) -> str:
    """The report as Markdown; images are linked by file name, relative (they sit next to
    it), so the folder reads the same attached to a pull request or opened on disk."""
    out = [f"# {_md(title)}", ""]
    for b in blocks:
        if isinstance(b, Heading):
            out += [f"{'#' * b.level} {_md(b.text)}", ""]
        elif isinstance(b, Para):
            out += [f"> {_md(b.text)}" if b.style == "headline" else _md(b.text), ""]
        elif isinstance(b, Items):
            out += [f"- {_md(i)}" for i in b.items] + [""]
        elif isinstance(b, Table):
            if b.caption:
                out += [f"*{_md(b.caption)}*", ""]
            out.append("| " + " | ".join(_md_cell(c) for c in b.columns) + " |")
            out.append("|" + "|".join("---" for _ in b.columns) + "|")
            out += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in b.rows]
            out.append("")
        elif isinstance(b, Image):
            out.append(f"![{b.alt}]({quote(b.path.name)})")
            if b.csv:
                out.append(f"\n*Data: {', '.join(f'`{c}`' for c in b.csv)}*")
            out.append("")
    return "\n".join(out)


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1180px;
margin:2em auto;padding:0 1.2em;color:#1d2330;line-height:1.45}
h1{font-size:1.7em;border-bottom:2px solid #1f5fa8;padding-bottom:.2em}
h2{font-size:1.3em;margin-top:1.8em;border-bottom:1px solid #d6dbe4;padding-bottom:.15em}
h3{font-size:1.08em;margin-top:1.3em}
table{border-collapse:collapse;margin:.6em 0 1em;font-size:.88em}
th,td{border:1px solid #d6dbe4;padding:.28em .6em;text-align:left}
th{background:#eef2f8}td.n{text-align:right;font-variant-numeric:tabular-nums}
caption{caption-side:top;text-align:left;font-style:italic;padding-bottom:.3em}
img{max-width:100%;height:auto;border:1px solid #e3e7ee;margin:.4em 0}
.headline{background:#fff6e0;border-left:4px solid #edae49;padding:.5em .8em}
.note{color:#5b6475;font-size:.9em}.data{color:#5b6475;font-size:.82em;margin-top:0}
code{background:#f2f4f8;padding:0 .25em;border-radius:3px}
"""


_NUMERIC = re.compile(r"^[\s$×−+\-—\[]*[\d.,]*[\d—][\d.,%×\s–\-\[\]e+kWhg/]*$")


def _inline(text: str) -> str:
    """Escape, then render `code` spans (the only inline Markdown the blocks use)."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def to_html(title: str, blocks: Iterable[Block]) -> str:
    """The report as one self-contained HTML page: inline CSS, images as data URIs."""
    body = [f"<h1>{html.escape(title)}</h1>"]
    for b in blocks:
        if isinstance(b, Heading):
            body.append(f"<h{b.level}>{_inline(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            cls = f' class="{b.style}"' if b.style else ""
            body.append(f"<p{cls}>{_inline(b.text)}</p>")
        elif isinstance(b, Items):
            body.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in b.items) + "</ul>")
        elif isinstance(b, Table):
            cap = f"<caption>{_inline(b.caption)}</caption>" if b.caption else ""
            head = "".join(f"<th>{_inline(c)}</th>" for c in b.columns)
            rows = "".join(
                "<tr>" + "".join(
                    f'<td class="n">{_inline(c)}</td>' if _NUMERIC.match(c)
                    else f"<td>{_inline(c)}</td>" for c in r
                ) + "</tr>" for r in b.rows
            )
            body.append(f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif isinstance(b, Image):
            data = base64.b64encode(Path(b.path).read_bytes()).decode("ascii")
            body.append(
                f'<img src="data:image/png;base64,{data}" alt="{html.escape(b.alt)}">'
            )
            if b.csv:
                body.append(
                    '<p class="data">Data: '
                    + ", ".join(f"<code>{html.escape(c)}</code>" for c in b.csv)
                    + "</p>"
                )
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{html.escape(title)}</title><link rel=\"icon\" href=\"data:,\">"
        f"<style>{_CSS}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
