"""Importances on the real H200 trials, and seed variance of the repeated configurations."""

from __future__ import annotations

from pathlib import Path

import pytest

from tunecost.calibrate import Calibration, read_records, seed_noise
from tunecost.reports.importance import fanova_available, param_importances, seed_variance

STUDY = Path(__file__).resolve().parents[2] / "studies" / "h200_transformer_lm"


@pytest.fixture(scope="module")
def search():
    return read_records(STUDY / "data" / "calib_random.jsonl")


def test_importances_of_objective_and_cost(search) -> None:
    cal = Calibration.load(STUDY / "calib_small.json")
    res = param_importances(search, space=cal.space, fanova=False)
    assert list(res.importances) == ["ped_anova"]
    assert any("fANOVA left out" in n for n in res.notes)
    for target in ("objective", "duration_s", "energy_j"):
        imp = res.importances["ped_anova"][target]
        assert set(imp) == {"d_model", "n_layers", "batch_size", "lr", "dropout", "steps"}
        assert sum(imp.values()) == pytest.approx(1.0)
        assert res.n_trials[target] == 33
    # Cost is driven by how much work a trial does: depth and steps, not the learning rate.
    cost = res.importances["ped_anova"]["duration_s"]
    assert cost["n_layers"] + cost["steps"] > 0.5
    assert cost["lr"] < 0.1


@pytest.mark.skipif(not fanova_available(), reason="fANOVA needs scikit-learn")
def test_fanova_runs_where_scikit_learn_is_installed(search) -> None:
    res = param_importances(search, seed=0)
    assert set(res.importances) == {"ped_anova", "fanova"}
    cost = res.importances["fanova"]["energy_j"]
    assert max(cost, key=cost.get) in {"steps", "n_layers"}


def test_seed_variance_against_the_search(search) -> None:
    reps = read_records(STUDY / "data" / "repeats.jsonl")
    sv = seed_variance(reps, search)
    noise = seed_noise(reps)
    assert sv is not None and noise is not None
    assert [c["n"] for c in sv.configs] == [6, 6]
    assert sv.value_std_seed == pytest.approx(noise.value_std)
    assert sv.duration_cv == pytest.approx(noise.duration_cv)
    # Seeds move the loss by ~0.002 nats; hyperparameters by ~0.9: well under 1 %.
    assert sv.seed_share is not None and sv.seed_share < 0.01
    assert len(sv.to_rows()) == 12
    assert seed_variance(search) is None  # no configuration repeated


def test_conditional_branches_and_host_energy_are_handled() -> None:
    from tunecost.calibrate import TrialRecord

    recs = []
    for i in range(12):
        svc = i % 2 == 0
        params = {"classifier": "SVC" if svc else "RF",
                  **({"svc_c": 0.1 * (i + 1)} if svc else {"rf_depth": 2 + i})}
        recs.append(TrialRecord(number=i, state="COMPLETE", params=params, value=0.5 + 0.01 * i,
                                duration_s=1.0 + (3.0 if svc else 0.0) + 0.1 * i,
                                cpu_energy_j=12.0 * (1.0 + i), cpu_energy_source="estimated"))
    res = param_importances(recs, fanova=False)
    assert res.params == ["classifier"]
    assert any("svc_c" in n and "rf_depth" in n for n in res.notes)
    # A CPU-only study's host energy is its energy target, not "fewer than 2 trials".
    assert res.n_trials["energy_j"] == 12
    assert not any("energy_j: fewer" in n for n in res.notes)
