"""One run → one tune → campaign, from a simulation."""

from __future__ import annotations

import pytest

from tunecost.config import CampaignConfig
from tunecost.reports.breakdown import breakdown
from tunecost.simulate import simulate
from tunecost.simulate.pipeline import resolve


def test_breakdown_rows_and_multiplier() -> None:
    cfg = CampaignConfig.model_validate({
        "name": "demo", "workers": 2, "pue": 1.5, "carbon": {"g_co2e_per_kwh": 500},
        "pricing": {"usd_per_accelerator_hour": 3.0},
        "reference_run": {"duration_h": 10},
        "studies": [{"name": "grid", "count": 4, "strategy": {"kind": "grid", "n_configs": 5},
                     "duration": {"dist": "fixed", "duration_h": 2},
                     "hardware": {"accelerator": "v100-sxm2"},
                     "power": {"kind": "constant", "accelerator_w": 200}}]})
    result = simulate(cfg, replicates=20, seed=0)
    bd = breakdown(result, resolve(cfg))
    assert [r["level"] for r in bd.rows] == ["one run", "one tune", "whole campaign"]
    one, tune, whole = bd.rows
    assert one["gpu_hours"] == pytest.approx(10.0)
    assert one["energy_kwh"] == pytest.approx(10 * 0.2 * 1.5)
    assert one["cost_usd"] == pytest.approx(30.0)
    assert tune["gpu_hours"] == pytest.approx(5 * 2.0)  # one grid search of 5 × 2 h
    assert whole["gpu_hours"] == pytest.approx(4 * 5 * 2.0)
    assert whole["x_reference"] == pytest.approx(40 / 10)
    assert bd.tuning_multiplier["p50"] == pytest.approx(4.0)
    assert sum(bd.histogram[1]) == 20
    assert "4.00×" in bd.explosion()
