"""The command line as a user runs it: exit codes and one-line errors, no tracebacks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from tunecost.cli import app

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
    data = json.loads(out.output)
    assert data["accelerator_power_w"] == pytest.approx(350.0)
    assert data["energy_kwh"] == pytest.approx(0.7)


def test_catalog_listing() -> None:
    out = runner.invoke(app, ["catalog", "accelerators", "--json"])
    assert out.exit_code == 0
    data = json.loads(out.output)
    assert data["schema_version"] == 1 and data["catalog"] == "accelerators"
    assert all(r["source"] for r in data["rows"])


def test_help_explains_commands() -> None:
    out = runner.invoke(app, ["--help"])
    assert out.exit_code == 0
    for command in ("reproduce", "estimate", "catalog"):
        assert command in out.output


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
