from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

STUDY = Path(__file__).resolve().parents[3] / "studies" / "h200_transformer_lm"


@pytest.fixture
def h200_campaign() -> Any:
    """A campaign on the H200 calibration (``calib_small.json``) with one study of ``strategy``;
    the surrogate's values come from the study's records."""

    def make(strategy: dict[str, Any], *, workers: int = 4) -> dict[str, Any]:
        strategy = dict(strategy)
        if strategy["kind"] in ("optuna", "ray_tune"):
            strategy.setdefault("objective", {"records": str(STUDY / "data/calib_random.jsonl")})
        return {
            "name": "h200", "workers": workers, "pue": 1.0, "carbon": {"g_co2e_per_kwh": 400},
            "studies": [{"name": "s", "strategy": strategy, "hardware": {"accelerator": "h200"},
                         "calibration": {"path": str(STUDY / "calib_small.json")}}],
        }

    return make


@pytest.fixture
def lognormal_campaign() -> Any:
    """A campaign of ``strategy`` with lognormal durations and constant power (no calibration)."""

    def make(strategy: dict[str, Any], *, workers: int = 8, sigma: float = 1.0) -> dict[str, Any]:
        return {
            "name": "ln", "workers": workers, "pue": 1.2, "carbon": {"g_co2e_per_kwh": 300},
            "pricing": {"usd_per_accelerator_hour": 2.0},
            "studies": [{
                "name": "s", "strategy": strategy,
                "duration": {"dist": "lognormal", "median_h": 1.0, "sigma": sigma},
                "hardware": {"accelerator": "v100-sxm2"},
                "power": {"kind": "constant", "accelerator_w": 250.0, "idle_w": 50.0},
            }],
        }

    return make


@pytest.fixture
def campaign_dict() -> Any:
    """A small campaign with fixed 2 h trials at 250 W (idle 50 W), modified per test."""

    def make(*, workers: int = 1, study: dict[str, Any] | None = None) -> dict[str, Any]:
        s = {
            "name": "s",
            "strategy": {"kind": "random", "n_trials": 10},
            "duration": {"dist": "fixed", "duration_h": 2.0},
            "hardware": {"accelerator": "v100-sxm2", "gpus_per_trial": 1},
            "power": {"kind": "constant", "accelerator_w": 250.0, "idle_w": 50.0},
        }
        s.update(study or {})
        return {
            "name": "c", "workers": workers, "pue": 1.0, "carbon": {"g_co2e_per_kwh": 500.0},
            "pricing": {"usd_per_accelerator_hour": 2.0}, "electricity": {"usd_per_kwh": 0.1},
            "studies": [s], "replicates": 50, "seed": 3,
        }

    return make


@pytest.fixture
def ray_stops(ray_session: None, tmp_path: Path) -> Any:
    """``ray_stops(curves, scheduler)``: the last ``training_iteration`` of each curve's
    trial in a real Ray Tune run (one trial at a time, in order), whose trainable reports
    ``loss`` = each value of its curve in turn."""

    def run(curves: list[list[float]], scheduler: Any) -> list[int]:
        from ray import tune

        def trainable(config: dict[str, Any]) -> None:
            from ray import tune as _tune

            for v in config["curve"]:
                _tune.report({"loss": v})

        tuner = tune.Tuner(
            trainable,
            param_space={"i": tune.grid_search(list(range(len(curves)))),
                         "curve": tune.sample_from(lambda spec: curves[spec.config.i])},
            tune_config=tune.TuneConfig(metric="loss", mode="min", scheduler=scheduler,
                                        max_concurrent_trials=1, reuse_actors=True),
            run_config=tune.RunConfig(storage_path=str(tmp_path), name="exp", verbose=0),
        )
        grid = tuner.fit()
        assert grid.num_errors == 0
        stops = {r.config["i"]: r.metrics["training_iteration"] for r in grid}
        return [stops[i] for i in range(len(curves))]

    return run
