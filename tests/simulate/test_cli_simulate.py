"""``tunecost simulate`` as a user runs it."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from tunecost.cli import app

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
runner = CliRunner()


@pytest.mark.parametrize("name", sorted(p.name for p in CONFIGS.iterdir()))
def test_every_shipped_config_runs(name: str) -> None:
    out = runner.invoke(app, ["simulate", str(CONFIGS / name), "--replicates", "20", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    summaries = data["scenarios"] if "scenarios" in data else [data]
    for s in summaries:
        assert s["replicates"] == 20
        for metric in (
            "n_trials",
            "gpu_hours",
            "wall_clock_h",
            "energy_kwh",
            "co2e_kg",
            "cost_usd",
            "electricity_usd",
        ):
            assert metric in s["metrics"]
        assert s["metrics"]["energy_kwh"]["p5"] <= s["metrics"]["energy_kwh"]["p95"]
        assert set(s["tuning_multiplier"]) == {"mean", "p5", "p50", "p95"}
        assert s["studies"]


def test_ledger_rows(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.csv"
    out = runner.invoke(
        app,
        [
            "simulate",
            str(CONFIGS / "lisa_rnd.yaml"),
            "--replicates",
            "3",
            "--ledger",
            str(ledger),
            "--json",
        ],
    )
    assert out.exit_code == 0, out.output
    rows = list(csv.DictReader(ledger.open()))
    assert len(rows) == 4789
    for col in (
        "study",
        "trial",
        "config",
        "fidelity",
        "state",
        "start_h",
        "duration_h",
        "worker",
        "energy_kwh",
        "co2e_kg",
        "cost_usd",
    ):
        assert col in rows[0]
    states = {r["state"] for r in rows}
    assert "COMPLETE" in states and "CRASHED" in states
    total_gpu_h = sum(float(r["duration_h"]) for r in rows)
    assert 150_000 < total_gpu_h < 350_000
    assert not list(tmp_path.glob(".ledger.csv.*"))  # no temporary file left behind


def test_nas_scenarios_side_by_side_show_patterson_correction() -> None:
    out = runner.invoke(
        app,
        ["simulate", str(CONFIGS / "nas_evolved_transformer.yaml"), "--replicates", "5", "--json"],
    )
    data = json.loads(out.stdout)
    strubell, actual = data["scenarios"]
    lbs = strubell["metrics"]["co2e_kg"]["p50"] * 2.20462262
    assert lbs == pytest.approx(626_155, rel=0.001)  # Strubell Table 3, NAS P100x8
    assert actual["metrics"]["co2e_kg"]["p50"] / 1000 == pytest.approx(3.2, rel=0.02)
    assert strubell["metrics"]["co2e_kg"]["p50"] / actual["metrics"]["co2e_kg"]["p50"] > 80


@pytest.mark.parametrize(
    ("patch", "needle"),
    [
        (
            "studies:\n  - name: grid-searches\n    count: 122\n",
            "studies:\n  - name: grid-searches\n    count: -1\n",
        ),
        ("pue: uptime-2018", "pue: 0.5"),
        ("strategy: {kind: grid, n_configs: 39}", "strategy: {kind: gird, n_configs: 39}"),
        ("workers: 58", "wrokers: 58"),
        ("region: us-epa-2018", "region: atlantis"),
    ],
)
def test_config_errors_are_one_line(tmp_path: Path, patch: str, needle: str) -> None:
    text = (CONFIGS / "lisa_rnd.yaml").read_text()
    assert patch in text
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace(patch, needle))
    out = runner.invoke(app, ["simulate", str(bad), "--replicates", "2"])
    assert out.exit_code == 2
    assert "Traceback" not in out.output
    assert out.output.startswith("error:")
    assert len(out.output.strip().splitlines()) == 1, out.output


def test_missing_file_and_bad_suffix(tmp_path: Path) -> None:
    out = runner.invoke(app, ["simulate", str(tmp_path / "nope.yaml")])
    assert out.exit_code == 2 and "no such file" in out.output
    other = tmp_path / "c.json"
    other.write_text("{}")
    out = runner.invoke(app, ["simulate", str(other)])
    assert out.exit_code == 2 and ".yaml, .yml or .toml" in out.output


def _campaign_file(tmp_path: Path, filename: str, **edits: Any) -> Path:
    cfg = {
        "name": "c", "workers": 2, "pue": 1.0, "carbon": {"g_co2e_per_kwh": 300},
        "replicates": 5,
        "studies": [{"name": "s", "strategy": {"kind": "random", "n_trials": 4},
                     "duration": {"dist": "fixed", "duration_h": 0.01},
                     "hardware": {"accelerator": "a100-sxm4-80gb"},
                     "power": {"kind": "constant", "accelerator_w": 300}}],
    }
    for key, value in edits.items():
        if key.startswith("study_"):
            cfg["studies"][0][key[len("study_"):]] = value
        else:
            cfg[key] = value
    path = tmp_path / filename
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_names_and_paths_print_as_written(tmp_path: Path) -> None:
    """Rich markup and emoji codes in user text: `run[/bold].yaml` and `lr sweep [/v2]` raised
    MarkupError, `h100[sxm]` printed as `h100`, `:x:` became an emoji."""
    folder = tmp_path / "run["
    folder.mkdir()
    path = _campaign_file(folder, "bold].yaml", name="lr sweep [/v2] :x:",
                          study_name="h100[sxm] [bold]")
    out = runner.invoke(app, ["simulate", str(path)])
    assert out.exit_code == 0, out.output
    assert "lr sweep [/v2] :x:" in out.stdout
    assert "h100[sxm] [bold]" in out.stdout
    missing = runner.invoke(app, ["simulate", str(folder / "nope[/x] :x:.yaml")])
    assert missing.exit_code == 2 and "nope[/x] :x:.yaml" in missing.stderr


def test_cpu_only_study_says_cpu_hours_and_small_totals_are_not_zero(tmp_path: Path) -> None:
    path = _campaign_file(tmp_path, "cpu.yaml", study_hardware={"accelerator": "cpu-only"},
                          study_power={"kind": "constant", "accelerator_w": 1},
                          study_host_power_w=15.0)
    out = runner.invoke(app, ["simulate", str(path), "--json"])
    data = json.loads(out.stdout)
    assert data["schema_version"] == 1
    assert data["hours_unit"] == "CPU-hours" and data["studies"][0]["hours_unit"] == "CPU-hours"
    assert data["metrics"]["gpu_hours"]["p50"] == pytest.approx(0.04)
    table = runner.invoke(app, ["simulate", str(path)])
    assert "CPU-hours" in table.stdout and "GPU-hours" not in table.stdout
    energy_row = next(line for line in table.stdout.splitlines() if "energy (kWh)" in line)
    assert "0.00064" in energy_row  # 4 × 0.01 h × 16 W, not "0"
    gpu = json.loads(runner.invoke(app, ["simulate", str(_campaign_file(tmp_path, "g.yaml")),
                                         "--json"]).stdout)
    assert gpu["hours_unit"] == "GPU-hours"


def test_pricing_an_instance_of_another_accelerator_warns(tmp_path: Path) -> None:
    """T4 trials priced per accelerator of a p5.48xlarge (8 × H100): a warning names it."""
    path = _campaign_file(tmp_path, "p.yaml", study_hardware={"accelerator": "t4"},
                          pricing={"instance": "p5.48xlarge", "provider": "aws"})
    out = runner.invoke(app, ["simulate", str(path), "--json"])
    assert out.exit_code == 0, out.output
    warning = out.stderr.strip().splitlines()
    assert len(warning) == 1 and warning[0].startswith("warning: ")
    assert "t4" in warning[0] and "p5.48xlarge" in warning[0] and "h100" in warning[0]
    data = json.loads(out.stdout)
    assert data["assumptions"]["warnings"] == [warning[0][len("warning: "):]]
    same = _campaign_file(tmp_path, "q.yaml", study_hardware={"accelerator": "h100-sxm"},
                          pricing={"instance": "p5.48xlarge", "provider": "aws"})
    assert runner.invoke(app, ["simulate", str(same), "--json"]).stderr == ""
    # Meant (the paper's P100 rates for other GPUs): no warning, and the sources say it.
    meant = _campaign_file(tmp_path, "r.yaml", study_hardware={"accelerator": "t4"},
                           pricing={"instance": "p5.48xlarge", "provider": "aws",
                                    "proxy": True})
    out = runner.invoke(app, ["simulate", str(meant), "--json"])
    assert out.exit_code == 0 and out.stderr == ""
    assert any("proxy for t4" in v for v in json.loads(out.stdout)["assumptions"]["sources"]
               .values())


def test_scenario_ledgers_are_files_named_after_each_scenario(tmp_path: Path) -> None:
    one = yaml.safe_load(_campaign_file(tmp_path, "one.yaml").read_text())
    scenarios = {"name": "set", "scenarios": [{**one, "name": "a/b"}, {**one, "name": "plain"}]}
    path = tmp_path / "set.yaml"
    path.write_text(yaml.safe_dump(scenarios))
    out = runner.invoke(app, ["simulate", str(path), "--ledger", str(tmp_path / "l.csv"),
                              "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["schema_version"] == 1
    assert (tmp_path / "l.a_b.csv").is_file() and (tmp_path / "l.plain.csv").is_file()
    assert not (tmp_path / "l.a").exists()


def test_reference_run_without_power_has_no_multiplier(tmp_path: Path) -> None:
    """Fuzz F21: a CPU-only reference study at 0 W gave a tuning multiplier of inf/NaN."""
    path = _campaign_file(tmp_path, "r.yaml")
    data = yaml.safe_load(path.read_text())
    data["studies"].insert(0, {"name": "cpu", "strategy": {"kind": "single_run"},
                               "duration": {"dist": "fixed", "duration_h": 1.0},
                               "hardware": {"accelerator": "none"},
                               "power": {"kind": "tdp_fraction", "utilization": 0.8}})
    path.write_text(yaml.safe_dump(data))
    out = runner.invoke(app, ["simulate", str(path), "--json"])
    assert out.exit_code == 0 and out.stderr == "", out.output
    summary = json.loads(out.stdout)
    assert summary["tuning_multiplier"] is None
    assert "no tuning multiplier" in summary["reference_run"]["how"]
    assert "tuning multiplier" not in runner.invoke(app, ["simulate", str(path)]).stdout.split(
        "reference run")[0]
