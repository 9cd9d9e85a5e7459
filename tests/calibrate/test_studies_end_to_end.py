"""The real CPU studies, run as a user runs them, reach ``tunecost calibrate`` through the
Optuna storage and the Ray Tune results folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from tunecost.calibrate import Calibration, from_optuna
from tunecost.cli import app

STUDIES = Path(__file__).resolve().parents[2] / "studies"
runner = CliRunner()


def _run(args: list[str], timeout_s: float) -> None:
    env = dict(os.environ, RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0")
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env,
                          timeout=timeout_s)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


def test_optuna_study_to_calibration(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'study.db'}"
    _run([str(STUDIES / "optuna_mlp_digits" / "run.py"), "--n-trials", "8", "--max-epochs",
          "8", "--storage", db, "--results", str(tmp_path / "r.jsonl")], timeout_s=300)
    records = from_optuna(db, "optuna_mlp_digits")
    finished = [r for r in records if r.state in ("COMPLETE", "PRUNED")]
    assert len(finished) == 8
    assert all(r.cpu_energy_source == "estimated" and r.cpu_energy_j for r in finished)
    out = tmp_path / "calib.json"
    res = runner.invoke(app, ["calibrate", "--optuna-storage", db, "--study",
                              "optuna_mlp_digits", "--out", str(out), "--folds", "4"])
    assert res.exit_code == 0, res.output
    cal = Calibration.load(out)
    assert cal.n_records >= 6  # pruned trials count when their fidelity is known
    assert cal.energy_scope == "host" and cal.energy_estimated
    assert "estimated" in res.output


def test_ray_study_to_calibration(tmp_path: Path) -> None:
    _run([str(STUDIES / "ray_asha_mlp_digits" / "run.py"), "--num-samples", "6",
          "--max-epochs", "6", "--storage-path", str(tmp_path / "ray"), "--results",
          str(tmp_path / "r.jsonl")], timeout_s=400)
    out = tmp_path / "calib.json"
    res = runner.invoke(app, ["calibrate", "--ray-results",
                              str(tmp_path / "ray" / "ray_asha_mlp_digits"), "--metric",
                              "val_error", "--out", str(out), "--folds", "3"])
    assert res.exit_code == 0, res.output
    cal = Calibration.load(out)
    assert cal.study == "ray_asha_mlp_digits"
    assert cal.n_records >= 3
