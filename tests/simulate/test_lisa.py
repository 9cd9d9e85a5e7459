"""The LISA campaign (Strubell et al. 2019, §4.2, Table 4) simulated from its summary figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from tunecost.config import load_config
from tunecost.simulate import simulate

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "lisa_rnd.yaml"


@pytest.fixture(scope="module")
def summary() -> dict:
    return simulate(load_config(CONFIG), replicates=10_000).summary()


def test_gpu_hours_energy_and_cost_match_table4(summary: dict) -> None:
    m = summary["metrics"]
    assert summary["replicates"] == 10_000
    assert m["n_trials"]["p50"] == 4789
    assert m["gpu_hours"]["p50"] == pytest.approx(239_942, rel=0.05)
    assert m["energy_kwh"]["p50"] == pytest.approx(82_250, rel=0.05)
    assert 103_000 <= m["cost_usd"]["p50"] <= 350_000
    assert m["electricity_usd"]["p50"] == pytest.approx(9870, rel=0.05)


def test_wall_clock_is_about_172_days_on_58_gpus(summary: dict) -> None:
    days = summary["metrics"]["wall_clock_h"]["p50"] / 24
    assert 160 < days < 195


def test_multiplier_against_one_model_is_table4_ratio(summary: dict) -> None:
    # Table 4: 239,942 GPU-h for the project against 120 for one model, about 2,000×.
    assert summary["tuning_multiplier"]["p50"] == pytest.approx(239_942 / 120, rel=0.05)
    assert summary["tuning_multiplier"]["p5"] < summary["tuning_multiplier"]["p95"]
