"""A conditional scikit-learn search, run for real, through calibrate -> simulate -> report.

The study has the shape of Optuna's canonical scikit-learn example: a ``classifier`` choice,
then a parameter that exists only in its branch (``svc_c`` for SVC, ``rf_max_depth`` for a
random forest), 3-fold cross-validated accuracy (maximised), random search, SQLite storage,
the objective wrapped with ``tunecost.calibrate.measured`` as the README says. Nothing is edited
by hand between the steps: the CLI reads the study, the configs name the calibration file.
"""

from __future__ import annotations

import json
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
    optuna_measured,
    table_row,
    trial_seconds,
    wall_seconds,
    write_yaml,
)
from .workloads import conditional_classifier

N_TRIALS = 20
STUDY = "sklearn_conditional"
PARAMSPACE_FIELDS = {"type", "low", "high", "log", "step", "choices"}


def _run_study(db: str):
    import optuna

    from tunecost.calibrate import measured

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=db, study_name=STUDY, direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(measured(conditional_classifier), n_trials=N_TRIALS)
    return study


def _condition(spec: dict) -> dict:
    """The fields of a stored dimension beyond a plain dimension's: its condition."""
    return {k: v for k, v in spec.items() if k not in PARAMSPACE_FIELDS and v is not None}


def _campaign(name: str, strategy: dict, calib: Path, replicates: int) -> dict:
    return {
        "name": name, "workers": 1, "pue": 1.0, "carbon": {"g_co2e_per_kwh": 50},
        "electricity": {"usd_per_kwh": 0.2}, "replicates": replicates, "seed": 0,
        "studies": [{"name": name, "strategy": strategy, "hardware": {"accelerator": "cpu"},
                     "calibration": {"path": str(calib)}}],
    }


@pytest.mark.slow
def test_conditional_sklearn_study_end_to_end(tmp_path: Path, cli: Cli) -> None:
    db = f"sqlite:///{tmp_path / 'study.db'}"
    study = _run_study(db)
    trials = study.trials
    assert len(trials) == N_TRIALS and all(t.state.name == "COMPLETE" for t in trials)
    branches = {t.params["classifier"] for t in trials}
    assert branches == {"SVC", "RandomForest"}, branches  # both branches were measured
    measured = optuna_measured(db, STUDY)
    measured_s = measured["trial_s"]

    # -- calibrate: no --mode, the direction (maximize) comes from the study -------------------
    calib = tmp_path / "calib.json"
    cli("calibrate", "calibrate", "--optuna-storage", db, "--study", STUDY, "--out", calib)
    cal = Calibration.load(calib)
    assert cal.n_records == N_TRIALS
    raw = json.loads(calib.read_text(encoding="utf-8"))
    space = raw["space"]
    assert set(space) >= {"classifier", "svc_c", "rf_max_depth"}, sorted(space)
    assert space["classifier"]["type"] == "categorical"
    assert sorted(space["classifier"]["choices"]) == ["RandomForest", "SVC"]
    assert space["svc_c"]["type"] == "float" and space["svc_c"]["log"] is True
    assert space["rf_max_depth"]["type"] == "int" and space["rf_max_depth"]["log"] is True
    for param, branch in (("svc_c", "SVC"), ("rf_max_depth", "RandomForest")):
        cond = _condition(space[param])
        text = json.dumps(cond)
        assert "classifier" in text and branch in text, (
            f"calibration space: {param} is stored without its condition "
            f"(classifier == {branch!r}): {space[param]}")
    assert not _condition(space["classifier"]), space["classifier"]
    direction = raw.get("direction")
    if direction is not None:  # where the calibration records it, it is the study's
        assert direction == "maximize", direction

    # -- simulate: the measured study re-run (random search, same n, replayed) ---------------
    rerun = write_yaml(tmp_path / "rerun.yaml", _campaign(
        "rerun", {"kind": "optuna", "n_trials": N_TRIALS,
                  "sampler": {"name": "RandomSampler"}}, calib, replicates=100))
    s_rerun = cli.json("simulate re-run", "simulate", rerun, "--json")
    assert s_rerun["engine"] == "replay", s_rerun["engine"]
    check_simulated(s_rerun, "simulate re-run", n_trials=N_TRIALS)
    print(f"measured: trial time {measured_s:.2f} s, wall clock {measured['wall_s']:.2f} s; "
          f"predicted trial time P5/P50/P95 {trial_seconds(s_rerun)}, wall clock "
          f"{wall_seconds(s_rerun)}")
    # The band comes from 100 replicates of the calibrated per-trial spread; the measured total
    # is one draw of it. 10 % on each end: trial times on a machine shared with other jobs.
    assert_in_band(measured_s, trial_seconds(s_rerun), "re-run: total trial time (s)", tol=0.10)

    # -- simulate: TPE, 40 trials, on the replay engine (the conditional space sampled) --------
    tpe = write_yaml(tmp_path / "tpe.yaml", _campaign(
        "tpe40", {"kind": "optuna", "n_trials": 40, "sampler": {"name": "TPESampler"}},
        calib, replicates=20))
    s_tpe = cli.json("simulate TPE", "simulate", tpe, "--json")
    assert s_tpe["engine"] == "replay", s_tpe["engine"]
    check_simulated(s_tpe, "simulate TPE", n_trials=40)
    # 40 trials of the same space cost about twice the 20 measured ones (TPE may drift to the
    # costlier branch, so only a wide bracket is a fact).
    p50_tpe = trial_seconds(s_tpe)[1]
    assert 1.0 * measured_s < p50_tpe < 4.0 * measured_s, (p50_tpe, measured_s)

    # -- report: the re-run, with the measured trials (importances, expected best) -------------
    out = tmp_path / "report"
    cli("report", "report", rerun, "--out", out, "--optuna-storage", db, "--study", STUDY,
        "--sobol-n", "64")
    data, header, rows = check_report(out, "report")
    # the report's headline is the simulation of the config (its replicates, its seed)
    rep = data["campaign"]
    assert rep["replicates"] == 100, f"the report ran {rep['replicates']} replicates, not 100"
    assert rep["metrics"]["gpu_hours"] == s_rerun["metrics"]["gpu_hours"]
    assert_in_band(measured_s, trial_seconds(rep), "report: total trial time (s)", tol=0.10)
    assert number(table_row(header, rows, "trials")["P50"]) == N_TRIALS
    # the direction came from the study: higher accuracy is better
    assert data["expected_best"]["maximize"] is True, data["expected_best"]

    # -- report from the calibration alone: the measured study re-run ----------------------
    # A campaign built from a calibration alone needs the trials' hardware: calibrate again
    # naming it (the CPU), as the error message for a calibration without one says.
    calib_cpu = tmp_path / "calib_cpu.json"
    cli("calibrate --accelerator cpu", "calibrate", "--optuna-storage", db, "--study", STUDY,
        "--accelerator", "cpu", "--out", calib_cpu)
    out2 = tmp_path / "report_alone"
    cli("report (calibration alone)", "report", "--calibration", calib_cpu, "--out", out2,
        "--sobol-n", "64")
    data2, header2, rows2 = check_report(out2, "report (calibration alone)")
    assert number(table_row(header2, rows2, "trials")["P50"]) == N_TRIALS
    assert_in_band(measured_s, trial_seconds(data2["campaign"]),
                   "report (calibration alone): total trial time (s)", tol=0.10)
    check_calibration_schema(calib)
    # last, the wall clock: the trials plus Optuna's own time (sampler, SQLite) around them;
    # 25 %: the storage's time on a loaded disk varies from trial to trial
    assert_in_band(measured["wall_s"], wall_seconds(s_rerun), "re-run: wall clock (s)", tol=0.25)
