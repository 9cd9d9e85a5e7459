"""``snapshot``: which forecast a state carries (computed, the previous one, a callback's
stored one) and the checks before any study is read."""

from __future__ import annotations

import json
from dataclasses import replace

import optuna
import pytest

from tunecost.calibrate.records import TrialRecord
from tunecost.exceptions import ConfigError
from tunecost.live import Budget, WatchSource, snapshot
from tunecost.live.ray_ledger import FORECAST_FILE
from tunecost.live.watch import _from_dict

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -1.0, 1.0)
    return x * x


@pytest.fixture
def source(tmp_path) -> WatchSource:
    """A study of 10 plain trials (no meter: Optuna's own durations, 0 J each)."""
    storage = f"sqlite:///{tmp_path / 's.db'}"
    study = optuna.create_study(study_name="s", storage=storage,
                                sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(_objective, n_trials=10)
    return WatchSource.of(optuna_storage=storage, study="s")


def test_the_forecast_is_kept_while_no_trial_finishes(source):
    first = snapshot(source, n_trials=20, replicates=2)
    assert first.forecast_from == "computed" and first.forecast is not None
    again = snapshot(source, n_trials=20, replicates=2, previous=first)
    assert again.forecast is first.forecast and again.forecast_from == "previous"
    other = snapshot(source, n_trials=20, replicates=3, previous=first)  # other settings
    assert other.forecast_from == "computed"


def test_a_stored_forecast_of_the_same_trials_is_used(source):
    fc = snapshot(source, n_trials=20, replicates=2).forecast
    marked = {**fc.p50, "energy_kwh": 123.0}
    study = optuna.load_study(study_name="s", storage=source.optuna_storage)
    attrs = type(fc)(**{**fc.__dict__, "p50": marked}).attrs()
    for key, value in attrs.items():
        study.set_user_attr(key, value)
    state = snapshot(source, n_trials=20, replicates=2)
    assert state.forecast_from == "study user attrs"
    assert state.forecast.p50["energy_kwh"] == 123.0 and state.forecast.basis == fc.basis
    # Another accounting (a PUE) spends other energy than the stored figure: recomputed.
    study.set_user_attr("tunecost:spent_energy_kwh", 1.0)
    assert snapshot(source, n_trials=20, replicates=2).forecast_from == "computed"


def test_a_ray_forecast_file_round_trips(tmp_path):
    fc = snapshot(WatchSource.of(optuna_storage=_plain(tmp_path), study="s"), n_trials=20,
                  replicates=2).forecast
    path = tmp_path / FORECAST_FILE
    path.write_text(json.dumps({**fc.to_dict(), "budget": None, "stop_reason": None}))
    rounded = replace(fc, compute_s=round(fc.compute_s, 4))  # to_dict rounds it
    assert _from_dict(json.loads(path.read_text())) == rounded


def _plain(tmp_path) -> str:
    storage = f"sqlite:///{tmp_path / 'p.db'}"
    study = optuna.create_study(study_name="s", storage=storage,
                                sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(_objective, n_trials=3)
    return storage


def test_a_carbon_budget_needs_an_intensity_before_the_study_is_read(tmp_path):
    missing = WatchSource.of(optuna_storage=f"sqlite:///{tmp_path / 'none.db'}", study="s")
    with pytest.raises(ConfigError, match="grid intensity"):
        snapshot(missing, n_trials=3, budget=Budget.of(budget_kgco2e=1.0))
    with pytest.raises(ConfigError, match="needs a price"):
        snapshot(missing, n_trials=3, budget=Budget.of(budget_usd=1.0))


def test_a_ray_experiment_without_a_strategy_is_spent_only(tmp_path, monkeypatch):
    records = [TrialRecord(study="exp", number=i, params={"x": 0.1 * i}, duration_s=2.0,
                           state="COMPLETE", cpu_energy_j=3.6e3, value=0.1 * i)
               for i in range(4)]
    monkeypatch.setattr("tunecost.calibrate.importers.from_ray",
                        lambda root, metric, mode: records)
    (tmp_path / "exp").mkdir()
    state = snapshot(WatchSource.of(ray_results=tmp_path / "exp", metric="loss"),
                     n_trials=10, budget=Budget.of(budget_kwh=0.01))
    assert state.forecast is None and state.forecast_from == "none"
    assert state.spent["energy_kwh"] == pytest.approx(4e-3)
    assert state.fraction("spent") == pytest.approx(0.4)
    assert any("spent only" in n for n in state.notes)
    # A Ray callback's file of the same trials gives the trial count, forecast, stop reason.
    # The shape RayLedger.to_dict writes: the forecast nested.
    stored = {"schema_version": 1, "source": "ray_tune", "n_trials": 10,
              "spent": state.spent, "budget": {"metric": "energy_kwh", "limit": 0.01},
              "stop_reason": "spent 0.004 kWh",
              "forecast": {"schema_version": 1, "study": "exp", "basis": "none",
                           "n_trials": 10, "n_finished": 4, "n_running": 0, "now_s": 8.0,
                           "spent": state.spent, "notes": ["stored"]}}
    (tmp_path / "exp" / FORECAST_FILE).write_text(json.dumps(stored))
    state = snapshot(WatchSource.of(ray_results=tmp_path / "exp", metric="loss"))
    assert state.n_trials == 10 and state.forecast_from.endswith(FORECAST_FILE)
    assert state.forecast.notes == ("stored",) and state.stop_reason == "spent 0.004 kWh"
    assert state.done  # stopped by its callback, nothing running
