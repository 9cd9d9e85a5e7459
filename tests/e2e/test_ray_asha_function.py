"""A Ray Tune function trainable under ASHA, run for real, through calibrate -> simulate -> report.

The shape of Ray Tune's asynchronous-Hyperband example: a function trainable that loops over
iterations and reports ``loss`` each time (``training_iteration`` counts the reports), random
``param_space`` sampling, ``ASHAScheduler`` on ``training_iteration``, ``num_samples`` trials,
results under ``storage_path``. Wrapped as the README says: ``measured_trainable`` around the
function and ``tunecost.calibrate.ray_report`` in place of ``ray.tune.report``. Uses the
session's local Ray cluster (``ray_session`` in ``tests/conftest.py``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tunecost.calibrate import Calibration

from .conftest import (
    Cli,
    assert_in_band,
    check_calibration_schema,
    check_report,
    check_simulated,
    number,
    table_row,
    trial_seconds,
    write_yaml,
)

NUM_SAMPLES = 12
MAX_T = 9
ASHA = {"grace_period": 1, "max_t": MAX_T, "reduction_factor": 3}
WORKERS = 2
EXPERIMENT = "asha_fn"


def _make_trainable():
    # Built in a function so that cloudpickle ships it by value: Ray's workers cannot import
    # this test module by name.
    def train_fn(config):
        import numpy as np

        from tunecost.calibrate import ray_report

        n = int(config["width"])  # the model's size: what the step costs
        a = np.random.default_rng(0).standard_normal((n, n)) / np.sqrt(n)
        for it in range(1, MAX_T + 1):
            for _ in range(400):  # one "epoch"
                a = np.tanh(a @ a.T)
            loss = (1.0 + abs(np.log10(config["lr"]) + 2.0)) / it ** 0.5 + 0.01 * float(
                np.abs(a).mean())
            ray_report({"loss": loss})

    return train_fn


def _run_experiment(storage: Path):
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search import BasicVariantGenerator

    from tunecost.calibrate import measured_trainable

    tuner = tune.Tuner(
        measured_trainable(_make_trainable()),
        param_space={"width": tune.randint(64, 192), "lr": tune.loguniform(1e-4, 1e-1)},
        tune_config=tune.TuneConfig(
            metric="loss", mode="min", num_samples=NUM_SAMPLES,
            # the same 12 configurations every run, 2 at a time
            search_alg=BasicVariantGenerator(random_state=0, max_concurrent=WORKERS),
            scheduler=ASHAScheduler(time_attr="training_iteration", **ASHA),
        ),
        run_config=tune.RunConfig(name=EXPERIMENT, storage_path=str(storage), verbose=0),
    )
    return tuner.fit()


def _last_rows(exp: Path) -> list[dict]:
    """Each trial's last ``result.json`` row, as Ray wrote it."""
    rows = []
    for result in sorted(exp.glob("*/result.json")):
        lines = [ln for ln in result.read_text().splitlines() if ln.strip()]
        rows.append(json.loads(lines[-1]))
    return rows


@pytest.mark.slow
def test_ray_asha_function_trainable_end_to_end(ray_session: None, tmp_path: Path,
                                                cli: Cli) -> None:
    t0 = time.monotonic()
    grid = _run_experiment(tmp_path / "ray")
    wall_s = time.monotonic() - t0  # printed beside the prediction, never asserted
    assert grid.num_errors == 0 and len(grid) == NUM_SAMPLES
    exp = tmp_path / "ray" / EXPERIMENT
    last = _last_rows(exp)
    assert len(last) == NUM_SAMPLES
    iterations = [r["training_iteration"] for r in last]
    assert max(iterations) == MAX_T and min(iterations) < MAX_T  # ASHA stopped some
    # Ray's own measure of each trial's running time, summed over the experiment
    measured_s = sum(r["time_total_s"] for r in last)
    print(f"measured: {NUM_SAMPLES} trials, {measured_s:.2f} s of trial time, iterations "
          f"{sorted(iterations)}, {wall_s:.1f} s wall clock")

    # -- calibrate -------------------------------------------------------------------------
    calib = tmp_path / "calib.json"
    cli("calibrate", "calibrate", "--ray-results", exp, "--metric", "loss", "--mode", "min",
        "--out", calib)
    cal = Calibration.load(calib)
    assert cal.n_records == NUM_SAMPLES, (
        f"the calibration used {cal.n_records} of {NUM_SAMPLES} trials (ASHA-stopped trials' "
        "cost is real)")
    assert set(cal.space) == {"width", "lr"}, sorted(cal.space)

    # -- simulate the same experiment: ASHA, 12 trials, 2 at a time, on the replay engine ----
    campaign = {
        "name": "asha_rerun", "workers": WORKERS, "pue": 1.0, "carbon": {"g_co2e_per_kwh": 50},
        "electricity": {"usd_per_kwh": 0.2}, "replicates": 20, "seed": 0,
        "studies": [{
            "name": "asha",
            "strategy": {"kind": "ray_tune", "n_trials": NUM_SAMPLES,
                         "scheduler": {"name": "asha", **ASHA}},
            "hardware": {"accelerator": "cpu"},
            # Ray's results hold values, not distributions: the space is the user's
            "calibration": {"path": str(calib), "search_space": {
                "width": {"type": "int", "low": 64, "high": 191},
                "lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True}}},
        }],
    }
    cfg = write_yaml(tmp_path / "asha.yaml", campaign)
    s = cli.json("simulate", "simulate", cfg, "--json")
    assert s["engine"] == "replay", s["engine"]
    check_simulated(s, "simulate", n_trials=NUM_SAMPLES)
    print(f"predicted trial time P5/P50/P95 (s): {trial_seconds(s)}; wall clock (h): "
          f"{s['metrics']['wall_clock_h']}")
    # 20 replicates; trial times of Ray actors on a loaded 2-core machine: 20 % each end
    assert_in_band(measured_s, trial_seconds(s), "ASHA re-run: total trial time (s)", tol=0.20)

    # -- report, with the experiment's trials (--ray-results) ------------------------------
    out = tmp_path / "report"
    cli("report", "report", cfg, "--ray-results", exp, "--metric", "loss", "--mode", "min",
        "--out", out, "--sobol-n", "16")
    data, header, rows = check_report(out, "report")
    assert number(table_row(header, rows, "trials")["P50"]) == NUM_SAMPLES
    rep = data["campaign"]
    assert rep["metrics"]["gpu_hours"] == s["metrics"]["gpu_hours"]
    assert_in_band(measured_s, trial_seconds(rep), "report: total trial time (s)", tol=0.20)
    # the experiment's trials were read (the report lists its inputs)
    assert any(EXPERIMENT in line for line in data["inputs"]), data["inputs"]
    check_calibration_schema(calib)
