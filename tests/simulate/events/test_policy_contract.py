"""The policy contract, checked on every registered policy (as optuna's samplers_tests do for
its samplers): parametrised from the registry, so a policy registered with an example
strategy is tested here without a line added.

Each case replays the class's example strategy (``examples[key]``) in a small real campaign:
lognormal durations (every bill depends on the seed), constant power with a known idle
power, 3 workers, two instances of the study; a policy that draws failures
(``models_failures``) replays crashes and preemption too.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any

import numpy as np
import pytest

from tunecost.config import CampaignConfig
from tunecost.simulate import simulate
from tunecost.simulate.events import POLICIES, Job, Policy, StudyContext, study_context
from tunecost.simulate.events.engine import Shared, replicate
from tunecost.simulate.pipeline import resolve

KEYS = sorted(POLICIES)


def _campaign(key: str) -> CampaignConfig:
    cls = POLICIES[key]
    study: dict[str, Any] = {
        "name": "s", "count": 2, "strategy": dict(cls.examples[key]),
        "duration": {"dist": "lognormal", "median_h": 1.0, "sigma": 0.7},
        "hardware": {"accelerator": "v100-sxm2"},
        "power": {"kind": "constant", "accelerator_w": 250.0, "idle_w": 50.0},
    }
    if cls.models_failures:
        study["failures"] = {"crash_probability": 0.2,
                             "crash_duration": {"dist": "fixed", "duration_h": 0.1}}
        study["preemption"] = {"hazard_per_h": 0.3, "checkpoint_interval_h": 0.25,
                               "restart_overhead_h": 0.05}
    return CampaignConfig.model_validate({
        "name": "contract", "workers": 3, "pue": 1.2, "carbon": {"g_co2e_per_kwh": 300},
        "pricing": {"usd_per_accelerator_hour": 2.0}, "electricity": {"usd_per_kwh": 0.1},
        "studies": [study]})


class _Spy(Policy):
    """Wraps a policy; records what it handed out and what the engine told it."""

    def __init__(self, inner: Policy) -> None:
        self.inner = inner
        self.idle_kw = inner.idle_kw
        self.handed: list[Job] = []
        self.ended: Counter[int] = Counter()
        self.decided_after_end = 0

    def next_job(self, now_s: float) -> Any:
        r = self.inner.next_job(now_s)
        if isinstance(r, Job):
            self.handed.append(r)
        return r

    def ready(self, job: Job) -> bool:
        return self.inner.ready(job)

    def decide(self, job: Job, index: int, now_s: float) -> bool:
        self.decided_after_end += self.ended[id(job)] > 0
        return self.inner.decide(job, index, now_s)

    def end(self, job: Job, now_s: float, stopped: bool) -> None:
        self.ended[id(job)] += 1
        self.inner.end(job, now_s, stopped)

    @property
    def n_trials(self) -> int | None:
        return self.inner.n_trials


def test_every_registered_key_has_an_example_of_its_own_kind():
    from pydantic import TypeAdapter

    from tunecost.simulate.events import policy_key
    from tunecost.strategies import StrategyConfig

    for key in KEYS:
        cls = POLICIES[key]
        assert key in cls.examples, f"{cls.__name__} registered for {key!r} without an example"
        built = TypeAdapter(StrategyConfig).validate_python(dict(cls.examples[key])).build()
        assert policy_key(built) == key


@pytest.mark.parametrize("key", KEYS)
def test_policy_contract(key: str) -> None:
    cfg = _campaign(key)
    campaign = resolve(cfg)
    spies: list[_Spy] = []
    ctx = study_context(campaign.studies[0])

    class Spying(Policy):
        @classmethod
        def from_study(cls, study: StudyContext, *, rng: np.random.Generator) -> Policy:
            spy = _Spy(ctx.policy_class.from_study(study, rng=rng))
            spies.append(spy)
            return spy

        def next_job(self, now_s: float) -> Any:  # never called: from_study builds a _Spy
            raise AssertionError

    import dataclasses

    spied = dataclasses.replace(ctx, policy_class=Spying)
    shared = Shared(campaign, (spied,), np.zeros(2, dtype=np.int64))
    tl, wall_s, t = replicate(shared, np.random.SeedSequence(7))  # terminates

    assert len(spies) == 2 and math.isfinite(wall_s) and wall_s > 0
    started = 0
    for i, spy in enumerate(spies):
        # Every job handed out ended exactly once, and none was asked about after its end.
        assert spy.handed, f"{key}: instance {i} ran nothing"
        assert all(spy.ended[id(j)] == 1 for j in spy.handed)
        assert sum(spy.ended.values()) == len(spy.handed)
        assert spy.decided_after_end == 0
        # One ledger row per job, with the trials the policy handed out.
        rows = [n for n, inst in enumerate(tl.job_instance) if inst == i]
        assert len(rows) == len(spy.handed)
        trials = {j.trial for j in spy.handed}
        assert {tl.job_trial[n] for n in rows} == trials
        # Trials counted = trials started.
        if spy.n_trials is not None:
            assert spy.n_trials == len(trials)
        started += len(trials)
    assert t.campaign["n_trials"][0] == started

    for metric, values in t.campaign.items():
        assert np.isfinite(values).all() and (values >= 0).all(), metric

    def summary(seed: int) -> str:
        return json.dumps(simulate(cfg, engine="replay", replicates=3, seed=seed,
                                   backend="local").summary(), sort_keys=True)

    a = summary(1)
    assert summary(1) == a  # same seed: the same JSON
    assert summary(2) != a  # lognormal durations: every policy's bill depends on the seed
    stats = json.loads(a)["metrics"]
    for metric, s in stats.items():
        assert s is None or all(math.isfinite(v) and v >= 0 for v in s.values()), metric


def test_a_policy_needs_only_next_job():
    """One required method: the rest default (ready, go on, nothing at the end)."""

    class One(Policy):
        def __init__(self) -> None:
            self.left = 2

        def next_job(self, now_s: float) -> Job | None:
            self.left -= 1
            return (Job(trial=self.left, duration_s=3600.0, checkpoints_s=[1800.0],
                        reached=[0.5, 1.0], busy_kw=0.3, label="x")
                    if self.left >= 0 else None)

    from tunecost.simulate.events import Timeline
    from tunecost.simulate.events.engine import _run

    p = One()
    assert math.isnan(p.idle_kw) and p.ready(None) and p.n_trials is None  # type: ignore[arg-type]
    tl = Timeline()
    assert _run([p], 2, sequential=False, tl=tl) == 3600.0
    assert sorted(tl.job_trial) == [0, 1]

    class Nothing(Policy):
        pass

    with pytest.raises(TypeError, match="next_job"):
        Nothing()  # type: ignore[abstract]


def test_registering_needs_a_policy_that_builds_itself():
    from tunecost.simulate.events import register_policy

    class NoBuilder(Policy):
        def next_job(self, now_s: float) -> None:
            return None

    with pytest.raises(TypeError, match="from_study"):
        register_policy("x")(NoBuilder)
    with pytest.raises(TypeError, match="must subclass"):
        register_policy("x")(int)  # type: ignore[arg-type]

    class Taker(NoBuilder):
        @classmethod
        def from_study(cls, study: StudyContext, *, rng: np.random.Generator) -> Policy:
            return cls()

    with pytest.raises(TypeError, match="taken by OptunaPolicy"):
        register_policy("optuna")(Taker)
    assert "x" not in POLICIES
