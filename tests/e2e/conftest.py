"""End-to-end helpers: the CLI as a user runs it, and the checks every e2e test shares.

Each e2e test runs a real study on CPU (Optuna + SQLite, or a local Ray Tune run), then drives
``python -m tunecost calibrate / simulate / report`` in a subprocess with this checkout first
on ``PYTHONPATH`` (so the exit status, stderr and files are exactly what a user gets), and
checks the report's headline numbers against what the study measured.

A failing step names itself (``step 'calibrate'``) with the command and the last lines of
its output, so a red test says which integration is missing.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
"""The checkout under test: first on the subprocess's ``PYTHONPATH``."""

TOTALS = ("n_trials", "gpu_hours", "wall_clock_h", "energy_kwh", "co2e_kg")
"""Summary metrics that every simulated campaign has, finite and >= 0."""


def _env() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH", "")
    return dict(
        os.environ,
        PYTHONPATH=str(REPO) + (os.pathsep + path if path else ""),
        RAY_AUTH_MODE="disabled",
        RAY_USAGE_STATS_ENABLED="0",
        COLUMNS="200",  # rich tables on one line each in captured output
    )


class Cli:
    """``cli(step, *args)`` runs ``python -m tunecost *args`` in ``cwd`` and asserts success.

    ``cli.json(step, *args)`` also parses stdout as JSON.
    """

    def __init__(self, cwd: Path, timeout_s: float = 300.0) -> None:
        self.cwd = cwd
        self.timeout_s = timeout_s

    def run(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tunecost", *map(str, args)],
            cwd=self.cwd, env=_env(), capture_output=True, text=True, timeout=self.timeout_s,
        )

    def __call__(self, step: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
        proc = self.run(*args)
        cmd = "tunecost " + " ".join(map(str, args))
        # the last line that says something (typer frames its usage errors in a box)
        said = [ln.strip(" │╭╮╰╯─") for ln in (proc.stderr or proc.stdout).splitlines()]
        tail = [ln for ln in said if any(c.isalnum() for c in ln)] or [""]
        assert proc.returncode == 0, (
            f"step {step!r} exited {proc.returncode}: {cmd}\n  last line: {tail[-1]}\n"
            f"--- stderr ---\n{proc.stderr[-3000:]}\n--- stdout ---\n{proc.stdout[-1500:]}"
        )
        assert "Traceback" not in proc.stderr, f"step {step!r}: traceback\n{proc.stderr[-3000:]}"
        return proc

    def json(self, step: str, *args: str | Path) -> dict[str, Any]:
        proc = self(step, *args)
        try:
            return json.loads(proc.stdout)
        except json.JSONDecodeError as exc:
            raise AssertionError(f"step {step!r}: stdout is not JSON ({exc}):\n"
                                 f"{proc.stdout[:1500]}") from None


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """The CLI, run in ``tmp_path`` (where each test writes its study, configs and outputs)."""
    return Cli(tmp_path)


def write_yaml(path: Path, data: Mapping[str, Any]) -> Path:
    """Write a campaign config as a user would (YAML), and return its path."""
    path.write_text(yaml.safe_dump(dict(data), sort_keys=False), encoding="utf-8")
    return path


def check_totals(summary: Mapping[str, Any], step: str, *, n_trials: int | None = None) -> None:
    """Every headline total is there, finite and >= 0; ``n_trials`` is exact if given.

    A replay of a fixed-size Optuna study or Ray Tune run always runs exactly ``n_trials``.
    """
    metrics = summary["metrics"]
    for key in TOTALS:
        stats = metrics.get(key)
        assert stats is not None, f"step {step!r}: no {key!r} in the summary"
        for q in ("p5", "p50", "p95", "mean"):
            x = stats[q]
            assert x is not None and math.isfinite(x) and x >= 0, f"{step}: {key}.{q} = {x}"
        assert stats["p5"] <= stats["p50"] <= stats["p95"], f"{step}: {key} {stats}"
    if n_trials is not None:
        t = metrics["n_trials"]
        assert t["p5"] == t["p50"] == t["p95"] == n_trials, f"{step}: n_trials {t}"


def check_interfaces(summary: Mapping[str, Any], step: str) -> None:
    """The agreed JSON additions: ``schema_version`` 1, and CPU-hours for CPU-only studies."""
    assert summary.get("schema_version") == 1, (
        f"step {step!r}: the JSON has no schema_version 1 (keys: {sorted(summary)})")
    assert summary.get("hours_unit") == "CPU-hours", (
        f"step {step!r}: hours_unit is {summary.get('hours_unit')!r} for a CPU-only study, "
        "not 'CPU-hours'")


def check_simulated(summary: Mapping[str, Any], step: str, *, n_trials: int) -> None:
    """A ``simulate --json`` summary of a CPU-only study: :func:`check_totals` and
    :func:`check_interfaces`."""
    check_totals(summary, step, n_trials=n_trials)
    check_interfaces(summary, step)


def check_calibration_schema(path: Path) -> None:
    """The calibration file the CLI wrote carries ``schema_version`` 1 like every JSON it
    writes. Checked last in each test, so that a missing version does not hide the steps."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert raw.get("schema_version") == 1, f"{path.name} has no schema_version 1"


def trial_seconds(summary: Mapping[str, Any]) -> tuple[float, float, float]:
    """Predicted total trial time, s: (P5, P50, P95) of the device-hours (one CPU a trial)."""
    g = summary["metrics"]["gpu_hours"]
    return g["p5"] * 3600.0, g["p50"] * 3600.0, g["p95"] * 3600.0


def trial_kwh(summary: Mapping[str, Any]) -> tuple[float, float, float]:
    """Predicted energy of the trials themselves, kWh: (P5, P50, P95) of the total less the
    energy spent waiting at barriers and between trials (the figures the trials measured)."""
    m = summary["metrics"]

    def at(q: str) -> float:
        extra = sum(m[k][q] for k in ("waiting_energy_kwh", "overhead_energy_kwh")
                    if m.get(k) is not None)
        return m["energy_kwh"][q] - extra

    return at("p5"), at("p50"), at("p95")


def assert_in_band(measured: float, band: Sequence[float], what: str, *,
                   tol: float = 0.0, max_ratio: float = 30.0) -> None:
    """``measured`` lies in [P5, P95], each end widened by ``tol`` (a fraction), and the band
    is narrow enough to say something: P95 / P5 <= ``max_ratio`` (a total of 10-40 trials
    whose per-trial spread was measured; a band of many decades contains anything).

    ``tol`` is stated per test: where the band comes from few replicates or the machine's
    load moves trial times between the study and its calibration's own spread.
    """
    p5, p50, p95 = band
    assert p5 > 0 and p95 / p5 <= max_ratio, (
        f"{what}: the predicted P5-P95 [{p5:.4g}, {p95:.4g}] (P50 {p50:.4g}) spans more than "
        f"x{max_ratio:g}; measured {measured:.4g}")
    lo, hi = p5 * (1 - tol), p95 * (1 + tol)
    assert lo <= measured <= hi, (
        f"{what}: measured {measured:.4g} is outside the predicted P5-P95 "
        f"[{p5:.4g}, {p95:.4g}] (P50 {p50:.4g}; tolerance {tol:.0%}: [{lo:.4g}, {hi:.4g}])")


def opening_table(markdown: str) -> tuple[list[str], list[list[str]]]:
    """The first table of ``report.md``, asserted to come before any numbered section and
    before the sensitivity sentence: (header cells, rows of cells)."""
    lines = markdown.splitlines()
    assert lines and lines[0].startswith("# "), f"report.md has no title first: {lines[:1]}"
    start = next((i for i, ln in enumerate(lines) if ln.startswith("|")), None)
    assert start is not None, "report.md has no table"
    before = lines[1:start]
    numbered = [ln for ln in before if ln.startswith("## ") and ln[3:4].isdigit()]
    assert not numbered, f"report.md: section {numbered[0]!r} comes before the totals table"
    moves = [ln for ln in before if "moves" in ln and "most" in ln]
    assert not moves, f"report.md opens with the sensitivity sentence: {moves[0]!r}"

    def cells(ln: str) -> list[str]:
        return [c.strip() for c in ln.strip().strip("|").split("|")]

    header = cells(lines[start])
    rows = []
    for ln in lines[start + 2:]:
        if not ln.startswith("|"):
            break
        rows.append(cells(ln))
    for q in ("P5", "P50", "P95"):
        assert q in header, f"report.md's first table is not the P5/P50/P95 totals: {header}"
    return header, rows


def table_row(header: list[str], rows: list[list[str]], label: str) -> dict[str, str]:
    """The row whose first cell starts with ``label`` (e.g. ``trials``), keyed by header."""
    for r in rows:
        if r[0].lower().startswith(label):
            return dict(zip(header, r, strict=False))
    raise AssertionError(f"the totals table has no {label!r} row: {[r[0] for r in rows]}")


def number(cell: str) -> float:
    """A table cell as a number (``1,234``, ``0.0123``, ``$5.6``, ``40``)."""
    return float(cell.replace(",", "").replace("$", "").replace("×", "").strip())


def check_report(out: Path, step: str) -> tuple[dict[str, Any], list[str], list[list[str]]]:
    """The report folder holds report.md/html/json, the Markdown opens with the totals table,
    every image it links is there. Returns (report.json, header, rows)."""
    for name in ("report.md", "report.html", "report.json"):
        assert (out / name).is_file(), f"step {step!r}: no {name} in {out}"
    md = (out / "report.md").read_text(encoding="utf-8")
    header, rows = opening_table(md)
    for label in ("trials", "wall clock"):
        table_row(header, rows, label)
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert data.get("schema_version") == 1, f"step {step!r}: report.json has no schema_version 1"
    assert "campaign" in data, f"step {step!r}: report.json has no campaign summary"
    return data, header, rows


def sources_in(obj: Any) -> list[str]:
    """Every string value under a key that names a source (``energy_source``, ``sources``...),
    anywhere in a JSON document: where a calibration says what its energy came from."""
    found: list[str] = []
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            if "source" in str(k).lower():
                if isinstance(v, str):
                    found.append(v)
                elif isinstance(v, Mapping | list):
                    found += [x for x in _strings(v)]
            found += sources_in(v)
    elif isinstance(obj, list):
        for v in obj:
            found += sources_in(v)
    return found


def _strings(obj: Any) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, Mapping):
        return [s for v in obj.values() for s in _strings(v)] + [str(k) for k in obj]
    if isinstance(obj, list):
        return [s for v in obj for s in _strings(v)]
    return []


def optuna_measured(storage: str, study_name: str) -> dict[str, float]:
    """What an Optuna study measured: ``trial_s``, the trials' own time (each trial's
    ``duration_s`` as the ``measured`` wrapper stored it, read back by the importer), and
    ``wall_s``, Optuna's first trial start to its last trial end (storage and sampler time
    included)."""
    import optuna

    from tunecost.calibrate import from_optuna

    records = from_optuna(storage, study_name)
    trials = optuna.load_study(study_name=study_name, storage=storage).trials
    starts = [t.datetime_start.timestamp() for t in trials if t.datetime_start is not None]
    ends = [t.datetime_complete.timestamp() for t in trials if t.datetime_complete is not None]
    return {"trial_s": float(sum(r.duration_s for r in records)),
            "wall_s": max(ends) - min(starts), "n": float(len(records))}


def wall_seconds(summary: Mapping[str, Any]) -> tuple[float, float, float]:
    """Predicted wall clock, s: (P5, P50, P95)."""
    w = summary["metrics"]["wall_clock_h"]
    return w["p5"] * 3600.0, w["p50"] * 3600.0, w["p95"] * 3600.0
