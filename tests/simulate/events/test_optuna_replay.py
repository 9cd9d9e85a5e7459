"""Real Optuna samplers and pruners, asked and told on the simulated clock."""

from __future__ import annotations

import numpy as np
import pytest

from tunecost.config import CampaignConfig
from tunecost.exceptions import MissingExtraError
from tunecost.simulate import simulate
from tunecost.strategies.optuna_search import PRUNERS, SAMPLERS

GRID = {"d_model": [128, 512], "n_layers": [1, 6], "batch_size": [16, 128],
        "lr": [2e-4, 1e-3], "dropout": [0.01, 0.1]}
KWARGS = {
    "GridSampler": {"search_space": GRID},
    "NSGAIISampler": {"population_size": 4},
    "NSGAIIISampler": {"population_size": 4},
    "PercentilePruner": {"percentile": 25.0},
    "ThresholdPruner": {"upper": 2.6},
    "PatientPruner": {"wrapped_pruner": {"name": "MedianPruner"}, "patience": 1},
}
MISSING = {"CmaEsSampler": "cmaes", "GPSampler": "torch"}


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _study(sampler: str = "RandomSampler", pruner: str = "NopPruner", n: int = 10) -> dict:
    return {"kind": "optuna", "n_trials": n, "n_evaluations": 4,
            "sampler": {"name": sampler, "kwargs": KWARGS.get(sampler, {})},
            "pruner": {"name": pruner, "kwargs": KWARGS.get(pruner, {})}}


@pytest.mark.parametrize("sampler", [s for s in SAMPLERS if s not in MISSING
                                     or _installed(MISSING[s])])
def test_every_sampler_runs_trials_through_the_replay(h200_campaign, sampler):
    r = simulate(CampaignConfig.model_validate(h200_campaign(_study(sampler))),
        engine="replay", replicates=2, seed=0)
    assert (r.metrics["n_trials"] == 10).all()
    # The H200 study's measured power (150-190 W busy, PUE 1) over the GPU-hours, the
    # framework's overhead at idle power aside: a broken accounting lands far outside.
    busy_kw = (r.metrics["energy_kwh"] - r.metrics["overhead_energy_kwh"]
               - r.metrics["waiting_energy_kwh"]) / r.metrics["gpu_hours"]
    assert ((busy_kw > 0.1) & (busy_kw < 0.3)).all(), busy_kw


@pytest.mark.parametrize("pruner", PRUNERS)
def test_every_pruner_runs_trials_through_the_replay(h200_campaign, pruner):
    """12 trials under each pruner; pruning only ever lowers GPU-hours against none."""
    cfg = CampaignConfig.model_validate(h200_campaign(_study("TPESampler", pruner, n=12)))
    r = simulate(cfg, engine="replay", replicates=2, seed=1)
    base = simulate(CampaignConfig.model_validate(h200_campaign(_study("TPESampler", n=12))),
                  engine="replay", replicates=2, seed=1)
    assert (r.metrics["n_trials"] == 12).all()
    assert r.metrics["gpu_hours"].sum() <= base.metrics["gpu_hours"].sum() * 1.5


@pytest.mark.parametrize(("sampler", "module"), sorted(MISSING.items()))
def test_sampler_without_its_extra_fails_up_front(h200_campaign, sampler, module):
    """Optuna builds CmaEs without cmaes and GP without torch and then fails every trial;
    the replay refuses before the first trial, naming the package."""
    if _installed(module):
        pytest.skip(f"{module} is installed")
    cfg = CampaignConfig.model_validate(h200_campaign(_study(sampler)))
    with pytest.raises(MissingExtraError, match=module):
        simulate(cfg, engine="replay", replicates=1, seed=0)


def test_tpe_with_median_pruning_costs_less_per_trial_than_random_search(h200_campaign):
    """On the H200 calibration: TPE + MedianPruner spends fewer kWh per trial than random
    search without pruning, though TPE drifts to larger (costlier) models."""
    def kwh_per_trial(sampler: str, pruner: str) -> np.ndarray:
        cfg = CampaignConfig.model_validate(
            h200_campaign({**_study(sampler, pruner, n=60), "n_evaluations": 8}, workers=4))
        m = simulate(cfg, engine="replay", replicates=8, seed=0).metrics
        return m["energy_kwh"] / m["n_trials"]

    tpe = kwh_per_trial("TPESampler", "MedianPruner")
    rnd = kwh_per_trial("RandomSampler", "NopPruner")
    assert np.median(tpe) < np.median(rnd)


def test_bad_sampler_kwargs_fail_when_the_config_loads(h200_campaign):
    from pydantic import ValidationError

    bad = _study("TPESampler")
    bad["sampler"]["kwargs"] = {"n_startup_trialz": 3}
    with pytest.raises(ValidationError, match="n_startup_trialz"):
        CampaignConfig.model_validate(h200_campaign(bad))
    bad["sampler"]["kwargs"] = {"seed": 3}
    with pytest.raises(ValidationError, match="must not set seed"):
        CampaignConfig.model_validate(h200_campaign(bad))


def test_grid_sampler_stops_when_its_grid_is_used_up(h200_campaign):
    """A 2-point grid: the study stops asking once the grid is used up, as optimize() would
    (workers asking while both points still run get repeats, as with optimize(n_jobs=4))."""
    study = _study("GridSampler", n=10)
    study["sampler"]["kwargs"] = {"search_space": {"lr": [2e-4, 1e-3], "d_model": [256],
                                                   "n_layers": [2], "batch_size": [32],
                                                   "dropout": [0.1]}}
    r = simulate(CampaignConfig.model_validate(h200_campaign(study)),
        engine="replay", replicates=1, seed=0)
    assert 2 <= r.metrics["n_trials"][0] < 10


def test_hyperband_pruner_replays_identically_for_the_same_seed(h200_campaign):
    """HyperbandPruner assigns brackets by hashing the study's name: the replay names its
    study from the replicate's stream, so the same seed gives the same bill."""
    study = _study("TPESampler", "HyperbandPruner", n=20)
    study["pruner"]["kwargs"] = {"min_resource": 50, "max_resource": 400, "reduction_factor": 3}
    study.pop("n_evaluations")  # the calibration's own schedule: 8 reports of 400 steps
    cfg = CampaignConfig.model_validate(h200_campaign(study))
    a, b = (simulate(cfg, engine="replay", replicates=3, seed=5) for _ in range(2))
    for metric in ("gpu_hours", "energy_kwh", "wall_clock_h"):
        np.testing.assert_array_equal(a.metrics[metric], b.metrics[metric])
    full = simulate(CampaignConfig.model_validate(h200_campaign(_study("TPESampler", n=20))),
                  engine="replay", replicates=3, seed=5)
    assert a.metrics["gpu_hours"].mean() < full.metrics["gpu_hours"].mean()  # it prunes
