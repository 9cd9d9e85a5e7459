"""Kill -9 the Optuna study mid-trial, then run it again: nothing measured is lost.

The study is ``studies/optuna_mlp_digits/run.py`` itself, in a subprocess on a SQLite file in
``tmp_path``, with a 1 s heartbeat and a 2 s grace period, and a sleep after each epoch so
that a trial lasts long enough to be caught RUNNING.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from tunecost.calibrate.optuna import ATTR_PREFIX, CURVE_ATTR
from tunecost.calibrate.records import read_records

RUN = Path(__file__).resolve().parents[2] / "studies" / "optuna_mlp_digits" / "run.py"
GRACE_PERIOD_S = 2
EPOCHS = 5
EPOCH_SLEEP_S = 0.15
N_TRIALS = 3
TIMEOUT_S = 60.0

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _command(storage: str, results: Path) -> list[str]:
    return [
        sys.executable, str(RUN), "--storage", storage, "--study-name", "killed",
        "--n-trials", str(N_TRIALS), "--max-epochs", str(EPOCHS),
        "--epoch-sleep", str(EPOCH_SLEEP_S), "--heartbeat-interval", "1",
        "--grace-period", str(GRACE_PERIOD_S),
        "--results", str(results),
    ]


def _wait_for(predicate, what: str, proc: subprocess.Popen | None = None):
    """Poll ``predicate`` until it returns something truthy; fail after TIMEOUT_S."""
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the study exited (code {proc.returncode}) before {what}")
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    pytest.fail(f"timed out after {TIMEOUT_S} s waiting for {what}")


def test_kill_then_resume(tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    results = tmp_path / "results.jsonl"
    log = tmp_path / "first.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    with log.open("w") as out:
        proc = subprocess.Popen(_command(storage, results), stdout=out,
                                stderr=subprocess.STDOUT, env=env)
    try:
        # The study exists once the script says so; opening the storage earlier could race
        # with the script creating the tables.
        _wait_for(lambda: "finished trials, running" in log.read_text(),
                  "the study to start", proc)
        study = optuna.load_study(study_name="killed", storage=storage)

        def caught():
            trials = study.get_trials(deepcopy=False)
            complete = [t for t in trials if t.state == TrialState.COMPLETE]
            # A running trial with at least two epochs left cannot finish before the kill.
            running = [t for t in trials if t.state == TrialState.RUNNING
                       and t.intermediate_values and max(t.intermediate_values) <= EPOCHS - 2]
            return len(complete) >= 2 and running

        (victim,) = _wait_for(caught, "2 COMPLETE trials and one RUNNING", proc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        killed_at = time.monotonic()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL

    # The database opens; what finished is all there, measurements included.
    trials = optuna.load_study(study_name="killed", storage=storage).get_trials()
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) >= 2
    for t in complete:
        # The objective slept after every epoch, and ran inside Optuna's span of the trial.
        span_s = (t.datetime_complete - t.datetime_start).total_seconds()
        assert EPOCHS * EPOCH_SLEEP_S <= t.user_attrs[ATTR_PREFIX + "duration_s"] <= span_s
        assert len(t.user_attrs[CURVE_ATTR]["step"]) == len(t.intermediate_values) == EPOCHS
    assert trials[victim.number].state == TrialState.RUNNING  # nobody is left to fail it

    # Run the same command again once the heartbeat is stale.
    time.sleep(max(0.0, killed_at + GRACE_PERIOD_S + 1.0 - time.monotonic()))
    rerun = subprocess.run(_command(storage, results), capture_output=True, text=True,
                           env=env, timeout=TIMEOUT_S)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    n_done = len(complete) + sum(t.state == TrialState.PRUNED for t in trials)
    assert f"{n_done} finished trials, running {N_TRIALS - n_done} more" in rerun.stdout

    trials = optuna.load_study(study_name="killed", storage=storage).get_trials()
    assert trials[victim.number].state == TrialState.FAIL
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == N_TRIALS
    assert all(ATTR_PREFIX + "duration_s" in t.user_attrs for t in finished)

    # The killed trial has no measurement (its process died first) and is left out.
    records = read_records(results)
    assert sorted(r.number for r in records) == sorted(t.number for t in finished)
