"""The command line as a user runs it: exit codes and one-line errors, no tracebacks."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tunecost import catalog
from tunecost.cli import app, main
from tunecost.cli.catalog import COLUMNS

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {  # the first line of each command's help
    "reproduce": "Recompute a paper's cost tables from its own inputs, each quirk explained.",
    "estimate": "Energy, CO2e and dollars of one run on catalog hardware.",
    "catalog": "List a reference catalog, with the source of every row in --json.",
    "simulate": "Simulate a campaign: P5/P50/P95 of trials, GPU-hours, wall clock, kWh, CO2e "
                "and $.",
    "calibrate": "Fit per-trial cost models on a measured study; choose forms by "
                 "cross-validation.",
    "report": "Report: P5/P50/P95 totals, tuning multiplier, what moves them; Markdown, HTML, "
              "PNG,",
    "watch": "Watch a running study: spent and P5/P50/P95 forecast totals, live, against a "
             "budget.",
}

runner = CliRunner()


def _tunecost() -> list[str]:
    exe = shutil.which("tunecost")
    return [exe] if exe else [sys.executable, "-m", "tunecost"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["reproduce", "strubel2019"], "unknown paper name 'strubel2019'; closest: strubell2019"),
        (["estimate", "--accelerator", "v1000", "--hours", "3"], "unknown accelerator name"),
        (
            ["estimate", "--accelerator", "v100", "--hours", "3", "--region", "mars"],
            "unknown grid region name 'mars'",
        ),
        (["estimate", "--accelerator", "v100", "--hours", "-3"], "hours"),
        (["catalog", "gpus"], "unknown catalog name 'gpus'"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(args: list[str], needle: str) -> None:
    proc = subprocess.run([*_tunecost(), *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_estimate_json() -> None:
    out = runner.invoke(
        app,
        [
            "estimate",
            "--accelerator",
            "V100",
            "--gpus",
            "8",
            "--hours",
            "10",
            "--power-w",
            "300",
            "--pue",
            "1.1",
            "--region",
            "us-epa-2018",
            "--json",
        ],
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["energy_kwh"] == pytest.approx(8 * 300 * 10 * 1.1 / 1000)
    assert data["co2e_lbs"] == pytest.approx(data["energy_kwh"] * 0.954)


def test_estimate_defaults_to_tdp_times_utilization() -> None:
    out = runner.invoke(
        app,
        [
            "estimate",
            "--accelerator",
            "h100-sxm",
            "--hours",
            "2",
            "--utilization",
            "0.5",
            "--json",
        ],
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["accelerator_power_w"] == pytest.approx(350.0)
    assert data["energy_kwh"] == pytest.approx(0.7)


def test_catalog_listing() -> None:
    out = runner.invoke(app, ["catalog", "accelerators", "--json"])
    assert out.exit_code == 0
    data = json.loads(out.output)
    assert data["schema_version"] == 1 and data["catalog"] == "accelerators"
    assert all(r["source"] for r in data["rows"])
    assert [r["name"] for r in data["rows"]] == [r.name for r in catalog.accelerators()]


@pytest.mark.parametrize("kind", list(catalog.LISTINGS))
def test_every_catalog_lists_its_rows(kind: str) -> None:
    """The table has one row per catalog row, and only columns the rows have."""
    rows = catalog.listing(kind)
    assert set(COLUMNS[kind]) <= set(type(rows[0]).model_fields)
    out = runner.invoke(app, ["catalog", kind])
    assert out.exit_code == 0, out.output
    assert out.stdout.splitlines()[0].strip() == f"{kind} ({len(rows)} rows; --json shows sources)"
    first = str(getattr(rows[0], COLUMNS[kind][0]))
    assert any(line.startswith(f"│ {first}") for line in out.stdout.splitlines())


def test_the_table_columns_cover_every_catalog() -> None:
    assert list(COLUMNS) == list(catalog.LISTINGS)


def test_help_explains_commands() -> None:
    import typer.main

    group = typer.main.get_command(app)
    # Every command, in this order, with its help.
    assert list(group.commands) == list(COMMANDS)
    for name, first_line in COMMANDS.items():
        assert group.commands[name].help.splitlines()[0] == first_line
    out = runner.invoke(app, ["--help"])
    assert out.exit_code == 0
    at = [out.output.index(f"│ {name} ") for name in COMMANDS]
    assert at == sorted(at)  # listed in the same order


def test_the_console_script_and_python_m_run_the_cli() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, attr = scripts["tunecost"].partition(":")
    assert getattr(importlib.import_module(module), attr) is main
    for entry in ("tunecost", "tunecost.cli"):
        proc = subprocess.run([sys.executable, "-m", entry, "--version"], capture_output=True,
                              text=True, timeout=120, cwd=ROOT)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith("tunecost ") and proc.stderr == ""


def test_version_flag_prints_the_package_version() -> None:
    from tunecost import __version__

    out = runner.invoke(app, ["--version"])
    assert out.exit_code == 0 and out.output.strip() == f"tunecost {__version__}"


@pytest.mark.parametrize(
    "args",
    [
        ["estimate", "--accelerator", "v100", "--hours", "3", "--json"],
        ["catalog", "pue", "--json"],
        ["reproduce", "strubell2019", "--json"],
    ],
)
def test_every_json_carries_the_schema_version(args: list[str]) -> None:
    out = runner.invoke(app, args)
    assert out.exit_code == 0, out.output
    assert next(iter(json.loads(out.stdout))) == "schema_version"
    assert json.loads(out.stdout)["schema_version"] == 1


def test_estimate_prints_small_figures_with_significant_digits() -> None:
    """A 36-second CPU run: 15 W × 0.01 h = 0.00015 kWh, not "0.00 kWh"."""
    out = runner.invoke(app, ["estimate", "--accelerator", "cpu", "--hours", "0.01",
                              "--host-power-w", "15"])
    assert out.exit_code == 0, out.output
    assert "0.00015 kWh" in out.stdout
