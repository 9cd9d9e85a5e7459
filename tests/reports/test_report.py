"""Report files for the LISA campaign and the H200 calibration: complete, consistent, offline."""

from __future__ import annotations

import base64
import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tunecost.calibrate import read_records, write_records
from tunecost.cli import app
from tunecost.exceptions import ConfigError
from tunecost.reports import ReportFiles, build_report
from tunecost.reports.folder import remove_stale
from tunecost.reports.totals import TOTAL_ROWS, totals_rows
from tunecost.summary import format_figure

from .conftest import ROOT, SMALL, STUDY

LISA_PNGS = {"breakdown.png", "tornado.png", "sobol.png"}
TRIAL_PNGS = {"importance.png", "marginals.png", "seed_variance.png", "expected_best.png"}


def _files(report: ReportFiles) -> set[str]:
    return {p.name for p in report.out.iterdir()}


def _png_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` in pixels from a PNG's IHDR chunk; fails on anything else."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", path.name
    assert data.rstrip(b"\0")[-8:-4] == b"IEND", f"{path.name} is truncated"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _data_files(text: str, pattern: str) -> list[str]:
    """The file names a report lists as "Data: `a.csv`, `b.csv`" (Markdown or HTML)."""
    return [name for line in re.findall(pattern, text)
            for name in re.findall(r"(?:`|<code>)([^`<]+)(?:`|</code>)", line)]


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
    # The plots' numbers are in the JSON too; each plot is a whole PNG of a readable size.
    assert data["files"]["png"] == [p.name for p in report.pngs]
    for name in data["files"]["png"]:
        width, height = _png_size(report.out / name)
        assert width >= 400 and height >= 200, (name, width, height)


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
    # Each embedded image is the PNG of the same name in the folder, in report order.
    embedded = [base64.b64decode(s.split(",", 1)[1], validate=True) for s in imgs]
    assert embedded == [p.read_bytes() for p in report.pngs]
    # Every data file the page names is in the folder.
    named = _data_files(html, r'<p class="data">Data: (.*?)</p>')
    assert named and set(named) <= set(report.data["files"]["csv"])
    assert all((report.out / n).is_file() for n in named)


def test_cli_report_from_the_calibration(tmp_path: Path) -> None:
    out = tmp_path / "rep"
    result = CliRunner().invoke(app, [
        "report", "--calibration", str(STUDY / "calib_small.json"),
        "--records", str(STUDY / "data" / "calib_random.jsonl"),
        "--out", str(out), "--replicates", "100", "--sobol-n", "16",
    ])
    assert result.exit_code == 0, result.output
    assert "moves the totals most" in result.output
    # The printed totals are the report's, cell for cell.
    data = json.loads((out / "report.json").read_text())
    printed = {cells[0]: cells for line in result.output.splitlines()
               if line.startswith("│")
               for cells in [[c.strip() for c in line.strip("│").split("│")]]}
    rows = totals_rows(data["campaign"])
    assert rows and all(printed[row[0]] == row for row in rows)
    assert data["totals"]["energy_kwh"]["p50"] == data["campaign"]["metrics"]["energy_kwh"]["p50"]
    assert _png_size(out / "expected_best.png")[0] > 100
    assert "expected_best.png" in data["files"]["png"]


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


# --------------------------------------------------------------------------------------------
# The answer first; the config's replicates; replay; Ray results; direction; the folder
# --------------------------------------------------------------------------------------------

QUICK = {"sensitivity_replicates": 4, "sobol_n": 4, "n_boot": 50}
TOTAL_LABELS = ["trials", "GPU-hours", "wall clock (hours)", "energy (kWh)", "CO2e (kg)",
                "cloud cost ($)", "electricity ($)"]


@pytest.fixture()
def small_cfg(tmp_path: Path) -> Path:
    cfg = tmp_path / "small.yaml"
    cfg.write_text(SMALL)
    return cfg


def _value(cell: str) -> float:
    return float(cell.replace("\\$", "").replace("$", "").replace(",", ""))


def test_markdown_opens_with_the_totals_then_multiplier_then_sensitivity(
        lisa_report: ReportFiles) -> None:
    lines = lisa_report.markdown.read_text().splitlines()
    assert lines[0] == "# tunecost report: lisa_rnd" and lines[2] == "## Summary"
    header = lines.index("| total | P5 | P50 | P95 |")
    assert header < 8  # nothing but the title and the caption above it
    rows = [line.strip("|").split(" | ") for line in lines[header + 2:header + 9]]
    assert [r[0].strip().replace("\\$", "$") for r in rows] == TOTAL_LABELS
    metrics = lisa_report.data["campaign"]["metrics"]
    keys = ["n_trials", "gpu_hours", "wall_clock_h", "energy_kwh", "co2e_kg", "cost_usd",
            "electricity_usd"]
    for row, key in zip(rows, keys, strict=True):
        p5, p50, p95 = (_value(c.strip()) for c in row[1:])
        assert p5 <= p50 <= p95
        assert p50 == pytest.approx(metrics[key]["p50"], rel=5e-3)  # 3 significant figures
        assert p95 == pytest.approx(metrics[key]["p95"], rel=5e-3)
    text = "\n".join(lines)
    i_table, i_tm = text.index("| total |"), text.index("Tuning multiplier: the whole campaign")
    i_sens = text.index("> Price moves the totals most")
    assert i_table < i_tm < i_sens < text.index("## 1. What drives")
    assert lisa_report.data["totals"]["hours_unit"] == "GPU-hours"
    assert lisa_report.data["totals"]["replicates"] == 200


def test_html_has_the_same_order(lisa_report: ReportFiles) -> None:
    html = lisa_report.html.read_text()
    first_table = html.index("<table>")
    assert first_table < html.index("Tuning multiplier: the whole campaign") \
        < html.index('class="headline">Price moves') < html.index("<h2>1. What drives")
    assert html.index("<h2>Summary</h2>") < first_table
    table = html[first_table:html.index("</table>", first_table)]
    assert [f"<th>{c}</th>" in table for c in ("total", "P5", "P50", "P95")] == [True] * 4
    assert all(f"<td>{label}</td>" in table for label in TOTAL_LABELS)


@pytest.mark.parametrize("which", ["lisa_report", "h200_report"])
def test_the_totals_are_the_simulations(which: str, request: pytest.FixtureRequest) -> None:
    """The totals table and report.json's totals hold the campaign summary's figures: the
    P50 energy is the summary's to the last digit, and the table prints it as the CLI does."""
    report: ReportFiles = request.getfixturevalue(which)
    data = json.loads(report.json.read_text())
    metrics = data["campaign"]["metrics"]
    for key, _ in TOTAL_ROWS:
        want = metrics.get(key)
        got = data["totals"][key]
        assert got == (None if want is None else {q: want[q] for q in ("p5", "p50", "p95")})
    assert data["totals"]["energy_kwh"]["p50"] == metrics["energy_kwh"]["p50"] > 0
    assert report.totals == totals_rows(data["campaign"])
    energy = next(r for r in report.totals if r[0] == "energy (kWh)")
    assert energy[2] == format_figure(metrics["energy_kwh"]["p50"])
    md = report.markdown.read_text()
    assert f"| energy (kWh) | {' | '.join(energy[1:])} |" in md


def test_report_json_has_a_schema_version(lisa_report: ReportFiles) -> None:
    data = json.loads(lisa_report.json.read_text())
    assert data["schema_version"] == 1


def test_markdown_images_are_relative_links_that_exist(h200_report: ReportFiles) -> None:
    md = h200_report.markdown.read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert sorted(links) == sorted(p.name for p in h200_report.pngs)
    for link in links:
        assert "/" not in link and ":" not in link and not link.startswith(".")
        assert (h200_report.out / link).is_file()
    # And the data files under each image ("*Data: `a.csv`, `b.csv`*").
    named = _data_files(md, r"(?m)^\*Data: (.*)\*$")
    assert len(named) >= len(links) and all((h200_report.out / n).is_file() for n in named)
    # No temporary folder name leaks into any file the report wrote.
    for p in h200_report.out.iterdir():
        if p.suffix in (".md", ".html", ".json", ".csv"):
            assert ".tunecost-report-" not in p.read_text(), p.name


def test_the_configs_replicates_are_used(small_cfg: Path, tmp_path: Path) -> None:
    files = build_report(small_cfg, out=tmp_path / "a", **QUICK)
    assert files.data["campaign"]["replicates"] == 37
    assert "37 replicates" in files.markdown.read_text()
    result = CliRunner().invoke(app, ["report", str(small_cfg), "--out", str(tmp_path / "b"),
                                      "--replicates", "23", "--sobol-n", "4"])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "b" / "report.json").read_text())
    assert data["campaign"]["replicates"] == 23 and data["schema_version"] == 1
    # The CLI's headline is in the report's order too: totals, multiplier, sensitivity.
    out = result.output
    assert out.index("P50") < out.index("Tuning multiplier") < out.index("moves the totals most")
    assert "23 replicates" in out and "cloud cost ($)" in out


def test_totals_say_cpu_hours_when_the_summary_does() -> None:
    stats = {"p5": 0.001, "p50": 0.002, "p95": 0.004}
    summary = {"metrics": {"n_trials": {"p5": 40, "p50": 40, "p95": 40}, "gpu_hours": stats,
                           "cost_usd": None}, "hours_unit": "CPU-hours"}
    rows = totals_rows(summary)
    assert rows == [["trials", "40", "40", "40"], ["CPU-hours", "0.00100", "0.00200", "0.00400"]]
    del summary["hours_unit"]
    assert totals_rows(summary)[1][0] == "GPU-hours"


def test_report_runs_replay_strategies(tmp_path: Path) -> None:
    cfg = ROOT / "studies" / "fidelity_cpu" / "tpe_median.yaml"
    result = CliRunner().invoke(app, ["report", str(cfg), "--out", str(tmp_path / "r"),
                                      "--replicates", "3", "--sobol-n", "4"])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "r" / "report.json").read_text())
    assert data["campaign"]["engine"] == "replay" and data["campaign"]["replicates"] == 3
    assert data["totals"]["n_trials"]["p50"] == 40
    # Only the assumptions that scale the replay's totals exactly are varied, and it says so.
    assert set(data["tornado"]["ranking"]) == {"pue", "grid_intensity", "power", "price"}
    assert "not varied here" in (tmp_path / "r" / "report.md").read_text()
    assert "--engine replay" not in result.output


def _ray_results(root: Path, n: int = 8) -> Path:
    """A Ray Tune experiment folder in Ray's own layout (params.json, result.json lines)."""
    exp = root / "ray_exp"
    for i in range(n):
        lr, width = 0.01 * (i + 1), 16 * (1 + i % 3)
        d = exp / f"trainable_ab12c_{i:05d}_{i}_lr={lr:.4f}_2026-11-27_07-28-01"
        d.mkdir(parents=True)
        (d / "params.json").write_text(json.dumps({"lr": lr, "width": width}))
        rows = []
        for it in range(1, 5):
            rows.append({"loss": 2.0 - lr * it - 0.01 * width, "training_iteration": it,
                         "tunecost/duration_s": 0.5 * it * (1 + lr), "tunecost/energy_j":
                         30.0 * it * (1 + lr), "tunecost/energy_source": "nvml",
                         "time_total_s": 0.5 * it, "timestamp": 1795764486 + 10 * i + it,
                         "trial_id": f"ab12c_{i:05d}"})
        (d / "result.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return exp


@pytest.mark.parametrize(("flag", "value", "expected"), [
    (None, None, "minimize"), ("--mode", "max", "maximize"), ("--direction", "MAXIMIZE",
                                                              "maximize")])
def test_report_reads_ray_results(small_cfg: Path, tmp_path: Path, flag, value,
                                  expected) -> None:
    exp = _ray_results(tmp_path)
    args = ["report", str(small_cfg), "--ray-results", str(exp), "--metric", "loss",
            "--out", str(tmp_path / "rep"), "--replicates", "20", "--sobol-n", "4"]
    result = CliRunner().invoke(app, args + ([flag, value] if flag else []))
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert data["direction"] == expected
    assert data["expected_best"]["maximize"] is (expected == "maximize")
    assert set(data["importance"]["params"]) == {"lr", "width"}
    assert any("Ray Tune results" in s for s in data["inputs"])


def test_direction_defaults_to_the_records(small_cfg: Path, tmp_path: Path) -> None:
    # Optuna's records carry the study's direction in attrs["direction"].
    recs = [r.model_copy(update={"attrs": {**r.attrs, "direction": "maximize"}})
            for r in read_records(STUDY / "data" / "calib_random.jsonl")[:12]]
    path = tmp_path / "max.jsonl"
    write_records(recs, path)
    files = build_report(small_cfg, out=tmp_path / "rep", records=path, **QUICK)
    assert files.data["direction"] == "maximize"
    assert files.data["expected_best"]["maximize"] is True


def test_bad_direction_is_one_line(small_cfg: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", str(small_cfg), "--out", str(tmp_path / "o"),
                                      "--mode", "up"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: --direction must be one of minimize, maximize, min, max; got 'up'"]


def test_names_with_markup_are_printed_as_they_are(tmp_path: Path) -> None:
    cfg = tmp_path / "run[" / "bold].yaml"  # the file `run[/bold].yaml` of the issue
    cfg.parent.mkdir()
    cfg.write_text(SMALL.replace("name: small", "name: 'lr sweep [/v2] :x:'"))
    out = tmp_path / "out[/x]"
    result = CliRunner().invoke(app, ["report", str(cfg), "--out", str(out), "--sobol-n", "4"])
    assert result.exit_code == 0, result.output
    assert "lr sweep [/v2] :x:" in result.output and f"in {out}" in result.output
    assert "❌" not in result.output


# -- the output folder ------------------------------------------------------------------------


def _listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_a_second_report_replaces_the_first_whole(small_cfg: Path, tmp_path: Path) -> None:
    out = tmp_path / "rep"
    first = build_report(small_cfg, out=out, repeats=STUDY / "data" / "repeats.jsonl",
                         **QUICK)
    assert (out / "seed_variance.png").exists()
    second = build_report(small_cfg, out=out, seed=9, **QUICK)
    names = {p.name for p in out.iterdir()}
    expected = {"report.md", "report.html", "report.json", *second.data["files"]["png"],
                *second.data["files"]["csv"]}
    assert names == expected  # nothing of the first report is left beside the second
    assert "seed_variance.png" not in names and first.data["seed"] != second.data["seed"]
    assert json.loads((out / "report.json").read_text())["seed"] == 9
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep", "small.yaml"]  # no temp left


def test_an_interrupted_report_leaves_the_previous_one(small_cfg: Path, tmp_path: Path) -> None:
    out = tmp_path / "rep"
    build_report(small_cfg, out=out, **QUICK)
    before = _listing(out)

    def interrupt(step: str, done: int, total: int) -> None:
        if step.startswith("Sobol"):  # after the breakdown and tornado PNGs were written
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_report(small_cfg, out=out, seed=11, progress=interrupt, **QUICK)
    assert _listing(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep", "small.yaml"]


def test_a_killed_runs_temporary_folder_is_removed(small_cfg: Path, tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".rep.tunecost-report-tmp-{dead.pid}-0badcafe"
    stale.mkdir()
    (stale / "tornado.png").write_bytes(b"half")
    alive = tmp_path / f".rep.tunecost-report-tmp-{os.getppid()}-0123abcd"  # another run
    alive.mkdir()
    build_report(small_cfg, out=tmp_path / "rep", **QUICK)
    assert not stale.exists() and alive.exists()


def test_a_report_killed_between_its_renames_is_put_back(small_cfg: Path,
                                                          tmp_path: Path) -> None:
    """Killed after renaming the old report away and before renaming the new one in: the
    next run finds ``--out`` missing and the old report beside it, and puts it back."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    old = tmp_path / f".rep.tunecost-report-old-{dead.pid}-0badcafe"
    old.mkdir()
    (old / "report.json").write_text("{}")
    remove_stale(tmp_path / "rep")
    assert (tmp_path / "rep" / "report.json").read_text() == "{}" and not old.exists()


def test_a_reference_run_without_energy_reports_no_multiplier(tmp_path: Path) -> None:
    """A CPU-only reference study draws 0 W: no tuning multiplier, said in a line, and
    the rest of the report is written (it used to end in a KeyError)."""
    cfg = tmp_path / "cpu.yaml"
    cfg.write_text(SMALL.replace("hardware: {accelerator: v100-sxm2}",
                                 "hardware: {accelerator: none}")
                        .replace("power: {kind: constant, accelerator_w: 200}",
                                 "power: {kind: tdp_fraction, utilization: 0.8}"))
    files = build_report(cfg, out=tmp_path / "rep", **QUICK)
    md = files.markdown.read_text(encoding="utf-8")
    assert "Tuning multiplier: not defined, the reference run draws no energy" in md
    assert "CPU-hours" in md


def test_out_that_is_not_a_folder_for_a_report(small_cfg: Path, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    for out, message in [
        (tmp_path / "file", "--out must be a folder, but"),
        (tmp_path / "file" / "sub", "lies under the file"),
        (other, "holds other files"),
    ]:
        result = CliRunner().invoke(app, ["report", str(small_cfg), "--out", str(out)])
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], result.output
    assert (other / "notes.txt").read_text() == "mine" and len(list(other.iterdir())) == 1
    assert (tmp_path / "file").read_text() == "x"


def test_a_terminated_cli_report_cleans_up(tmp_path: Path) -> None:
    out = tmp_path / "rep"
    cmd = [sys.executable, "-m", "tunecost", "report", str(ROOT / "configs" / "lisa_rnd.yaml"),
           "--out", str(out), "--replicates", "50", "--sobol-n", "256"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # Wait until the report has started writing (its breakdown PNG), then terminate it.
        for _ in range(1200):
            if list(tmp_path.glob(".rep.tunecost-report-tmp-*/breakdown.png")):
                break
            if proc.poll() is not None:
                pytest.fail(f"the report ended before it could be terminated: "
                            f"{proc.communicate()[1].decode()[-500:]}")
            time.sleep(0.05)
        else:
            pytest.fail("the report never started writing")
        proc.terminate()
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, err.decode()[-500:]
    assert "Traceback" not in err.decode()
    assert list(tmp_path.iterdir()) == []  # no report, no temporary folder


def test_a_calibration_fitted_here_is_named_where_it_ends_up(tmp_path: Path) -> None:
    out = tmp_path / "rep"
    files = build_report(out=out, records=STUDY / "data" / "calib_random.jsonl",
                         accelerator="h200", replicates=20, **QUICK)
    assert (out / "calibration.json").is_file()
    sources = files.data["campaign"]["assumptions"]["sources"]
    assert any(v.startswith(f"{out / 'calibration.json'}:") for v in sources.values())
    for p in out.iterdir():
        if p.suffix in (".md", ".html", ".json", ".csv"):
            assert ".tunecost-report-" not in p.read_text(), p.name
