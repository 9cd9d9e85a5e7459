"""Tornado and Sobol: the Ishigami function, exact scalings, and ranks that follow the ranges."""

from __future__ import annotations

import numpy as np
import pytest

from tunecost.config import CampaignConfig
from tunecost.exceptions import ConfigError
from tunecost.reports.sensitivity import (
    ASSUMPTIONS,
    TotalsModel,
    default_assumptions,
    sobol,
    sobol_indices,
    tornado,
)
from tunecost.simulate.pipeline import resolve

pytest.importorskip("SALib")


def _ishigami(X: np.ndarray, a: float = 7.0, b: float = 0.1) -> dict[str, np.ndarray]:
    x1, x2, x3 = X[:, 0], X[:, 1], X[:, 2]
    return {"y": np.sin(x1) + a * np.sin(x2) ** 2 + b * x3**4 * np.sin(x1)}


def test_sobol_on_ishigami_matches_known_values() -> None:
    bounds = [(-np.pi, np.pi)] * 3
    res = sobol_indices(_ishigami, ["x1", "x2", "x3"], bounds, n_base=4096, rng=7)
    idx = res.indices["y"]
    assert idx["S1"] == pytest.approx([0.3139, 0.4424, 0.0], abs=0.05)
    assert idx["ST"] == pytest.approx([0.5576, 0.4424, 0.2437], abs=0.05)
    assert res.n_evals == 4096 * 5


def test_sobol_needs_a_power_of_two() -> None:
    with pytest.raises(ConfigError, match="power of 2"):
        sobol_indices(_ishigami, ["a", "b", "c"], [(0, 1)] * 3, n_base=100)


def _campaign(**over) -> CampaignConfig:
    data = {
        "name": "small", "workers": 4, "pue": 1.5, "carbon": {"g_co2e_per_kwh": 400},
        "pricing": {"usd_per_accelerator_hour": 2.0}, "electricity": {"usd_per_kwh": 0.1},
        "studies": [
            {"name": "grid", "count": 3, "strategy": {"kind": "grid", "n_configs": 20},
             "duration": {"dist": "lognormal", "mean_h": 2.0, "sigma": 0.6},
             "hardware": {"accelerator": "v100-sxm2"},
             "power": {"kind": "constant", "accelerator_w": 250},
             "failures": {"crash_probability": 0.05,
                          "crash_duration": {"dist": "uniform", "low_h": 0.05, "high_h": 0.2}}},
            {"name": "final", "strategy": {"kind": "random", "n_trials": 4},
             "duration": {"dist": "fixed", "duration_h": 5.0},
             "hardware": {"accelerator": "v100-sxm2"},
             "power": {"kind": "constant", "accelerator_w": 250}},
        ],
    }
    data.update(over)
    return CampaignConfig.model_validate(data)


def test_scalar_assumptions_scale_totals_exactly() -> None:
    model = TotalsModel(_campaign(), replicates=8, rng=3)
    base = np.array([a.base for a in default_assumptions(model.base)])
    i = {n: k for k, n in enumerate(ASSUMPTIONS)}
    pts = np.tile(base, (4, 1))
    pts[1, i["pue"]] = 3.0  # twice the PUE
    pts[2, i["power"]] = 0.5
    pts[3, i["price"]] = 1.5
    t = model.evaluate(pts)
    e, usd = t["energy_kwh"], t["cost_usd"]
    np.testing.assert_allclose(e[1], 2 * e[0])
    np.testing.assert_allclose(e[2], 0.5 * e[0])
    np.testing.assert_allclose(usd[3], 1.5 * usd[0])
    np.testing.assert_allclose(usd[1], usd[0])  # PUE does not change the rental bill
    np.testing.assert_allclose(t["co2e_kg"][0], e[0] * 0.4)
    np.testing.assert_allclose(t["electricity_usd"][1], 2 * t["electricity_usd"][0])


def test_structural_assumptions_move_the_simulation() -> None:
    model = TotalsModel(_campaign(), replicates=16, rng=3, k_max=1.5)
    base = np.array([a.base for a in default_assumptions(model.base)])
    i = {n: k for k, n in enumerate(ASSUMPTIONS)}
    pts = np.tile(base, (4, 1))
    pts[1, i["n_trials"]] = 1.5
    pts[2, i["failure_rate"]] = 0.0
    pts[3, i["failure_rate"]] = 0.5
    gpu_e = model.evaluate(pts)["energy_kwh"].mean(axis=1)
    # 1.5× the grid trials (20 → 30 per search) and the final study's 4 → 6.
    assert gpu_e[1] == pytest.approx(1.5 * gpu_e[0], rel=0.1)
    assert gpu_e[2] > gpu_e[0] > gpu_e[3]  # crashes cut jobs short
    # Same seed, same answer.
    again = TotalsModel(_campaign(), replicates=16, rng=3, k_max=1.5).evaluate(pts)
    np.testing.assert_array_equal(again["energy_kwh"].mean(axis=1), gpu_e)


def test_every_evaluation_uses_the_same_random_numbers_whatever_the_rng() -> None:
    """Common random numbers: the model evaluated twice, or rebuilt from the same
    SeedSequence (even one that has spawned children since), gives the same totals; another
    root gives others."""
    base = np.array([a.base for a in default_assumptions(resolve(_campaign()))])
    pts = np.tile(base, (2, 1))
    pts[1, ASSUMPTIONS.index("duration_spread")] = 1.3
    root = np.random.SeedSequence(11)
    model = TotalsModel(_campaign(), replicates=8, rng=root)
    first = model.evaluate(pts)["energy_kwh"]
    root.spawn(2)
    np.testing.assert_array_equal(model.evaluate(pts)["energy_kwh"], first)
    np.testing.assert_array_equal(
        TotalsModel(_campaign(), replicates=8, rng=root).evaluate(pts)["energy_kwh"], first)
    other = TotalsModel(_campaign(), replicates=8, rng=np.random.SeedSequence(12))
    assert not np.array_equal(other.evaluate(pts)["energy_kwh"], first)


def test_tornado_rank_follows_a_widened_range() -> None:
    model = TotalsModel(_campaign(), replicates=8, rng=1)
    default = tornado(model, default_assumptions(model.base))
    assert default.ranking[0] == "price"  # ±50 % of the dollars: the widest default
    # Grid intensity (±40 %) moves CO2e alone; the log-sd spread keeps the mean, so a sum of
    # many trials barely moves.
    assert default.ranking[1] == "grid_intensity"
    assert default.ranking[-1] == "duration_spread"
    assert set(default.ranking) == set(ASSUMPTIONS)
    widened = tornado(model, default_assumptions(model.base, {"pue": (1.0, 4.0)}))
    assert widened.ranking[0] == "pue"
    assert widened.swing("pue", "energy_kwh") == pytest.approx(
        default.base["energy_kwh"] * 3.0 / 1.5, rel=1e-9
    )
    power = default.ranking.index("power")
    narrowed = tornado(model, default_assumptions(model.base, {"power": (0.99, 1.01)}))
    assert narrowed.ranking.index("power") > power
    assert "moves the totals most" in default.headline()


def test_ranges_must_contain_the_base() -> None:
    model = TotalsModel(_campaign(), replicates=2, rng=1)
    with pytest.raises(ConfigError, match="contain its base"):
        default_assumptions(model.base, {"pue": (1.6, 2.0)})
    with pytest.raises(ConfigError, match="unknown assumption"):
        default_assumptions(model.base, {"pue_x": (1.0, 2.0)})


def test_sobol_on_the_campaign_finds_the_linear_drivers() -> None:
    model = TotalsModel(_campaign(), replicates=2, rng=0)
    res = sobol(model, default_assumptions(model.base), n_base=64, rng=0)
    st = dict(zip(res.names, res.indices["cost_usd"]["ST"], strict=True))
    # Cloud dollars depend on price and on the trials run, never on PUE or intensity.
    assert st["pue"] == pytest.approx(0.0, abs=1e-9)
    assert st["grid_intensity"] == pytest.approx(0.0, abs=1e-9)
    assert st["price"] > 0.5
    s1_co2 = dict(zip(res.names, res.indices["co2e_kg"]["S1"], strict=True))
    assert s1_co2["grid_intensity"] > 0.2


def test_scaled_model_matches_the_simulator_on_the_scaling_assumptions() -> None:
    """A replay-only campaign's sensitivity scales the simulated totals: on a campaign both
    can evaluate, the scaled model gives the re-simulating model's numbers."""
    from tunecost.reports.sensitivity import SCALE_ASSUMPTIONS, ScaledTotalsModel

    full = TotalsModel(_campaign(), replicates=8, rng=3)
    base_pt = np.array([a.base for a in default_assumptions(full.base)])
    base_totals = full.evaluate(base_pt[None, :])
    scaled = ScaledTotalsModel({t: v[0] for t, v in base_totals.items()}, full.base, seed=3)
    assumptions = [a for a in default_assumptions(full.base) if a.name in SCALE_ASSUMPTIONS]
    assert [a.name for a in assumptions] == list(SCALE_ASSUMPTIONS)
    i = {n: k for k, n in enumerate(ASSUMPTIONS)}
    pts = np.tile(base_pt, (4, 1))
    pts[0, i["pue"]], pts[1, i["grid_intensity"]] = 1.1, 200.0
    pts[2, i["power"]], pts[3, i["price"]] = 1.2, 0.5
    want = full.evaluate(pts)
    got = scaled.evaluate(pts[:, [i[n] for n in SCALE_ASSUMPTIONS]])
    for t in ("energy_kwh", "co2e_kg", "cost_usd", "electricity_usd", "wall_clock_h"):
        np.testing.assert_allclose(got[t], want[t], rtol=1e-12)
    tr = tornado(scaled, assumptions)
    assert set(tr.ranking) == set(SCALE_ASSUMPTIONS) and tr.replicates == 8
    with pytest.raises(ConfigError, match="4 columns"):
        scaled.evaluate(pts)
