"""Replay of a vectorised strategy's plan (random, grid, asha, hyperband, ...) on the clock.

The jobs and their dependencies are the plan's (one replicate of ``Strategy.plan``); the
engine runs them in queue order: a free worker takes the next job and holds it, waiting,
until its parent job and its barrier stage have ended: the same list scheduling as the
vectorised path, executed event by event, so the two engines can be checked against each
other.
"""

from __future__ import annotations

import numpy as np

from tunecost.simulate._resolve import ResolvedStudy
from tunecost.simulate.events._job import Job, _Wait
from tunecost.units import W_PER_KW

__all__ = ["PlanPolicy"]


class PlanPolicy:
    """Hands out one replicate of a :class:`~tunecost.strategies.TrialPlan` in queue order.

    Args:
        study: the resolved study (strategy, duration model or calibration, power).
        rng: the only source of randomness (plan, accelerators, durations).
    """

    def __init__(self, study: ResolvedStudy, *, rng: np.random.Generator) -> None:
        plan_rng, dur_rng, acc_rng = rng.spawn(3)
        plan = study.strategy.plan(1, rng=plan_rng).validate(1)
        n_trials = plan.n_trials
        acc = (np.zeros(n_trials, dtype=np.int64) if len(study.accelerators) == 1
               else acc_rng.choice(len(study.accelerators), size=n_trials, p=study.shares))
        busy_kw = study.busy_kw[acc]
        if study.calibration is None:
            assert study.duration is not None  # StudyConfig requires it without a calibration
            full_s = study.duration.sample((n_trials,), rng=dur_rng)
        else:
            params = study.calibration.sample_params((n_trials,), rng=dur_rng)
            full_s, energy_j = study.calibration.sample_costs(params, rng=dur_rng)
            if energy_j is not None:  # else duration-only: busy_kw holds the estimated power
                busy_kw = busy_kw + energy_j / full_s / W_PER_KW
        t = plan.trial
        self.duration_s = (full_s[t] * plan.fidelity[0] * plan.cost_factor).tolist()
        self.busy_kw = busy_kw[t].tolist()
        self.reached = plan.reached[0].tolist()
        self.stopped = plan.stopped[0].tolist()
        self.trial = t.tolist()
        self.parent = plan.parent.tolist()
        self.barrier = plan.barrier.tolist()
        self.stage = plan.stage.tolist()
        self.labels = plan.config
        self.n_jobs = plan.n_jobs
        self.n_trials = n_trials
        self.stage_left = np.bincount(plan.stage, minlength=int(plan.stage.max()) + 1).tolist()
        self.ended = [False] * plan.n_jobs
        self.next = 0
        self.idle_kw = float(study.idle_kw @ study.shares)

    def next_job(self, now_s: float) -> Job | _Wait | None:
        j = self.next
        if j >= self.n_jobs:
            return None
        self.next += 1
        return Job(trial=self.trial[j], duration_s=self.duration_s[j], checkpoints_s=[],
                   reached=[self.reached[j]], busy_kw=self.busy_kw[j], label=self.labels[j],
                   data=j, early=self.stopped[j])

    def ready(self, job: Job) -> bool:
        j = job.data
        p, b = self.parent[j], self.barrier[j]
        return (p < 0 or self.ended[p]) and (b < 0 or self.stage_left[b] == 0)

    def decide(self, job: Job, index: int, now_s: float) -> bool:
        return True

    def end(self, job: Job, now_s: float, stopped: bool) -> None:
        j = job.data
        self.ended[j] = True
        self.stage_left[self.stage[j]] -= 1
