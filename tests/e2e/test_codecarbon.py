"""A CodeCarbon-tracked Optuna study, run for real, joined and calibrated, simulated, reported.

Users who already measure with CodeCarbon run each trial inside an ``EmissionsTracker`` named
after it and let it append to ``emissions.csv``; the objective is not wrapped by tunecost.
CodeCarbon's rows carry no hyperparameters, so ``tunecost calibrate --optuna-storage ...
--codecarbon emissions.csv`` must join each row to the trial it measured (task/project name
or timestamps) and take the energy from CodeCarbon. Offline tracker, France's grid: no
network.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
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
    sources_in,
    table_row,
    trial_kwh,
    trial_seconds,
    write_yaml,
)
from .workloads import matmul_work

N_TRIALS = 10
STUDY = "codecarbon_tracked"
J_PER_KWH = 3.6e6


def _run_study(db: str, out_dir: Path):
    import optuna
    from codecarbon import OfflineEmissionsTracker, OutputMethod

    def objective(trial: optuna.Trial) -> float:
        # every trial well above CodeCarbon's first sample (a few ms) and near its 1 s
        # measuring period, on a quiet machine too (0.3-1.5 s here): trials of 10-70 ms read
        # an energy that is CodeCarbon's artefact, not the trial's cost (a band x50 wide)
        width = trial.suggest_int("width", 96, 256, log=True)
        reps = trial.suggest_int("reps", 1000, 3000)
        with OfflineEmissionsTracker(
            country_iso_code="FRA", output_dir=str(out_dir), project_name=f"trial-{trial.number}",
            output_methods=[OutputMethod.CSV],  # codecarbon 3.x: save_to_file is deprecated
            log_level="error", measure_power_secs=1,
        ):
            return matmul_work(width, reps, seed=trial.number)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=db, study_name=STUDY,
                                sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=N_TRIALS)
    return study


def _csv_kwh_by_project(path: Path) -> dict[str, float]:
    """CodeCarbon's own total per tracker: ``energy_consumed`` (kWh) summed by project."""
    by: dict[str, float] = defaultdict(float)
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            by[row["project_name"]] += float(row["energy_consumed"])
    return dict(by)


@pytest.mark.slow
def test_codecarbon_tracked_study_end_to_end(tmp_path: Path, cli: Cli) -> None:
    db = f"sqlite:///{tmp_path / 'study.db'}"
    study = _run_study(db, tmp_path)
    assert len(study.trials) == N_TRIALS
    emissions = tmp_path / "emissions.csv"
    kwh = _csv_kwh_by_project(emissions)
    assert sorted(kwh) == sorted(f"trial-{i}" for i in range(N_TRIALS)), sorted(kwh)
    measured_kwh = sum(kwh.values())
    assert measured_kwh > 0
    print(f"measured by CodeCarbon: {measured_kwh * J_PER_KWH:.1f} J over {N_TRIALS} trials")

    # -- calibrate: the study's trials, their energy from the CSV ---------------------------
    calib = tmp_path / "calib.json"
    cli("calibrate (--codecarbon joined)", "calibrate", "--optuna-storage", db, "--study",
        STUDY, "--codecarbon", emissions, "--out", calib)
    cal = Calibration.load(calib)
    assert cal.n_records == N_TRIALS
    assert set(cal.space) == {"width", "reps"}, sorted(cal.space)  # hyperparameters joined
    assert cal.energy is not None, "the calibration has no energy model despite CodeCarbon"
    assert cal.energy_scope == "host", cal.energy_scope  # CPU + RAM: CodeCarbon saw no GPU

    # -- the joined records: each trial's energy is its tracker's ---------------------------
    from tunecost.calibrate import load_records

    records = load_records(optuna_storage=db, study=STUDY, codecarbon=emissions)
    assert len(records) == N_TRIALS
    for r in records:
        assert set(r.params) == {"width", "reps"}, r.params
        joules = (r.energy_j or 0.0) + (r.cpu_energy_j or 0.0) + (r.dram_energy_j or 0.0)
        want = kwh[f"trial-{r.number}"] * J_PER_KWH
        assert joules == pytest.approx(want, rel=1e-6), (r.number, joules, want)

    # -- simulate the study re-run, at PUE 1 as measured ------------------------------------
    campaign = {
        "name": "cc_rerun", "workers": 1, "pue": 1.0, "carbon": {"g_co2e_per_kwh": 56},
        "electricity": {"usd_per_kwh": 0.2}, "replicates": 400, "seed": 0,
        "studies": [{"name": "cc", "strategy": {"kind": "random", "n_trials": N_TRIALS},
                     "hardware": {"accelerator": "cpu"},
                     "calibration": {"path": str(calib)}}],
    }
    cfg = write_yaml(tmp_path / "rerun.yaml", campaign)
    s = cli.json("simulate", "simulate", cfg, "--json")
    check_simulated(s, "simulate", n_trials=N_TRIALS)
    print(f"predicted energy P5/P50/P95 (J): {[x * J_PER_KWH for x in trial_kwh(s)]}; "
          f"trial time (s): {trial_seconds(s)}")
    # the trials' energy: what CodeCarbon measured lies in the predicted band (15 %: 10 trials
    # of the calibrated spread, on a loaded machine)
    assert_in_band(measured_kwh, trial_kwh(s), "re-run: trial energy (kWh)", tol=0.15)

    # -- report ------------------------------------------------------------------------------
    out = tmp_path / "report"
    cli("report", "report", cfg, "--out", out, "--sobol-n", "64")
    data, header, rows = check_report(out, "report")
    assert number(table_row(header, rows, "trials")["P50"]) == N_TRIALS
    table_row(header, rows, "energy")  # kWh is in the headline table
    rep = data["campaign"]
    assert rep["metrics"]["energy_kwh"] == s["metrics"]["energy_kwh"]
    # last, what the calibration file says about its energy: that it came from CodeCarbon
    raw = json.loads(calib.read_text(encoding="utf-8"))
    assert any("codecarbon" in s.lower() for s in sources_in(raw)), (
        f"the calibration does not say its energy came from CodeCarbon: {sources_in(raw)}")
    check_calibration_schema(calib)
