"""The framework's per-trial overhead in the replay: closed forms and where it is refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tunecost.config import CampaignConfig
from tunecost.simulate import simulate


def _optuna(overhead_s: float | None, *, workers: int = 2) -> dict:
    study = {
        "name": "s",
        "strategy": {"kind": "optuna", "n_trials": 6, "sampler": {"name": "RandomSampler"},
                     "n_evaluations": 4},
        "duration": {"dist": "fixed", "duration_h": 2.0},
        "hardware": {"accelerator": "v100-sxm2"},
        "power": {"kind": "constant", "accelerator_w": 250.0, "idle_w": 50.0},
    }
    if overhead_s is not None:
        study["trial_overhead_s"] = overhead_s
    return {"name": "c", "workers": workers, "pue": 1.2, "carbon": {"g_co2e_per_kwh": 500.0},
            "pricing": {"usd_per_accelerator_hour": 2.0}, "studies": [study]}


def test_overhead_before_each_trial_closed_form():
    """6 fixed 2 h trials on 2 workers, 0.5 h of overhead before each: wall 3 × 2.5 h; the
    overhead is paid and drawn at idle power (50 W), not counted in GPU-hours."""
    r = simulate(CampaignConfig.model_validate(_optuna(1800.0)),
        engine="replay", replicates=2, seed=0)
    m = {k: float(v[0]) for k, v in r.metrics.items()}
    assert m["wall_clock_h"] == pytest.approx(7.5)
    assert m["gpu_hours"] == pytest.approx(12.0)
    assert m["overhead_energy_kwh"] == pytest.approx(6 * 0.5 * 0.050 * 1.2)
    assert m["energy_kwh"] == pytest.approx(12 * 0.250 * 1.2 + 6 * 0.5 * 0.050 * 1.2)
    assert m["cost_usd"] == pytest.approx((12 + 3) * 2.0)
    assert m["co2e_kg"] == pytest.approx(m["energy_kwh"] * 0.5)


def test_no_overhead_without_a_measurement_or_a_setting():
    r = simulate(CampaignConfig.model_validate(_optuna(None)),
        engine="replay", replicates=1, seed=0)
    assert r.metrics["wall_clock_h"][0] == pytest.approx(6.0)
    assert r.metrics["overhead_energy_kwh"][0] == 0.0


def test_overhead_is_refused_where_it_is_not_modelled():
    cfg = _optuna(10.0)
    cfg["studies"][0]["strategy"] = {"kind": "random", "n_trials": 6}
    with pytest.raises(ValidationError, match="trial_overhead_s is modelled"):
        CampaignConfig.model_validate(cfg)
    cfg = _optuna(float("inf"))
    with pytest.raises(ValidationError, match="trial_overhead_s"):
        CampaignConfig.model_validate(cfg)
