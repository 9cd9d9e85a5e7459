from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def campaign_dict() -> Any:
    """A small valid campaign as a user would write it, to be modified per test."""

    def make(**overrides: Any) -> dict[str, Any]:
        study = {
            "name": "s",
            "strategy": {"kind": "random", "n_trials": 10},
            "duration": {"dist": "fixed", "duration_h": 2.0},
            "hardware": {"accelerator": "v100-sxm2", "gpus_per_trial": 1},
            "power": {"kind": "constant", "accelerator_w": 250.0, "idle_w": 50.0},
        }
        study.update(overrides.pop("study", {}))
        cfg = {
            "name": "c",
            "workers": 1,
            "pue": 1.0,
            "carbon": {"g_co2e_per_kwh": 500.0},
            "pricing": {"usd_per_accelerator_hour": 2.0},
            "electricity": {"usd_per_kwh": 0.1},
            "studies": [study],
            "replicates": 50,
            "seed": 3,
        }
        cfg.update(overrides)
        return cfg

    return make
