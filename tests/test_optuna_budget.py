"""tunecost.optuna.CostBudget on real CPU studies of the fidelity workload (SQLite storage).

Each study first runs 4 trials without a budget; the budget is then what they spent plus
half of what the remaining trials would cost at their mean, so it falls about half-way
through whatever this machine's trials cost.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pytest

import tunecost.optuna
from tunecost.calibrate import from_optuna, measured
from tunecost.exceptions import ConfigError
from tunecost.live import ATTR, STOP_ATTR

sys.path.insert(0, str(Path(__file__).parent))
import _budget_study as bs  # noqa: E402

N_TRIALS = 12
WARM_UP = 3


def _energy_kwh(records: list) -> np.ndarray:
    """Each trial's measured energy, kWh, in the order the trials ended."""
    recs = sorted(records, key=lambda r: r.attrs["t_end"])
    return np.array([r.host_energy_j for r in recs]) / 3.6e6


def sorted_energy_by_completion(trials: list) -> np.ndarray:
    """Each trial's measured energy, kWh, in the order Optuna completed them."""
    done = sorted(trials, key=lambda t: t.datetime_complete)
    return np.array([t.user_attrs["tunecost:cpu_energy_j"] for t in done]) / 3.6e6


def _warm_study(tmp_path: Path, name: str, seed: int) -> tuple[optuna.Study, str, float]:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = bs.open_study(storage, name, seed)
    bs.workload.data()
    study.optimize(measured(bs.objective), n_trials=WARM_UP)
    e = _energy_kwh(from_optuna(storage, name))
    budget_kwh = float(e.sum() + 0.5 * (N_TRIALS - WARM_UP) * e.mean())
    return study, storage, budget_kwh


def test_spent_rule_stops_within_one_trial_of_the_budget(tmp_path: Path) -> None:
    study, storage, budget_kwh = _warm_study(tmp_path, "spent", seed=3)
    budget = tunecost.optuna.CostBudget(budget_kwh=budget_kwh, n_trials=N_TRIALS, every=None)
    study.optimize(measured(bs.objective), n_trials=N_TRIALS - WARM_UP, callbacks=[budget])
    cum = np.cumsum(_energy_kwh(from_optuna(storage, "spent")))
    assert budget.stop_reason is not None and "budget" in budget.stop_reason
    assert len(cum) < N_TRIALS  # it stopped
    assert cum[-1] >= budget_kwh > cum[-2]  # at the first trial that crossed the budget
    stored = optuna.load_study(study_name="spent", storage=storage).user_attrs
    assert stored[ATTR + "spent_energy_kwh"] == pytest.approx(cum[-1], rel=1e-12)
    assert stored[STOP_ATTR] == budget.stop_reason


def test_forecast_rule_stops_earlier_and_logs_the_forecast(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    study, storage, budget_kwh = _warm_study(tmp_path, "p95", seed=3)
    budget = tunecost.optuna.CostBudget(budget_kwh=budget_kwh, n_trials=N_TRIALS, every=2,
                                        stop_when="forecast_p95", replicates=8,
                                        prior=bs.PRIOR)
    with caplog.at_level(logging.INFO, logger="tunecost"):
        study.optimize(measured(bs.objective), n_trials=N_TRIALS - WARM_UP,
                       callbacks=[budget])
    cum = np.cumsum(_energy_kwh(from_optuna(storage, "p95")))
    assert cum[-1] < budget_kwh  # stopped before spending it
    assert budget.last is not None and budget.last.p95["energy_kwh"] > budget_kwh
    assert "forecast P95" in (budget.stop_reason or "")
    lines = [r.getMessage() for r in caplog.records if "tunecost forecast" in r.getMessage()]
    assert lines and "final P50" in lines[-1]
    stored = optuna.load_study(study_name="p95", storage=storage).user_attrs
    assert stored[ATTR + "forecast_energy_kwh_p95"] == budget.last.p95["energy_kwh"]
    assert stored[ATTR + "forecast_basis"] == budget.last.basis


def test_two_worker_processes_share_one_budget(tmp_path: Path) -> None:
    _, storage, budget_kwh = _warm_study(tmp_path, "shared", seed=5)
    cmd = [sys.executable, str(Path(bs.__file__)), storage, "shared", "5", str(N_TRIALS),
           repr(budget_kwh), "spent"]
    workers = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for _ in range(2)]
    outs = [w.communicate(timeout=600) for w in workers]
    for w, (out, err) in zip(workers, outs, strict=True):
        assert w.returncode == 0, err[-2000:]
        assert out.strip().startswith("stopped: spent"), out  # each worker stopped itself
    trials = optuna.load_study(study_name="shared", storage=storage).get_trials()
    assert sorted(t.number for t in trials) == list(range(len(trials)))  # none lost
    assert {t.state.name for t in trials} <= {"COMPLETE", "PRUNED"}  # none left running
    records = from_optuna(storage, "shared")
    cum = np.cumsum(_energy_kwh(records))
    assert cum[-1] >= budget_kwh
    # Within one trial per worker: without the last trial of each worker, under the budget.
    assert cum[-3] < budget_kwh
    # The last callback's totals: the trials finished when it read the storage (the last
    # or, when the other worker's callback wrote after it, the one before), each once.
    stored = optuna.load_study(study_name="shared", storage=storage).user_attrs
    n_seen = int(stored[ATTR + "spent_trials"])
    assert n_seen in (len(trials), len(trials) - 1)
    by_end = np.cumsum(sorted_energy_by_completion(trials))
    assert stored[ATTR + "spent_energy_kwh"] == pytest.approx(by_end[n_seen - 1], rel=1e-12)


def test_budget_pruner_stops_running_trials_once_the_budget_is_gone(tmp_path: Path) -> None:
    _, storage, budget_kwh = _warm_study(tmp_path, "pruned", seed=3)
    budget = tunecost.optuna.CostBudget(budget_kwh=budget_kwh, n_trials=N_TRIALS, every=None)
    study = bs.open_study(storage, "pruned", 3)
    study.pruner = tunecost.optuna.BudgetPruner(study.pruner, budget)
    study.optimize(measured(bs.objective), n_trials=N_TRIALS - WARM_UP, callbacks=[budget])
    attrs = study.user_attrs
    mean = attrs[ATTR + "trial_energy_kwh_mean"]
    assert mean > 0 and attrs[ATTR + "trial_last_step"] == bs.workload.MAX_EPOCHS
    cum = np.cumsum(_energy_kwh(from_optuna(storage, "pruned")))
    # Trials that could not finish within what was left were pruned: the study either
    # stopped at the trial that crossed the budget, or ran out of trials under it; either
    # way it ends within about one trial's cost of the budget (a trial pruned at a report
    # has spent up to it; an expensive one can cost more than the mean).
    assert budget_kwh - 1.5 * mean <= cum[-1] <= budget_kwh + 1.5 * mean
    assert (budget.stop_reason is None) == (cum[-1] < budget_kwh)


def _trial_at(step: int) -> optuna.trial.FrozenTrial:
    return optuna.trial.create_trial(state=optuna.trial.TrialState.COMPLETE, value=0.0,
                                     intermediate_values={s: 1.0 for s in range(1, step + 1)})


@pytest.mark.parametrize("step, spent_kwh, prune", [
    (6, 0.6, True),    # half a 1 kWh trial left to run, 0.4 kWh left of the budget
    (6, 0.4, False),   # 0.5 to run, 0.6 left
    (12, 0.99, False),  # nothing left to run
    (1, 0.0, False),   # 11/12 kWh to run, 1 kWh left
])
def test_budget_pruner_rule_in_closed_form(step: int, spent_kwh: float, prune: bool) -> None:
    budget = tunecost.optuna.CostBudget(budget_kwh=1.0, n_trials=10, every=None)
    study = optuna.create_study()
    for key, value in {ATTR + "trial_energy_kwh_mean": 1.0, ATTR + "trial_last_step": 12.0,
                       ATTR + "spent_energy_kwh": spent_kwh}.items():
        study.set_user_attr(key, value)
    pruner = tunecost.optuna.BudgetPruner(None, budget)
    assert pruner.prune(study, _trial_at(step)) is prune
    study.set_user_attr(STOP_ATTR, "spent")  # once the budget has stopped the study: all
    assert pruner.prune(study, _trial_at(step)) is True


@pytest.mark.parametrize("kwargs, message", [
    ({}, "exactly one of budget_kwh"),
    ({"budget_kwh": 1.0, "budget_usd": 2.0}, "exactly one of budget_kwh"),
    ({"budget_kgco2e": 1.0}, "g_co2e_per_kwh"),
    ({"budget_usd": 1.0}, "a price"),
    ({"budget_kwh": 1.0, "every": 0}, "every >= 1"),
    ({"budget_kwh": 1.0, "every": None, "stop_when": "forecast_p50"}, "needs forecasts"),
])
def test_bad_budgets_fail_in_one_line(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        tunecost.optuna.CostBudget(n_trials=10, **kwargs)
    assert "\n" not in str(info.value)
