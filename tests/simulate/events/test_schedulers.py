"""Ray Tune schedulers on the simulated clock, checked against real Ray Tune runs."""

from __future__ import annotations

import numpy as np
import pytest

from tunecost.config import CampaignConfig
from tunecost.durations import FixedConfig
from tunecost.report_schedule import ReportSchedule
from tunecost.simulate import simulate
from tunecost.simulate.events import Surrogate, Timeline
from tunecost.simulate.events._trials import TrialBank
from tunecost.simulate.events.engine import _run
from tunecost.simulate.events.schedulers import ASHAPolicy, MedianStoppingPolicy, percentile

K = 9
# Eight deterministic learning curves loss(k) = a + b / k that cross: early ranks mislead.
CURVES = [(0.50, 2.0), (0.90, 0.2), (0.30, 4.0), (0.70, 1.0), (0.40, 3.0), (0.80, 0.5),
          (0.60, 1.5), (0.20, 6.0)]


def _loss(a: float, b: float, k: int) -> float:
    return a + b / k


def test_percentile_matches_numpy():
    rng = np.random.default_rng(0)
    for n in (1, 2, 5, 33):
        x = sorted(rng.normal(size=n).tolist())
        for q in (0.0, 25.0, 66.6667, 75.0, 100.0):
            assert percentile(x, q) == np.percentile(x, q)


def test_sync_hyperband_waits_and_asha_does_not(lognormal_campaign):
    """8 workers, lognormal durations (sigma 1): synchronous HyperBand makes workers wait at
    rung barriers (idle-waiting energy > 0), asynchronous HyperBand (ASHA with brackets) lets
    them start other trials; the waiting energy is larger for the synchronous variant."""
    def waiting(scheduler: dict) -> np.ndarray:
        cfg = CampaignConfig.model_validate(lognormal_campaign(
            {"kind": "ray_tune", "n_trials": 81, "n_evaluations": 27, "scheduler": scheduler}))
        r = simulate(cfg, engine="replay", replicates=30, seed=0)
        stats = r.summary()["metrics"]["waiting_energy_kwh"]
        assert stats["p50"] == pytest.approx(np.median(r.metrics["waiting_energy_kwh"]))
        return r.metrics["waiting_energy_kwh"]

    sync = waiting({"name": "hyperband", "reduction_factor": 3})
    asha = waiting({"name": "asha", "reduction_factor": 3, "brackets": 3})
    assert sync.mean() > asha.mean()
    assert (sync > 0).all()


def _bank(n: int) -> TrialBank:
    surrogate = Surrogate(ReportSchedule(count=K, resource=K), calibration=None,
                          duration=FixedConfig(dist="fixed", duration_h=1.0).build())
    bank = TrialBank(surrogate, n, host_kw=np.array([0.3]), shares=np.array([1.0]),
                     rng=np.random.default_rng(0))
    vals = np.array([[_loss(a, b, k) for k in range(1, K + 1)] for a, b in CURVES[:n]])
    bank.values, bank.values_list = vals, vals.tolist()
    return bank


def _replayed_stops(policy) -> list[int]:
    """Last iteration each trial reached, running the policy on one worker."""
    tl = Timeline()
    _run([policy], 1, sequential=False, tl=tl)
    last = {}
    for t, reached in zip(tl.job_trial, tl.job_reached, strict=True):
        last[t] = round(reached * K)
    return [last[t] for t in range(len(CURVES))]


def _curves() -> list[list[float]]:
    return [[_loss(a, b, k) for k in range(1, K + 1)] for a, b in CURVES]


def test_asha_stops_the_same_trials_at_the_same_rungs_as_ray(ray_stops):
    from ray.tune.schedulers import ASHAScheduler

    ours = _replayed_stops(ASHAPolicy(_bank(len(CURVES)), len(CURVES), grace_period=1,
                                      reduction_factor=3, brackets=1, idle_kw=0.05,
                                      mode_sign=1.0, rng=np.random.default_rng(0)))
    theirs = ray_stops(_curves(), ASHAScheduler(time_attr="training_iteration", max_t=K,
                                                grace_period=1, reduction_factor=3))
    assert ours == theirs
    assert len(set(ours)) > 1  # some trials stopped early, some ran to max_t


def test_median_stopping_matches_ray(ray_stops):
    from ray.tune.schedulers import MedianStoppingRule

    ours = _replayed_stops(MedianStoppingPolicy(_bank(len(CURVES)), len(CURVES),
                                                grace_period=2, min_samples_required=2,
                                                idle_kw=0.05, mode_sign=1.0))
    theirs = ray_stops(_curves(), MedianStoppingRule(time_attr="training_iteration",
                                                     grace_period=2, min_samples_required=2,
                                                     min_time_slice=10**9))
    assert ours == theirs
    assert len(set(ours)) > 1


@pytest.mark.parametrize("name", ["asha", "hyperband", "median_stopping", "pbt"])
def test_every_scheduler_replays_on_the_h200_calibration(h200_campaign, name):
    cfg = CampaignConfig.model_validate(h200_campaign(
        {"kind": "ray_tune", "n_trials": 40, "n_evaluations": 9, "scheduler": {"name": name}},
        workers=4))
    r = simulate(cfg, engine="replay", replicates=3, seed=0)
    assert (r.metrics["n_trials"] == 40).all()
    full = simulate(CampaignConfig.model_validate(h200_campaign(
        {"kind": "optuna", "n_trials": 40, "n_evaluations": 9,
         "sampler": {"name": "RandomSampler"}}, workers=4)), engine="replay", replicates=3, seed=0)
    if name == "pbt":  # PBT stops nobody: every trial runs to max_t, plus restarts
        assert r.metrics["gpu_hours"].mean() > 0.8 * full.metrics["gpu_hours"].mean()
    else:
        assert r.metrics["gpu_hours"].mean() < full.metrics["gpu_hours"].mean()
