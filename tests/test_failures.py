"""Preemption: lost work is the work since the last checkpoint, never more than was done."""

from __future__ import annotations

import numpy as np
import pytest

from tunecost.config import CampaignConfig
from tunecost.exceptions import ConfigError
from tunecost.failures import (
    PreemptionConfig,
    expected_preemption_overhead_h,
    preemption_overhead_h,
)
from tunecost.simulate import simulate


def _campaign(study: dict | None = None, **top: object) -> dict:
    """One study of ten 2-hour trials on one worker at 250 W (tests/simulate's campaign)."""
    s = {"name": "s", "strategy": {"kind": "random", "n_trials": 10},
         "duration": {"dist": "fixed", "duration_h": 2.0},
         "hardware": {"accelerator": "v100-sxm2"},
         "power": {"kind": "constant", "accelerator_w": 250.0, "idle_w": 50.0}, **(study or {})}
    return {"name": "c", "workers": 1, "pue": 1.0, "carbon": {"g_co2e_per_kwh": 500.0},
            "studies": [s], "replicates": 50, "seed": 3, **top}


@pytest.mark.parametrize(
    ("duration_h", "hazard", "interval_h", "restart_h"),
    [(0.1, 5.0, 10.0, 0.0), (3.0, 0.5, 1.0, 0.0), (2.5, 0.8, 1.0, 0.1), (1.0, 2.0, 1.0, 0.0)],
)
def test_mean_extra_hours_match_the_closed_form(
    duration_h: float, hazard: float, interval_h: float, restart_h: float
) -> None:
    """E[extra] = hazard × ((k c² + r²) / 2 + D × restart), k = floor(D / c), r = D - k c."""
    cfg = PreemptionConfig(hazard_per_h=hazard, checkpoint_interval_h=interval_h,
                           restart_overhead_h=restart_h)
    n = 400_000
    extra, count = preemption_overhead_h(np.full(n, duration_h), cfg,
                                         rng=np.random.default_rng(1))
    expected = expected_preemption_overhead_h(duration_h, cfg)
    k = np.floor(duration_h / interval_h)
    r = duration_h - k * interval_h
    assert expected == pytest.approx(hazard * ((k * interval_h**2 + r**2) / 2
                                               + duration_h * restart_h))
    se = extra.std() / np.sqrt(n)
    assert abs(extra.mean() - expected) < 5 * se
    assert count.mean() == pytest.approx(hazard * duration_h, rel=0.01)


def test_a_job_shorter_than_the_interval_loses_at_most_what_it_ran() -> None:
    cfg = PreemptionConfig(hazard_per_h=5.0, checkpoint_interval_h=10.0)
    duration = np.full(10_000, 0.1)
    extra, count = preemption_overhead_h(duration, cfg, rng=np.random.default_rng(0))
    assert (extra <= count * 0.1 + 1e-12).all()


def test_issue_case_100_short_jobs_cost_about_their_work_not_25x() -> None:
    """100 jobs of 0.1 h, hazard 5/h, checkpoint every 10 h: 10 GPU-h of work plus
    100 × 5 × 0.1² / 2 = 2.5 h lost in expectation (it was 253 GPU-h)."""
    cfg = CampaignConfig.model_validate(_campaign(study={
        "strategy": {"kind": "random", "n_trials": 100},
        "duration": {"dist": "fixed", "duration_h": 0.1},
        "preemption": {"hazard_per_h": 5, "checkpoint_interval_h": 10}}))
    gpu_h = simulate(cfg, replicates=400, seed=0).metrics["gpu_hours"]
    assert gpu_h.mean() == pytest.approx(12.5, rel=0.03)
    assert gpu_h.max() < 20


def test_too_many_expected_preemptions_are_refused() -> None:
    cfg = PreemptionConfig(hazard_per_h=1e6, checkpoint_interval_h=1.0)
    with pytest.raises(ConfigError, match=r"hazard_per_h=1e\+06 × 2 h = 2,000,000"):
        preemption_overhead_h(np.full(3, 2.0), cfg, rng=np.random.default_rng(0))
