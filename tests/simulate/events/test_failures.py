"""Crashes and preemption of plan strategies in the replay: one job draw for both engines.

The replay's plan policy takes one replicate of the vectorised engine's job draw
(``draw_study``), so a crashed job runs its crash length and ends its trial (its later jobs
skipped), and a preempted one its lost work and restarts, in both engines alike.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest
from scipy import stats

from tunecost.config import CampaignConfig
from tunecost.simulate import simulate

STRATEGIES = {
    "random": {"kind": "random", "n_trials": 20},
    "successive_halving": {"kind": "successive_halving", "n_trials": 27, "min_fidelity": 1 / 9,
                           "eta": 3},
}
METRICS = ("energy_kwh", "wall_clock_h", "gpu_hours", "waiting_energy_kwh", "cost_usd",
           "co2e_kg", "n_trials")


def _campaign(strategy: dict, *, duration: dict | None = None) -> CampaignConfig:
    return CampaignConfig.model_validate({
        "name": "f", "workers": 4, "pue": 1.2, "carbon": {"g_co2e_per_kwh": 300},
        "pricing": {"usd_per_accelerator_hour": 2.0},
        "studies": [{
            "name": "s", "strategy": strategy,
            "duration": duration or {"dist": "lognormal", "median_h": 1.0, "sigma": 0.8},
            "hardware": {"accelerator": "v100-sxm2"},
            "power": {"kind": "constant", "accelerator_w": 250.0, "idle_w": 50.0},
            "failures": {"crash_probability": 0.15,
                         "crash_duration": {"dist": "lognormal", "median_h": 0.2, "sigma": 0.5}},
            "preemption": {"hazard_per_h": 0.4, "checkpoint_interval_h": 0.25,
                           "restart_overhead_h": 0.05},
        }]})


@pytest.mark.parametrize("kind", sorted(STRATEGIES))
def test_replay_and_vectorised_agree_in_distribution(kind):
    """Independent seeds, 300 replicates each: two-sample KS on energy and wall clock."""
    cfg = _campaign(STRATEGIES[kind])
    vec = simulate(cfg, replicates=300, seed=1, engine="vectorized")
    rep = simulate(cfg, replicates=300, seed=2, engine="replay", backend="local")
    for metric in ("energy_kwh", "wall_clock_h"):
        p = stats.ks_2samp(vec.metrics[metric], rep.metrics[metric]).pvalue
        assert p > 0.01, (metric, p)


@pytest.mark.parametrize("kind", sorted(STRATEGIES))
@pytest.mark.parametrize("duration", [None, {"dist": "fixed", "duration_h": 1.5}],
                         ids=["lognormal", "fixed"])
def test_same_stream_same_jobs_same_totals(kind, duration, tmp_path):
    """The vectorised engine in chunks of one replicate draws replicate r from the root's
    r-th child, as the replay does: the same crashes, preemptions and durations, and list
    scheduling executed event by event gives every replicate's totals to rounding."""
    cfg = _campaign(STRATEGIES[kind], duration=duration)
    vec = simulate(cfg, replicates=60, seed=5, engine="vectorized", chunk_size=1,
                   ledger=tmp_path / "v.csv")
    rep = simulate(cfg, replicates=60, seed=5, engine="replay", backend="local",
                   ledger=tmp_path / "r.csv")
    for metric in METRICS:
        np.testing.assert_allclose(rep.metrics[metric], vec.metrics[metric], rtol=1e-12,
                                   atol=1e-12, err_msg=metric)

    def jobs(name: str) -> list[tuple]:
        rows = csv.DictReader((tmp_path / name).open())
        return sorted((r["trial"], r["state"], r["fidelity"], round(float(r["duration_h"]), 5),
                       r["preemptions"]) for r in rows)

    v, r = jobs("v.csv"), jobs("r.csv")
    assert r == v
    states = {s for _, s, *_ in v}
    assert "CRASHED" in states  # the case exercises a crash (and skips, in halving)
    assert any(int(p) > 0 for *_, p in v)


def test_a_crash_ends_its_trial_in_the_replay():
    """Successive halving, every rung of a crashed trial skipped: its later jobs never run,
    and the trial still counts as started."""
    cfg = _campaign(STRATEGIES["successive_halving"])
    r = simulate(cfg, replicates=200, seed=3, engine="replay", backend="local")
    no_crash = CampaignConfig.model_validate({
        **cfg.model_dump(mode="json"),
        "studies": [{**cfg.model_dump(mode="json")["studies"][0],
                     "failures": {"crash_probability": 0.0}}]})
    base = simulate(no_crash, replicates=200, seed=3, engine="replay", backend="local")
    assert (r.metrics["n_trials"] == 27).all()
    assert r.metrics["gpu_hours"].mean() < base.metrics["gpu_hours"].mean()
