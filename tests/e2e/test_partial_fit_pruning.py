"""A pruned search with ``partial_fit``, run for real, through calibrate -> simulate -> report.

The shape of Optuna's pruning example: an ``SGDClassifier`` trained one ``partial_fit`` pass
per epoch on digits, ``trial.report(validation_error, epoch)`` after each, ``should_prune`` ->
``TrialPruned``, ``MedianPruner``, TPE; 40 trials, most of them pruned. Their cost is real:
the calibration must use them (the last reported step is how far each got). Then the same
search re-run and a bigger one (100 trials) are replayed from the calibration, and the
bigger one reported.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tunecost.calibrate import Calibration

from .conftest import (
    Cli,
    assert_in_band,
    check_calibration_schema,
    check_report,
    check_simulated,
    check_totals,
    number,
    optuna_measured,
    table_row,
    trial_seconds,
    wall_seconds,
    write_yaml,
)
from .workloads import SGD_EPOCHS, sgd_partial_fit

N_TRIALS = 40
N_BIG = 100
STUDY = "sgd_pruning"


def _run_study(db: str):
    import optuna

    from tunecost.calibrate import measured

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=db, study_name=STUDY, direction="minimize",
                                sampler=optuna.samplers.TPESampler(seed=0),
                                pruner=optuna.pruners.MedianPruner())
    study.optimize(measured(sgd_partial_fit), n_trials=N_TRIALS)
    return study


def _strategy(n_trials: int) -> dict:
    # the study's own sampler and pruner, at Optuna's defaults as the study used them
    return {"kind": "optuna", "n_trials": n_trials, "sampler": {"name": "TPESampler"},
            "pruner": {"name": "MedianPruner"}}


def _campaign(name: str, n_trials: int, replicates: int, calib: Path | None) -> dict:
    study: dict = {"name": name, "strategy": _strategy(n_trials),
                   "hardware": {"accelerator": "cpu"}}
    if calib is not None:
        study["calibration"] = {"path": str(calib)}
    return {"name": name, "workers": 1, "pue": 1.0, "carbon": {"g_co2e_per_kwh": 50},
            "electricity": {"usd_per_kwh": 0.2}, "replicates": replicates, "seed": 0,
            "studies": [study]}


@pytest.mark.slow
def test_pruned_partial_fit_study_end_to_end(tmp_path: Path, cli: Cli) -> None:
    import optuna

    db = f"sqlite:///{tmp_path / 'study.db'}"
    study = _run_study(db)
    states = [t.state for t in study.trials]
    n_pruned = states.count(optuna.trial.TrialState.PRUNED)
    n_complete = states.count(optuna.trial.TrialState.COMPLETE)
    assert n_pruned + n_complete == N_TRIALS
    assert n_pruned >= 10, f"only {n_pruned} of {N_TRIALS} trials were pruned"
    last_steps = [max(t.intermediate_values) for t in study.trials]
    assert min(last_steps) < SGD_EPOCHS  # pruned trials stopped early, at a reported epoch
    measured = optuna_measured(db, STUDY)
    measured_s = measured["trial_s"]  # pruned trials' time included

    # -- calibrate: every finished trial counts, pruned ones included ----------------------
    calib = tmp_path / "calib.json"
    cli("calibrate", "calibrate", "--optuna-storage", db, "--study", STUDY, "--out", calib)
    cal = Calibration.load(calib)
    assert cal.n_records == N_TRIALS, (
        f"the calibration used {cal.n_records} trials; the study has {n_complete} complete "
        f"and {n_pruned} pruned ones, whose cost is real")
    # The epochs the objective reports at: 1..SGD_EPOCHS, one per epoch, no offset.
    schedule = cal.report_schedule
    assert schedule is not None and schedule.reported(schedule.steps_for()).tolist() == [
        float(e) for e in range(1, SGD_EPOCHS + 1)], schedule

    # -- simulate: the same search re-run (TPE + MedianPruner, 40 trials) -------------------
    rerun = write_yaml(tmp_path / "rerun.yaml", _campaign("rerun", N_TRIALS, 20, calib))
    s_rerun = cli.json("simulate re-run", "simulate", rerun, "--json")
    assert s_rerun["engine"] == "replay", s_rerun["engine"]
    check_simulated(s_rerun, "simulate re-run", n_trials=N_TRIALS)
    print(f"measured: trial time {measured_s:.2f} s, wall clock {measured['wall_s']:.2f} s; "
          f"predicted trial time P5/P50/P95 {trial_seconds(s_rerun)}, wall clock "
          f"{wall_seconds(s_rerun)}")
    # 20 replicates of a replay: a coarse band; 15 % on each end for that and the load of a
    # shared machine on trial times measured in milliseconds.
    assert_in_band(measured_s, trial_seconds(s_rerun), "re-run: total trial time (s)", tol=0.15)

    # -- simulate: a bigger search, the calibration given on the command line --------------
    # (the study has no cost model and no calibration block: --calibration supplies it)
    big = write_yaml(tmp_path / "big.yaml", _campaign("big", N_BIG, 10, None))
    s_big = cli.json("simulate big (--calibration)", "simulate", big, "--calibration", calib,
                     "--json")
    check_simulated(s_big, "simulate big", n_trials=N_BIG)
    # 100 trials of the same search cost more than its 40
    assert trial_seconds(s_big)[1] > trial_seconds(s_rerun)[1]

    # -- report: the bigger search -------------------------------------------------------
    out = tmp_path / "report"
    cli("report", "report", big, "--calibration", calib, "--out", out, "--sobol-n", "16")
    data, header, rows = check_report(out, "report")
    assert number(table_row(header, rows, "trials")["P50"]) == N_BIG
    rep = data["campaign"]
    assert rep["replicates"] == 10, f"the report ran {rep['replicates']} replicates, not 10"
    check_totals(rep, "report", n_trials=N_BIG)
    # its headline numbers are the simulation's (same config, seed and replicates)
    assert rep["metrics"]["gpu_hours"] == s_big["metrics"]["gpu_hours"]
    check_calibration_schema(calib)
    # last, the wall clock: the trials plus Optuna's own time (sampler, SQLite) around them
    assert_in_band(measured["wall_s"], wall_seconds(s_rerun), "re-run: wall clock (s)", tol=0.25)
