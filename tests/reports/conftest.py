"""Reports built once per session: the LISA campaign and the H200 calibration."""

from __future__ import annotations

from pathlib import Path

import pytest

from tunecost.reports import ReportFiles, build_report

ROOT = Path(__file__).resolve().parents[2]
STUDY = ROOT / "studies" / "h200_transformer_lm"

SMALL = """\
name: small
workers: 2
pue: 1.2
carbon: {g_co2e_per_kwh: 300}
pricing: {usd_per_accelerator_hour: 2.5}
replicates: 37
seed: 5
studies:
  - name: rs
    strategy: {kind: random, n_trials: 12}
    duration: {dist: fixed, duration_h: 0.5}
    hardware: {accelerator: v100-sxm2}
    power: {kind: constant, accelerator_w: 200}
"""
"""A small campaign config (YAML) the report tests write and build from."""


@pytest.fixture(scope="session")
def lisa_report(tmp_path_factory: pytest.TempPathFactory) -> ReportFiles:
    out = tmp_path_factory.mktemp("lisa")
    # Fewer replicates than the CLI's defaults keep the suite quick; the shape is the same.
    return build_report(ROOT / "configs" / "lisa_rnd.yaml", out=out, replicates=200,
                        sensitivity_replicates=16, sobol_n=64, n_boot=200)


@pytest.fixture(scope="session")
def h200_report(tmp_path_factory: pytest.TempPathFactory) -> ReportFiles:
    out = tmp_path_factory.mktemp("h200")
    return build_report(
        out=out,
        calibration=STUDY / "calib_small.json",
        records=STUDY / "data" / "calib_random.jsonl",
        repeats=STUDY / "data" / "repeats.jsonl",
        replicates=300,
        sobol_n=64,
        n_boot=200,
    )
