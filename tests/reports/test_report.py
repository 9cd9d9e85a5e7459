"""Report files for the LISA campaign and the H200 calibration: complete, consistent, offline."""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tunecost.cli import app
from tunecost.exceptions import ConfigError
from tunecost.reports import ReportFiles, build_report

from .conftest import STUDY

LISA_PNGS = {"breakdown.png", "tornado.png", "sobol.png"}
TRIAL_PNGS = {"importance.png", "marginals.png", "seed_variance.png", "expected_best.png"}


def _files(report: ReportFiles) -> set[str]:
    return {p.name for p in report.out.iterdir()}


def test_lisa_report_files(lisa_report: ReportFiles) -> None:
    names = _files(lisa_report)
    assert {"report.md", "report.html", "report.json"} <= names
    assert LISA_PNGS <= names
    assert {"breakdown.csv", "tuning_multiplier_histogram.csv", "tornado.csv", "sobol.csv",
            "assumptions.csv"} <= names
    md = lisa_report.markdown.read_text()
    # Without trial records the trial sections say what they need.
    assert "pass --records" in md
    assert not any(n.startswith(".") for n in names)  # no temp files left behind


def test_lisa_tornado_ranks_and_closing_note(lisa_report: ReportFiles) -> None:
    data = lisa_report.data
    tornado = data["tornado"]
    assert len(tornado["ranking"]) == 7 and tornado["dollars"] == "cost_usd"
    scores = [tornado["score"][n] for n in tornado["ranking"]]
    assert scores == sorted(scores, reverse=True)
    # Price moves the (cloud) dollars by ±50 %: the widest default swing; grid intensity
    # (±40 %) moves CO2e alone; the number of trials moves kWh, CO2e and dollars alike. The
    # duration spread barely moves a 4,789-job total (the mean is kept).
    assert tornado["ranking"][:3] == ["price", "grid_intensity", "n_trials"]
    assert tornado["ranking"][-1] == "duration_spread"
    note = data["closing_note"]
    assert note.startswith("Top three assumptions")
    assert note.count("kWh") >= 3 and "cloud $" in note and "electricity $" in note
    for name in ("price", "grid intensity", "number of trials"):
        assert name in note
    assert "Closing note" in lisa_report.markdown.read_text()
    assert lisa_report.headline and lisa_report.headline.startswith("Price moves the totals")
    # Breakdown: one run is Table 4's 120 GPU-hours; the campaign ~240k GPU-hours.
    rows = data["tables"]["breakdown"]
    assert rows[0]["gpu_hours"] == pytest.approx(120.0)
    assert 200_000 < rows[-1]["gpu_hours"] < 280_000
    assert data["breakdown"]["tuning_multiplier"]["p50"] > 1000


def test_h200_report_has_every_section(h200_report: ReportFiles) -> None:
    names = _files(h200_report)
    assert LISA_PNGS | TRIAL_PNGS <= names
    data = h200_report.data
    assert set(data["importance"]["importances"]["ped_anova"]) == {
        "objective", "duration_s", "energy_j"}
    assert data["seed_variance"]["seed_share"] < 0.01
    eb = data["expected_best"]
    assert set(eb["cost_per_trial"]) == {"n_trials", "gpu_hours", "energy_kwh", "co2e_kg", "usd"}
    assert eb["cost_of_step"]["extra_trials"] > 0
    md = h200_report.markdown.read_text()
    assert "The last 0.01 of the objective" in md
    assert "No campaign config was given" in md  # the assumed PUE/grid/price are stated


def _num(x: str):
    if x == "":
        return None
    try:
        return float(x)
    except ValueError:
        return x


@pytest.mark.parametrize("which", ["lisa_report", "h200_report"])
def test_json_numbers_match_the_csv(which: str, request: pytest.FixtureRequest) -> None:
    report: ReportFiles = request.getfixturevalue(which)
    data = json.loads(report.json.read_text())
    assert data["files"]["csv"]
    for name in data["files"]["csv"]:
        with (report.out / name).open() as fh:
            rows = list(csv.DictReader(fh))
        table = data["tables"][Path(name).stem]
        assert len(rows) == len(table) > 0
        for r_csv, r_json in zip(rows, table, strict=True):
            for key, value in r_json.items():
                got = _num(r_csv[key])
                if isinstance(value, float) and isinstance(got, float):
                    assert got == pytest.approx(value, rel=1e-12, abs=0), (name, key)
                elif isinstance(value, int | float) and not isinstance(value, bool):
                    assert got == pytest.approx(value), (name, key)
                elif value is None:
                    assert got is None
    # The plots' numbers are in the JSON too.
    assert data["files"]["png"] and all((report.out / p).exists() for p in data["files"]["png"])


@pytest.mark.parametrize("which", ["lisa_report", "h200_report"])
def test_html_is_self_contained(which: str, request: pytest.FixtureRequest) -> None:
    report: ReportFiles = request.getfixturevalue(which)
    html = report.html.read_text()
    srcs = re.findall(r"""\b(?:src|href)\s*=\s*["']([^"']*)["']""", html)
    assert srcs
    assert not [s for s in srcs if re.match(r"(?i)\s*(https?:)?//", s)]
    imgs = re.findall(r'<img src="([^"]+)"', html)
    assert len(imgs) == len(report.pngs)
    assert all(s.startswith("data:image/png;base64,") for s in imgs)
    assert "<script" not in html.lower()
    assert not re.search(r"(?i)url\(\s*['\"]?https?:", html)
    assert not math.isnan(len(html))


def test_cli_report_from_the_calibration(tmp_path: Path) -> None:
    out = tmp_path / "rep"
    result = CliRunner().invoke(app, [
        "report", "--calibration", str(STUDY / "calib_small.json"),
        "--records", str(STUDY / "data" / "calib_random.jsonl"),
        "--out", str(out), "--replicates", "100", "--sobol-n", "16",
    ])
    assert result.exit_code == 0, result.output
    assert "moves the totals most" in result.output
    assert (out / "report.html").exists() and (out / "expected_best.png").exists()


def test_cli_report_needs_an_input(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "nothing to report on" in result.output


def test_scenario_sets_are_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "s.yaml"
    cfg.write_text(
        "name: two\nscenarios:\n"
        + "".join(
            f"  - name: {n}\n    carbon: {{g_co2e_per_kwh: 1}}\n    studies:\n"
            "      - name: a\n        strategy: {kind: random, n_trials: 2}\n"
            "        duration: {dist: fixed, duration_h: 1}\n"
            "        hardware: {accelerator: v100-sxm2}\n"
            "        power: {kind: constant, accelerator_w: 100}\n"
            for n in ("x", "y")
        )
    )
    with pytest.raises(ConfigError, match="scenarios"):
        build_report(cfg, out=tmp_path / "o")
