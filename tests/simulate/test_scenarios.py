"""A scenario set simulated side by side: order, one ledger per scenario, progress by name."""

from __future__ import annotations

import csv
from pathlib import Path

from tunecost.config import CampaignConfig, ScenarioSet
from tunecost.simulate import per_scenario_path, simulate, simulate_scenarios

ONE = {"workers": 2, "carbon": {"g_co2e_per_kwh": 400},
       "studies": [{"name": "s", "strategy": {"kind": "grid", "n_configs": 3},
                    "duration": {"dist": "fixed", "duration_h": 1},
                    "hardware": {"accelerator": "v100-sxm2"},
                    "power": {"kind": "constant", "accelerator_w": 250}}]}


def test_each_scenario_is_its_own_simulation_in_order(tmp_path: Path) -> None:
    pair = ScenarioSet.model_validate({"name": "pair", "scenarios": [
        {**ONE, "name": "two/slots"}, {**ONE, "name": "one", "workers": 1}]})
    calls: list[tuple[str, int, int]] = []
    results = simulate_scenarios(pair, replicates=5, seed=3, ledger=tmp_path / "l.csv",
                                 progress=lambda *a: calls.append(a))
    assert [r.name for r in results] == ["two/slots", "one"]
    # 3 one-hour jobs: on 2 slots 2 h, on 1 slot 3 h; each equal to simulating it alone.
    assert [float(r.metrics["wall_clock_h"][0]) for r in results] == [2.0, 3.0]
    alone = simulate(CampaignConfig.model_validate({**ONE, "name": "one", "workers": 1}),
                     replicates=5, seed=3)
    assert results[1].summary()["metrics"] == alone.summary()["metrics"]
    assert [c[0] for c in calls] == ["two/slots", "one"]
    assert all(c[1] == c[2] == 5 for c in calls)
    files = {"two/slots": tmp_path / "l.two_slots.csv", "one": tmp_path / "l.one.csv"}
    for name, path in files.items():
        assert per_scenario_path(tmp_path / "l.csv", name, 2) == path
        rows = list(csv.DictReader(path.open()))
        assert len(rows) == 3 and {r["study"] for r in rows} == {"s"}
    assert not (tmp_path / "l.csv").exists()


def test_a_single_campaign_keeps_its_file_name(tmp_path: Path) -> None:
    cfg = CampaignConfig.model_validate({**ONE, "name": "solo"})
    (result,) = simulate_scenarios(cfg, replicates=2, ledger=tmp_path / "l.csv")
    assert result.name == "solo" and (tmp_path / "l.csv").exists()
    assert per_scenario_path(None, "x", 3) is None
