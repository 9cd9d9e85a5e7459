"""Continuing a real study: the policies that ``continue`` take its history, the others are
refused it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tunecost.config import CampaignConfig
from tunecost.exceptions import ConfigError
from tunecost.simulate.events import POLICIES, Continuation, run_events

K = 9  # reports per trial: ASHA's example has rungs at iterations 1, 3 (and max_t 9)


def _asha(n_trials: int = 12) -> CampaignConfig:
    return CampaignConfig.model_validate({
        "name": "c", "workers": 1, "carbon": {"g_co2e_per_kwh": 0},
        "studies": [{"name": "s", "strategy": {
            "kind": "ray_tune", "n_trials": n_trials, "n_evaluations": K,
            "scheduler": {"name": "asha", "reduction_factor": 3}},
            "duration": {"dist": "fixed", "duration_h": 1.0},
            "hardware": {"accelerator": "v100-sxm2"},
            "power": {"kind": "constant", "accelerator_w": 250.0, "idle_w": 50.0}}]})


def _busy_h(cont: Continuation | None) -> np.ndarray:
    r = run_events(_asha(), replicates=4, root=np.random.SeedSequence(0),
                   backend="local", continuations=None if cont is None else {"s": cont})
    return r.metrics["gpu_hours"]


def test_asha_meets_the_rungs_the_real_trials_set() -> None:
    """History trials that reported the best value possible (minimising: -inf) fill every
    rung: each new trial is then below the rungs' percentile at its first rung and stops
    there, after 1 of its 9 iterations; without the history the first trials always go on."""
    best = Continuation(study_name="s", curves=[[-1e300] * K] * 30)
    continued, fresh = _busy_h(best), _busy_h(None)
    np.testing.assert_allclose(continued, 12 * 1.0 / K)  # 12 trials × one ninth of an hour
    assert np.all(fresh > continued)


def test_worst_history_promotes_every_trial() -> None:
    worst = Continuation(study_name="s", curves=[[1e300] * K] * 30)
    np.testing.assert_allclose(_busy_h(worst), 12 * 1.0)  # none is ever below the rungs


@pytest.mark.parametrize("key", sorted(k for k, c in POLICIES.items() if not c.continues))
def test_policies_that_keep_no_history_refuse_one(key: str) -> None:
    cls = POLICIES[key]
    study: dict[str, Any] = {"name": "s", "strategy": dict(cls.examples[key]),
                             "duration": {"dist": "fixed", "duration_h": 1.0},
                             "hardware": {"accelerator": "v100-sxm2"},
                             "power": {"kind": "constant", "accelerator_w": 250.0,
                                       "idle_w": 50.0}}
    cfg = CampaignConfig.model_validate({"name": "c", "carbon": {"g_co2e_per_kwh": 0},
                                         "studies": [study]})
    with pytest.raises(ConfigError, match="cannot continue a study"):
        run_events(cfg, replicates=1, root=np.random.SeedSequence(0), backend="local",
                   continuations={"s": Continuation(study_name="s")})
