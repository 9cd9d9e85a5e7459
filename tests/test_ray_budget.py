"""tunecost.ray stops a real Ray Tune experiment at a cost budget (ASHA, a real CPU trainable).

One unbudgeted run measures what the whole study costs and calibrates a prior on it; then a
``spent`` budget of half that cost, and a ``forecast_p95`` budget of the same size with the
prior, each stop the same study (the same 8 configurations, 2 at a time) for real. Uses the
session's local Ray cluster (``ray_session`` in ``tests/conftest.py``).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from tunecost.exceptions import ConfigError

pytest.importorskip("ray")

NUM_SAMPLES = 8
MAX_T = 6
WORKERS = 2
ASHA = {"grace_period": 1, "max_t": MAX_T, "reduction_factor": 3}
STRATEGY = {"kind": "ray_tune", "scheduler": {"name": "asha", **ASHA}}
J_PER_KWH = 3.6e6


def _make_trainable():
    # Built in a function so that cloudpickle ships it by value: Ray's workers cannot import
    # this test module by name. The fidelity study's workload, smaller: an sklearn MLP
    # trained epoch by epoch with partial_fit, validation log loss after each epoch.
    def train_mlp(config):
        import warnings

        from sklearn.datasets import make_classification
        from sklearn.metrics import log_loss
        from sklearn.neural_network import MLPClassifier

        from tunecost.calibrate.ray import report

        x, y = make_classification(n_samples=3000, n_features=20, n_informative=10,
                                   n_classes=4, random_state=0)
        x_tr, y_tr, x_va, y_va = x[:2250], y[:2250], x[2250:], y[2250:]
        clf = MLPClassifier(hidden_layer_sizes=(int(config["hidden_units"]),) * 2,
                            learning_rate_init=config["lr"], batch_size=32, random_state=0)
        for epoch in range(1, MAX_T + 1):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                clf.partial_fit(x_tr, y_tr, classes=[0, 1, 2, 3])
            report({"val_loss": float(log_loss(y_va, clf.predict_proba(x_va),
                                               labels=[0, 1, 2, 3])), "epoch": epoch})

    return train_mlp


def _run(storage: Path, name: str, *, stop: Any = None, callbacks: list[Any] = ()) -> Path:
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search import BasicVariantGenerator

    from tunecost.calibrate.ray import measured_trainable

    tuner = tune.Tuner(
        measured_trainable(_make_trainable()),
        param_space={"hidden_units": tune.lograndint(16, 129), "lr": tune.loguniform(1e-4, 3e-2)},
        tune_config=tune.TuneConfig(
            metric="val_loss", mode="min", num_samples=NUM_SAMPLES,
            # the same 8 configurations in the same order every run, 2 at a time
            search_alg=BasicVariantGenerator(random_state=0, max_concurrent=WORKERS),
            scheduler=ASHAScheduler(time_attr="training_iteration", **ASHA)),
        run_config=tune.RunConfig(name=name, storage_path=str(storage), verbose=0, stop=stop,
                                  callbacks=list(callbacks)),
    )
    tuner.fit()
    return storage / name


def _rows(exp: Path) -> dict[str, list[dict[str, Any]]]:
    """Trial folder -> its result rows, for the trials that reported (a trial stopped before
    its first report leaves an empty result.json, or none)."""
    out = {d.name: [json.loads(s) for s in (d / "result.json").read_text().splitlines()
                    if s.strip()]
           for d in exp.iterdir() if (d / "result.json").is_file()}
    return {k: v for k, v in out.items() if v}


def _host_j(row: dict[str, Any]) -> float:
    return (row.get("tunecost/cpu_energy_j") or 0.0) + (row.get("tunecost/dram_energy_j") or 0.0)


def _experiment_kwh(exp: Path) -> float:
    """What the experiment folder says was spent (from_ray -> tunecost.live.spent). A trial
    the budget stopped before its meter's first CPU reading (a loaded machine) has no energy
    figure: it counts 0 J here as in the ledger."""
    from tunecost.calibrate import from_ray
    from tunecost.live import ForecastSettings, spent

    records = from_ray(exp, metric="val_loss")
    totals, unmeasured = spent(records, ForecastSettings(n_trials=NUM_SAMPLES), elapsed_s=0.0)
    # Only a trial stopped at its first report can lack a reading.
    assert all(len(r.curve) <= 1 for r in records if r.host_energy_j is None), unmeasured
    return totals["energy_kwh"]


@pytest.fixture(scope="module")
def full(ray_session, tmp_path_factory) -> dict[str, Any]:
    """The unbudgeted study, watched by a CostCallback: its cost, and a prior fitted on it."""
    from tunecost.calibrate import fit_calibration, from_ray
    from tunecost.ray import FORECAST_FILE, CostCallback

    storage = tmp_path_factory.mktemp("ray_budget")
    callback = CostCallback(budget_kwh=1.0, n_trials=NUM_SAMPLES, metric="val_loss")
    exp = _run(storage, "full", callbacks=[callback])
    records = from_ray(exp, metric="val_loss")
    prior = storage / "prior.json"
    fit_calibration(records, n_folds=4, direction="minimize", rng=0).save(prior)
    return {"exp": exp, "callback": callback, "kwh": _experiment_kwh(exp), "prior": prior,
            "trial_kwh_max": max(r.host_energy_j for r in records) / J_PER_KWH,
            "json": json.loads((exp / FORECAST_FILE).read_text()), "storage": storage}


@pytest.fixture(scope="module")
def spent_run(full) -> dict[str, Any]:
    from tunecost.ray import CostStopper

    budget_kwh = full["kwh"] / 2
    stopper = CostStopper(budget_kwh=budget_kwh, n_trials=NUM_SAMPLES, metric="val_loss")
    exp = _run(full["storage"], "spent", stop=stopper)
    return {"exp": exp, "stopper": stopper, "budget_kwh": budget_kwh}


def test_the_callback_counts_the_unbudgeted_study_and_writes_its_json(full):
    """Unbudgeted: all 12 trials ran, the callback's spent equals the folder's, the JSON
    holds the final state and no stop reason."""
    assert len(_rows(full["exp"])) == NUM_SAMPLES
    ledger = full["callback"].ledger
    assert ledger.n_finished == NUM_SAMPLES and ledger.n_running == 0
    assert ledger.spent()["energy_kwh"] == pytest.approx(full["kwh"], rel=1e-9)
    doc = full["json"]
    assert doc["experiment"] == "full" and doc["stop_reason"] is None
    assert doc["n_finished"] == NUM_SAMPLES and doc["budget"]["limit"] == 1.0
    assert doc["spent"]["energy_kwh"] == pytest.approx(full["kwh"], rel=1e-9)
    assert doc["forecast"] is None  # stop_when="spent" without a strategy: no forecast


def test_spent_budget_stops_the_experiment(spent_run, full):
    """stop_when="spent" at half the study's cost: fewer trials ran, what was spent at the stop
    reached the budget by at most one result's energy, every result counted once, and the
    trials still running at the stop overshot it by at most what a trial costs each."""
    stopper, budget_kwh = spent_run["stopper"], spent_run["budget_kwh"]
    rows = _rows(spent_run["exp"])
    ledger = stopper.ledger
    assert ledger.stop_reason is not None and ledger.stop_reason.startswith("spent ")
    assert len(rows) < NUM_SAMPLES
    at_stop = ledger.spent_at_stop["energy_kwh"]
    assert at_stop >= budget_kwh
    step_kwh = max(max(_host_j(b) - _host_j(a) for a, b in zip([{}] + r, r, strict=False))
                   for r in rows.values()) / J_PER_KWH
    assert at_stop - budget_kwh <= step_kwh
    final_kwh = _experiment_kwh(spent_run["exp"])
    assert ledger.spent()["energy_kwh"] == pytest.approx(final_kwh, rel=1e-9)  # counted once
    assert final_kwh < full["kwh"]
    # at most WORKERS trials ran at the stop; each had at most a whole trial left (x1.5: the
    # shared cores' load moves a trial's CPU time from one run to the next)
    assert final_kwh - budget_kwh <= WORKERS * full["trial_kwh_max"] * 1.5
    print(f"spent rule: budget {budget_kwh:.4g} kWh (full study {full['kwh']:.4g}), "
          f"at stop {at_stop:.4g}, final {final_kwh:.4g}, trials {len(rows)}/{NUM_SAMPLES}")


def test_forecast_p95_budget_stops_earlier(spent_run, full, caplog):
    """stop_when="forecast_p95" with the prior: stops before the spent rule did, having spent
    less than the budget, on a logged forecast whose P95 exceeds it."""
    from tunecost.ray import FORECAST_FILE, CostStopper

    budget_kwh = spent_run["budget_kwh"]
    stopper = CostStopper(budget_kwh=budget_kwh, n_trials=NUM_SAMPLES, metric="val_loss",
                          stop_when="forecast_p95", prior=full["prior"], strategy=STRATEGY,
                          workers=WORKERS, replicates=16, every=1)
    with caplog.at_level(logging.INFO, logger="tunecost"):
        exp = _run(full["storage"], "p95", stop=stopper, callbacks=[stopper.callback()])
    ledger = stopper.ledger
    assert ledger.stop_reason is not None and ledger.stop_reason.startswith("forecast P95")
    lines = [r.getMessage() for r in caplog.records if r.name == "tunecost"]
    assert any(m.startswith("tunecost forecast 'p95' [prior]") for m in lines), lines
    assert any("stopping Ray Tune experiment 'p95'" in m for m in lines), lines
    assert ledger.forecast is not None and ledger.forecast.p95["energy_kwh"] > budget_kwh
    assert ledger.spent_at_stop["energy_kwh"] < budget_kwh
    spent_stopper = spent_run["stopper"].ledger
    assert ledger.spent_at_stop["energy_kwh"] < spent_stopper.spent_at_stop["energy_kwh"]
    assert len(_rows(exp)) <= len(_rows(spent_run["exp"]))
    assert ledger.spent()["energy_kwh"] == pytest.approx(_experiment_kwh(exp), rel=1e-9)
    doc = json.loads((exp / FORECAST_FILE).read_text())
    assert doc["stop_reason"] == ledger.stop_reason
    assert doc["forecast"]["basis"] == "prior" and doc["budget"]["stop_when"] == "forecast_p95"
    print(f"forecast_p95 rule: at stop {ledger.spent_at_stop['energy_kwh']:.4g} kWh, "
          f"trials {len(_rows(exp))}/{NUM_SAMPLES}; {ledger.stop_reason}")


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"budget_kwh": 1.0, "budget_usd": 2.0}, "give exactly one of budget_kwh"),
    ({}, "give exactly one of budget_kwh"),
    ({"budget_kwh": 1.0, "stop_when": "later"}, "stop_when"),
    ({"budget_kwh": 1.0, "stop_when": "forecast_p50"}, "give strategy="),
    ({"budget_kgco2e": 1.0}, "needs g_co2e_per_kwh"),
    ({"budget_kwh": 1.0, "pue": 0.5}, "pue"),
    ({"budget_kwh": 1.0, "every": 0}, "every must be >= 1"),
    ({"budget_kwh": 1.0, "colour": "red"}, "colour"),
])
def test_bad_arguments_are_one_line_config_errors(kwargs, match):
    from tunecost.ray import CostStopper

    with pytest.raises(ConfigError, match=match) as info:
        CostStopper(n_trials=4, metric="loss", **kwargs)
    assert "\n" not in str(info.value)


def test_importing_tunecost_does_not_import_ray():
    import subprocess
    import sys

    code = "import sys, tunecost, tunecost.live; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
