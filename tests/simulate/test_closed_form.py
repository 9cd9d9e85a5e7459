"""Closed-form cases of the vectorised simulator."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tunecost.config import CampaignConfig
from tunecost.simulate import simulate


@pytest.mark.parametrize(("n", "k"), [(10, 1), (10, 3), (10, 10), (7, 12), (64, 8)])
def test_fixed_trials_on_k_workers(campaign_dict, n: int, k: int) -> None:
    """n trials of d hours on k workers take ceil(n/k)·d and n·d·g GPU-hours."""
    d, g = 2.5, 4
    cfg = CampaignConfig.model_validate(
        campaign_dict(
            workers=k,
            study={
                "strategy": {"kind": "random", "n_trials": n},
                "duration": {"dist": "fixed", "duration_h": d},
                "hardware": {"accelerator": "h100-sxm", "gpus_per_trial": g},
            },
        )
    )
    r = simulate(cfg, replicates=5, seed=0)
    np.testing.assert_allclose(r.metrics["wall_clock_h"], math.ceil(n / k) * d)
    np.testing.assert_allclose(r.metrics["gpu_hours"], n * d * g)
    np.testing.assert_allclose(r.metrics["n_trials"], n)
    # energy = GPU-hours × W / 1000 × PUE(1); CO2e, $ and electricity follow from it.
    np.testing.assert_allclose(r.metrics["energy_kwh"], n * d * g * 250 / 1000)
    np.testing.assert_allclose(r.metrics["co2e_kg"], r.metrics["energy_kwh"] * 0.5)
    np.testing.assert_allclose(r.metrics["cost_usd"], n * d * g * 2.0)
    np.testing.assert_allclose(r.metrics["electricity_usd"], r.metrics["energy_kwh"] * 0.1)
    np.testing.assert_allclose(r.metrics["waiting_energy_kwh"], 0.0)


def test_host_power_and_pue(campaign_dict) -> None:
    cfg = CampaignConfig.model_validate(
        campaign_dict(
            pue=1.5,
            study={
                "host_power_w": 100.0,
                "hardware": {"accelerator": "v100", "gpus_per_trial": 2},
            },
        )
    )
    r = simulate(cfg, replicates=3, seed=0)
    np.testing.assert_allclose(r.metrics["energy_kwh"], 10 * 2.0 * (2 * 250 + 100) * 1.5 / 1000)


def test_pue_from_catalog_key(campaign_dict) -> None:
    cfg = CampaignConfig.model_validate(campaign_dict(pue="uptime-2018"))
    r = simulate(cfg, replicates=2, seed=0)
    np.testing.assert_allclose(r.metrics["energy_kwh"], 10 * 2.0 * 250 * 1.58 / 1000)


def test_lognormal_mean_matches_theory(campaign_dict) -> None:
    median_h, sigma, n = 3.0, 0.8, 20
    cfg = CampaignConfig.model_validate(
        campaign_dict(
            study={
                "strategy": {"kind": "random", "n_trials": n},
                "duration": {"dist": "lognormal", "median_h": median_h, "sigma": sigma},
            },
        )
    )
    r = simulate(cfg, replicates=4000, seed=1)
    per_trial = r.metrics["gpu_hours"] / n
    theory = median_h * math.exp(sigma**2 / 2)
    se = per_trial.std(ddof=1) / math.sqrt(per_trial.size)
    assert abs(per_trial.mean() - theory) < 4 * se


def test_sync_batches_wait_and_draw_idle_power(campaign_dict) -> None:
    """Two synchronous batches of 3 trials of 2 h on 2 slots: slot 1 finishes batch 0 at 2 h
    but batch 1 may start only at 4 h, so it waits 2 h at idle power (50 W)."""
    cfg = CampaignConfig.model_validate(
        campaign_dict(
            workers=2,
            study={"strategy": {"kind": "grid", "n_configs": 6, "batch_size": 3}},
        )
    )
    r = simulate(cfg, replicates=2, seed=0)
    np.testing.assert_allclose(r.metrics["wall_clock_h"], 8.0)
    np.testing.assert_allclose(r.metrics["gpu_hours"], 12.0)
    np.testing.assert_allclose(r.metrics["waiting_energy_kwh"], 2 * 0.05)
    np.testing.assert_allclose(r.metrics["energy_kwh"], 12 * 0.25 + 2 * 0.05)
    np.testing.assert_allclose(r.metrics["cost_usd"], (12 + 2) * 2.0)  # a held slot is paid


def test_sequential_studies_add_wall_clock(campaign_dict) -> None:
    base = campaign_dict(workers=10)
    base["studies"] = [dict(base["studies"][0], name="a"), dict(base["studies"][0], name="b")]
    pooled = simulate(CampaignConfig.model_validate(base), replicates=2, seed=0)
    sequential = simulate(
        CampaignConfig.model_validate(dict(base, schedule="sequential")), replicates=2, seed=0
    )
    np.testing.assert_allclose(pooled.metrics["wall_clock_h"], 4.0)  # 20 trials on 10 slots
    np.testing.assert_allclose(sequential.metrics["wall_clock_h"], 4.0)
    base["workers"] = 20
    pooled = simulate(CampaignConfig.model_validate(base), replicates=2, seed=0)
    sequential = simulate(
        CampaignConfig.model_validate(dict(base, schedule="sequential")), replicates=2, seed=0
    )
    np.testing.assert_allclose(pooled.metrics["wall_clock_h"], 2.0)
    np.testing.assert_allclose(sequential.metrics["wall_clock_h"], 4.0)


def test_hyperband_trial_counts_flow_into_the_campaign(campaign_dict) -> None:
    cfg = CampaignConfig.model_validate(
        campaign_dict(
            workers=4,
            study={"strategy": {"kind": "hyperband", "eta": 3, "min_fidelity": 1 / 9}},
        )
    )
    r = simulate(cfg, replicates=3, seed=0)
    # eta 3, R/r = 9: s_max = 2; brackets n = 9, 5 (ceil(3/2·3)), 3 configs.
    np.testing.assert_allclose(r.metrics["n_trials"], 9 + 5 + 3)
    # With resume, each trial's work is the fidelity of the highest rung it reaches:
    # bracket 2: 9 at 1/9, 3 to 1/3, 1 to 1; bracket 1: 5 at 1/3, 1 to 1; bracket 0: 3 at 1.
    work = 6 * (1 / 9) + 2 * (1 / 3) + 1 + 4 * (1 / 3) + 1 + 3
    np.testing.assert_allclose(r.metrics["gpu_hours"], work * 2.0)


def test_reserved_pool_counts_idle_slots(campaign_dict) -> None:
    """3 trials of 2 h on 2 reserved slots: wall 4 h; one slot idles 2 h at 50 W; the bill
    covers 2 slots × 4 h."""
    cfg = CampaignConfig.model_validate(
        campaign_dict(
            workers=2,
            reserved=True,
            study={"strategy": {"kind": "random", "n_trials": 3}},
        )
    )
    r = simulate(cfg, replicates=2, seed=0)
    np.testing.assert_allclose(r.metrics["wall_clock_h"], 4.0)
    np.testing.assert_allclose(r.metrics["energy_kwh"], 3 * 2 * 0.25 + 2 * 0.05)
    np.testing.assert_allclose(r.metrics["cost_usd"], 2 * 4 * 2.0)


def test_tuning_multiplier_one_tune_is_24x(campaign_dict) -> None:
    """Table 4: 24 jobs of one model's 120 h against that one model is 24×."""
    cfg = CampaignConfig.model_validate(
        campaign_dict(
            workers=24,
            reference_run={"duration_h": 120},
            study={
                "strategy": {"kind": "grid", "n_configs": 24},
                "duration": {"dist": "fixed", "duration_h": 120},
            },
        )
    )
    r = simulate(cfg, replicates=3, seed=0)
    np.testing.assert_allclose(r.tuning_multiplier, 24.0)
    np.testing.assert_allclose(r.metrics["gpu_hours"], 2880.0)  # Table 4, 24 models
