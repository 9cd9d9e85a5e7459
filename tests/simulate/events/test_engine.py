"""The replay engine: agreement with the vectorised path, closed forms, outputs, dispatch."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
from scipy import stats
from typer.testing import CliRunner

from tunecost.cli import app
from tunecost.config import CampaignConfig
from tunecost.exceptions import ConfigError
from tunecost.simulate import simulate
from tunecost.simulate.events import TIMELINE_COLUMNS


def test_random_search_engines_agree_on_total_energy(lognormal_campaign):
    """Random search, i.i.d. lognormal durations, 4 workers: two-sample KS on total energy,
    2,000 replicates each, p > 0.01."""
    cfg = CampaignConfig.model_validate(
        lognormal_campaign({"kind": "random", "n_trials": 20}, workers=4, sigma=0.8))
    vec = simulate(cfg, replicates=2000, seed=1, engine="vectorized")
    rep = simulate(cfg, engine="replay", replicates=2000, seed=2)
    p = stats.ks_2samp(vec.metrics["energy_kwh"], rep.metrics["energy_kwh"]).pvalue
    assert p > 0.01
    # Wall clock is where the schedulers could differ: it must agree too.
    assert stats.ks_2samp(vec.metrics["wall_clock_h"], rep.metrics["wall_clock_h"]).pvalue > 0.01
    assert rep.summary()["engine"] == "replay"


@pytest.mark.parametrize("kind", [
    {"kind": "grid", "space": {"lr": [0.1, 0.01, 0.001], "layers": [2, 4]}},
    {"kind": "successive_halving", "n_trials": 27, "min_fidelity": 1 / 9, "eta": 3},
    {"kind": "asha", "n_trials": 27, "min_fidelity": 1 / 9, "eta": 3},
    {"kind": "hyperband", "min_fidelity": 1 / 9, "eta": 3},
    {"kind": "median_pruning", "n_trials": 12, "n_evaluations": 4, "stop_fraction": 0.3},
])
def test_plan_kinds_match_the_vectorised_path_with_fixed_durations(campaign_dict, kind):
    """With fixed durations the plan's list schedule is deterministic (median pruning's
    stops are random, so only its expectation is compared): both engines give the same
    totals."""
    cfg = CampaignConfig.model_validate(campaign_dict(workers=4, study={"strategy": kind}))
    vec = simulate(cfg, replicates=300, seed=0, engine="vectorized")
    rep = simulate(cfg, engine="replay", replicates=300, seed=0)
    for metric in ("gpu_hours", "wall_clock_h", "energy_kwh", "waiting_energy_kwh", "cost_usd"):
        a, b = vec.metrics[metric], rep.metrics[metric]
        if kind["kind"] == "median_pruning":
            assert b.mean() == pytest.approx(a.mean(), rel=0.05, abs=1e-9), metric
        else:
            np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-12, err_msg=metric)


def test_n_fixed_trials_on_k_workers_take_ceil_n_over_k_durations(campaign_dict):
    cfg = CampaignConfig.model_validate(campaign_dict(workers=3))
    r = simulate(cfg, engine="replay", replicates=2, seed=0)
    assert r.metrics["wall_clock_h"][0] == math.ceil(10 / 3) * 2.0
    assert r.metrics["gpu_hours"][0] == pytest.approx(10 * 2.0)
    assert r.metrics["energy_kwh"][0] == pytest.approx(10 * 2.0 * 250 / 1000)
    assert r.metrics["waiting_energy_kwh"][0] == 0.0


def test_same_seed_same_json(h200_campaign):
    """Same seed: identical summary JSON (Optuna samplers are seeded from the replicate)."""
    cfg = CampaignConfig.model_validate(h200_campaign(
        {"kind": "optuna", "n_trials": 12, "n_evaluations": 4,
         "sampler": {"name": "TPESampler", "kwargs": {"n_startup_trials": 4}},
         "pruner": {"name": "MedianPruner", "kwargs": {"n_startup_trials": 2}}}))
    a = json.dumps(simulate(cfg, engine="replay", replicates=3, seed=5).summary())
    b = json.dumps(simulate(cfg, engine="replay", replicates=3, seed=5).summary())
    c = json.dumps(simulate(cfg, engine="replay", replicates=3, seed=6).summary())
    assert a == b
    assert a != c


def test_vectorised_engine_refuses_replay_kinds_and_auto_dispatches(h200_campaign):
    cfg = CampaignConfig.model_validate(h200_campaign(
        {"kind": "ray_tune", "n_trials": 6, "n_evaluations": 4, "scheduler": {"name": "asha"}}))
    with pytest.raises(ConfigError, match="use the replay engine"):
        simulate(cfg, replicates=2, seed=0, engine="vectorized")
    assert simulate(cfg, replicates=2, seed=0).summary()["engine"] == "replay"
    with pytest.raises(ConfigError, match="keep_replicates=False streams"):
        simulate(cfg, replicates=2, seed=0, keep_replicates=False)


def test_timeline_csv_and_png_are_written(tmp_path, lognormal_campaign):
    """Sync HyperBand on 8 workers: the CSV has busy, waiting and idle rows, the PNG exists."""
    cfg = CampaignConfig.model_validate(lognormal_campaign(
        {"kind": "ray_tune", "n_trials": 30, "n_evaluations": 9,
         "scheduler": {"name": "hyperband", "reduction_factor": 3}}))
    path = tmp_path / "out" / "timeline.csv"
    simulate(cfg,
        engine="replay", replicates=2, seed=0, timeline=path, ledger=tmp_path / "ledger.csv")
    rows = list(csv.DictReader(path.open()))
    assert tuple(rows[0]) == TIMELINE_COLUMNS
    assert {r["state"] for r in rows} >= {"busy", "waiting"}
    assert all(float(r["end_s"]) > float(r["start_s"]) for r in rows)
    png = path.with_suffix(".png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ledger = list(csv.DictReader((tmp_path / "ledger.csv").open()))
    assert {r["state"] for r in ledger} >= {"PAUSED", "PRUNED"}
    assert not list(path.parent.glob(".*"))  # no temporary files left behind


def test_cli_engine_and_timeline(tmp_path, campaign_dict):
    import yaml

    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(campaign_dict(workers=2)))
    out = CliRunner().invoke(app, ["simulate", str(cfg), "--engine", "replay", "--json",
                                   "--replicates", "5", "--timeline", str(tmp_path / "t.csv")])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["engine"] == "replay"
    assert (tmp_path / "t.csv").is_file() and (tmp_path / "t.png").is_file()
    out = CliRunner().invoke(app, ["simulate", str(cfg), "--timeline", str(tmp_path / "u.csv")])
    assert out.exit_code == 2 and "replay" in out.output


def test_replay_refuses_failures_of_a_real_search_algorithm(campaign_dict):
    """Crashes and preemption come from the shared job draw: a plan strategy replays them, a
    real sampler's trials (not drawn ahead) are refused them, naming the policy."""
    failures = {"crash_probability": 0.1,
                "crash_duration": {"dist": "fixed", "duration_h": 0.5}}
    plan = CampaignConfig.model_validate(campaign_dict(study={"failures": failures}))
    assert simulate(plan, engine="replay", replicates=2, seed=0).metrics["n_trials"][0] == 10
    for extra in ({"failures": failures},
                  {"preemption": {"hazard_per_h": 0.1, "checkpoint_interval_h": 1.0}}):
        cfg = CampaignConfig.model_validate(campaign_dict(study={
            **extra, "strategy": {"kind": "optuna", "n_trials": 4, "n_evaluations": 2,
                                  "sampler": {"name": "RandomSampler"}}}))
        with pytest.raises(ConfigError, match="crashes and preemption.*OptunaPolicy"):
            simulate(cfg, engine="replay", replicates=2, seed=0)
