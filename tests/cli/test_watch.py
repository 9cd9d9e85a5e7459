"""``tunecost watch`` as a user runs it: against a real measured Optuna study in SQLite, once
as JSON, live while another process runs the study, and its one-line errors."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import optuna
import pytest
from typer.testing import CliRunner

from tunecost.calibrate.optuna import measured
from tunecost.calibrate.shared import N_TRIALS_ATTR
from tunecost.cli import app
from tunecost.units import J_PER_KWH

optuna.logging.set_verbosity(optuna.logging.WARNING)

ROOT = Path(__file__).resolve().parents[2]
N_MEASURED = 12


def _tunecost() -> list[str]:
    exe = shutil.which("tunecost")
    return [exe] if exe else [sys.executable, "-m", "tunecost"]


def _run(*args: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*_tunecost(), "watch", *args], capture_output=True, text=True,
                          timeout=timeout_s, cwd=ROOT)


def objective(trial: optuna.Trial) -> float:
    """A tiny numpy fit: ``n`` sets the work per step, four reports."""
    n = trial.suggest_int("n", 16, 64)
    lr = trial.suggest_float("lr", 1e-3, 1e-1, log=True)
    a = np.random.default_rng(trial.number).standard_normal((n, n))
    for step in range(4):
        for _ in range(10):
            a = np.tanh(a @ a.T / n)
        trial.report(float(np.abs(a).mean()) + lr, step)
    return float(np.abs(a).mean()) + lr


def _study(path: Path, n_trials: int, name: str = "s") -> str:
    storage = f"sqlite:///{path}"
    study = optuna.create_study(study_name=name, storage=storage,
                                sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(measured(objective), n_trials=n_trials)
    return storage


def _stored_energy_kwh(storage: str, name: str = "s") -> float:
    """The trials' measured energies as the storage holds them: the accelerator's where the
    meter read one, else the host's (CPU + DRAM)."""
    trials = optuna.load_study(study_name=name, storage=storage).trials
    attrs = [t.user_attrs for t in trials]
    if any("tunecost:energy_j" in a for a in attrs):
        joules = [a.get("tunecost:energy_j", 0.0) for a in attrs]
    else:
        joules = [a["tunecost:cpu_energy_j"] + a.get("tunecost:dram_energy_j", 0.0)
                  for a in attrs]
    return sum(joules) / J_PER_KWH


@pytest.fixture(scope="module")
def storage(tmp_path_factory) -> str:
    return _study(tmp_path_factory.mktemp("watch") / "study.db", N_MEASURED)


def test_once_json_spends_what_the_storage_measured(storage):
    spent_kwh = _stored_energy_kwh(storage)
    budget_kwh = 4 * spent_kwh
    proc = _run("--optuna-storage", storage, "--study", "s", "--n-trials", "30",
                "--budget-kwh", str(budget_kwh), "--replicates", "8", "--once", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert next(iter(data)) == "schema_version" and data["schema_version"] == 1
    assert (data["n_trials"], data["n_finished"], data["n_running"]) == (30, N_MEASURED, 0)
    assert data["done"] is False and data["source"] == "optuna"
    assert data["spent"]["trials"] == N_MEASURED
    assert data["spent"]["energy_kwh"] == pytest.approx(spent_kwh, rel=1e-12)
    fc = data["forecast"]
    assert fc["basis"] == "recalibrated" and data["forecast_from"] == "computed"
    for metric in ("trials", "device_hours", "wall_clock_h", "energy_kwh"):
        p5, p50, p95 = (fc[q][metric] for q in ("p5", "p50", "p95"))
        assert data["spent"][metric] <= p5 <= p50 <= p95, metric
    assert fc["p50"]["trials"] == 30
    budget = data["budget"]
    assert budget["metric"] == "energy_kwh" and budget["limit"] == budget_kwh
    assert budget["used_fraction"] == pytest.approx(spent_kwh / budget_kwh, rel=1e-9)
    assert budget["forecast_p50_fraction"] == pytest.approx(
        fc["p50"]["energy_kwh"] / budget_kwh, rel=1e-9)
    assert budget["left"] == pytest.approx(budget_kwh - spent_kwh, rel=1e-9)
    assert data["verdict"] is None  # a quarter spent, stop_when=spent


def test_the_verdict_is_the_budget_rule(storage):
    spent_kwh = _stored_energy_kwh(storage)
    proc = _run("--optuna-storage", storage, "--study", "s", "--n-trials", "30",
                "--budget-kwh", str(spent_kwh / 2), "--replicates", "4", "--once", "--json")
    data = json.loads(proc.stdout)
    assert data["budget"]["used_fraction"] == pytest.approx(2.0, rel=1e-9)
    assert data["verdict"].startswith("spent ")


def test_once_table_prices_carbon_and_dollars(storage):
    proc = _run("--optuna-storage", storage, "--study", "s", "--n-trials", "30",
                "--budget-kgco2e", "1e-6", "--g-co2e-per-kwh", "400", "--usd-per-kwh", "0.2",
                "--replicates", "4", "--once")
    assert proc.returncode == 0, proc.stderr
    for needle in (f"{N_MEASURED}/30 trials finished", "energy (kWh)", "CO2e (kg)",
                   "cost ($)", "ends", "budget [", "of 1e-06 kgCO2e"):
        assert needle in proc.stdout, needle


def test_too_few_trials_and_no_prior_says_no_forecast(tmp_path):
    storage = _study(tmp_path / "few.db", 3)
    proc = _run("--optuna-storage", storage, "--study", "s", "--n-trials", "10",
                "--budget-kwh", "1", "--once", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["forecast"]["basis"] == "none" and data["forecast"]["p50"] == {}
    assert any("no prior calibration" in n for n in data["forecast"]["notes"])
    assert data["budget"]["forecast_p50_fraction"] is None
    assert data["spent"]["energy_kwh"] == pytest.approx(_stored_energy_kwh(storage), rel=1e-12)
    table = _run("--optuna-storage", storage, "--study", "s", "--n-trials", "10", "--once")
    assert "no forecast yet: no prior calibration given" in table.stdout


def test_the_study_s_own_trial_count_is_the_default(tmp_path):
    storage = _study(tmp_path / "own.db", 3)
    optuna.load_study(study_name="s", storage=storage).set_user_attr(N_TRIALS_ATTR, 3)
    data = json.loads(_run("--optuna-storage", storage, "--study", "s", "--once",
                           "--json").stdout)
    assert data["n_trials"] == 3 and data["done"] is True
    assert data["forecast"]["basis"] == "finished"


@pytest.mark.parametrize(("args", "needle"), [
    (["--optuna-storage", "sqlite:///{tmp}/missing.db", "--study", "s", "--n-trials", "3"],
     "no such file"),
    (["--optuna-storage", "{storage}", "--study", "nope", "--n-trials", "3"],
     "no study 'nope' in Optuna storage"),
    (["--optuna-storage", "{storage}", "--study", "s"], "stores no trial count"),
    (["--optuna-storage", "{storage}", "--study", "s", "--ray-results", "{tmp}",
      "--metric", "loss", "--n-trials", "3"], "not both"),
    (["--n-trials", "3"], "not neither"),
    (["--optuna-storage", "{storage}", "--study", "s", "--n-trials", "30",
      "--budget-kgco2e", "1"], "needs the grid intensity"),
    (["--optuna-storage", "{storage}", "--study", "s", "--n-trials", "30",
      "--budget-kwh", "1", "--budget-usd", "2"], "exactly one of"),
    (["--ray-results", "{tmp}/nowhere", "--metric", "loss", "--n-trials", "3"],
     "no such folder"),
    (["--ray-results", "{tmp}", "--metric", "loss", "--strategy", "{{oops", "--n-trials",
      "3"], "--strategy"),
])
def test_bad_input_is_one_line_and_nonzero(storage, tmp_path, args, needle):
    # In this process (typer's runner: the same app, exit code and stderr as a user gets);
    # the subprocess tests above cover the installed entry point.
    args = [a.format(tmp=tmp_path, storage=storage) for a in args]
    result = CliRunner().invoke(app, ["watch", *args, "--once"])
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert needle in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "missing.db").exists()  # no empty database made on the way


RUNNER = textwrap.dedent("""
    import sys, time
    import optuna
    from tunecost.calibrate.optuna import measured
    sys.path.insert(0, {here!r})
    from test_watch import objective

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def slow(trial):
        time.sleep(0.15)
        return objective(trial)

    study = optuna.load_study(study_name="live", storage={storage!r},
                              sampler=optuna.samplers.RandomSampler(seed=1))
    study.optimize(measured(slow), n_trials={n})
""")


def test_live_watch_exits_when_the_study_completes(tmp_path):
    """Another process runs the study; watch (no --n-trials: the study's own) follows it
    and exits 0 when its trials have all finished, with the final table."""
    n = 16
    storage = f"sqlite:///{tmp_path / 'live.db'}"
    study = optuna.create_study(study_name="live", storage=storage)
    study.set_user_attr(N_TRIALS_ATTR, n)
    script = tmp_path / "runner.py"
    script.write_text(RUNNER.format(here=str(Path(__file__).parent), storage=storage, n=n))
    runner = subprocess.Popen([sys.executable, str(script)], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        started = time.monotonic()
        proc = _run("--optuna-storage", storage, "--study", "live", "--interval", "0.2",
                    "--replicates", "4", "--budget-kwh", "1", timeout_s=240)
        took_s = time.monotonic() - started
        assert runner.wait(timeout=60) == 0, runner.stderr.read() if runner.stderr else ""
    finally:
        runner.kill()
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("tunecost forecast")
             or ln.startswith("tunecost watch 'live'")]
    assert len(lines) >= 2  # a line at the start and each time more trials finished
    assert f"{n}/{n} trials finished" in proc.stdout and "[finished]" in proc.stdout
    assert took_s < 200
    data = json.loads(_run("--optuna-storage", storage, "--study", "live", "--once",
                           "--json").stdout)
    assert data["done"] and data["spent"]["energy_kwh"] == pytest.approx(
        _stored_energy_kwh(storage, "live"), rel=1e-12)


def test_ctrl_c_exits_cleanly(storage):
    proc = subprocess.Popen([*_tunecost(), "watch", "--optuna-storage", storage, "--study",
                             "s", "--n-trials", "30", "--replicates", "4", "--interval", "0.2"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        first = proc.stdout.readline() if proc.stdout else ""
        assert first.startswith("tunecost forecast 's'"), first
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, errs = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, errs
    assert "Traceback" not in out + errs and "KeyboardInterrupt" not in errs
    assert f"{N_MEASURED}/30 trials finished" in out  # the last table is printed on exit
