"""Neural architecture search: children, then one final training behind a barrier."""

from __future__ import annotations

import numpy as np
import pytest

from tunecost.strategies import NeuralArchitectureSearch

RNG = 0  # an int seed: plan() normalises it with tunecost._rng.as_generator


def test_children_then_final() -> None:
    nas = NeuralArchitectureSearch(
        n_children=20, child_fidelity=0.1, child_cost_factor=0.5, final_cost_factor=2.0
    )
    plan = nas.plan(3, rng=RNG)
    assert plan.n_jobs == plan.n_trials == 21
    children = slice(0, 20)
    assert (plan.stage[children] == 0).all() and (plan.barrier[children] == -1).all()
    assert plan.stage[-1] == 1
    assert plan.barrier[-1] == plan.stage[0]  # the final waits for the children's stage
    np.testing.assert_allclose(plan.fidelity[:, children], 0.1)
    assert (plan.fidelity[:, -1] == 1.0).all()
    np.testing.assert_allclose(plan.cost_factor, [0.5] * 20 + [2.0])
    assert plan.config[0] == "child 0" and plan.config[19] == "child 19"
    assert plan.config[-1] == "final"
    assert not plan.stopped.any()


def test_without_final_training() -> None:
    plan = NeuralArchitectureSearch(n_children=5, child_fidelity=1.0, final_training=False).plan(
        1, rng=RNG
    )
    assert plan.n_jobs == 5 and (plan.stage == 0).all() and (plan.barrier == -1).all()


@pytest.mark.parametrize(
    ("child_cost_factor", "expected_h"),
    [
        (1.0, 274_120.0),  # Strubell et al. 2019: every step at Transformer-big on 8 P100 speed
        (10 / 84, 32_633.3),  # Patterson et al. 2021 App. D: Transformer-base proxy, TPU v2
    ],
)
def test_evolved_transformer_two_views(child_cost_factor: float, expected_h: float) -> None:
    # 979M steps as 9,790 children of 100k steps; one full training = 300k steps = 84 h.
    nas = NeuralArchitectureSearch(
        n_children=9790,
        child_fidelity=1 / 3,
        child_cost_factor=child_cost_factor,
        final_training=False,
    )
    plan = nas.plan(1, rng=RNG)
    hours = float((plan.fidelity[0] * plan.cost_factor).sum()) * 84.0
    assert hours == pytest.approx(expected_h, abs=0.05)
