"""Replay of a vectorised strategy's plan (random, grid, asha, hyperband, ...) on the clock.

The jobs are one replicate of the shared job draw
(:func:`~tunecost.simulate._draw.draw_study`, the vectorised engine's own: the plan, each
trial's accelerator, durations or a calibration's costs, crashes and preemptions), so both
engines replay the same jobs. The engine runs them in queue order: a free worker takes the
next job and holds it, waiting, until its parent job and its barrier stage have ended: the
same list scheduling as the vectorised path, executed event by event, so the two engines can
be checked against each other, job draw for job draw.

Failures follow the draw: a ``CRASHED`` job runs its crash length and ends its trial; the
trial's later jobs are ``SKIPPED``: they never take a worker and count as ended once their
own dependencies have (when the vectorised scheduler ends them too); a preempted job's
duration includes its lost work and restarts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from tunecost.simulate._draw import SKIPPED, STATE_NAMES, draw_study
from tunecost.simulate._resolve import ResolvedStudy
from tunecost.simulate.events._job import Job, Policy, _Wait
from tunecost.simulate.events.registry import StudyContext, register_policy
from tunecost.strategies import STRATEGIES
from tunecost.units import S_PER_H

__all__ = ["PlanPolicy"]


@register_policy(*STRATEGIES)
class PlanPolicy(Policy):
    """Hands out one replicate of a study's job draw in queue order.

    Registered for every kind of :data:`tunecost.strategies.STRATEGIES` (a strategy with a
    plan).

    Args:
        study: the resolved study (strategy, duration model or calibration, power, failures).
        rng: the only source of randomness: one replicate of
            :func:`~tunecost.simulate._draw.draw_study` is drawn from it, so a replicate's
            stream gives the vectorised engine's jobs for a chunk of one replicate on the
            same stream.
    """

    models_failures: ClassVar[bool] = True
    examples: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "single_run": {"kind": "single_run"},
        "grid": {"kind": "grid", "space": {"lr": [0.1, 0.01, 0.001], "layers": [2, 4]}},
        "random": {"kind": "random", "n_trials": 12, "batch_size": 4},
        "bayesian": {"kind": "bayesian", "n_trials": 10, "n_startup": 4, "batch_size": 3},
        "successive_halving": {"kind": "successive_halving", "n_trials": 27,
                               "min_fidelity": 1 / 9, "eta": 3},
        "asha": {"kind": "asha", "n_trials": 27, "min_fidelity": 1 / 9, "eta": 3},
        "hyperband": {"kind": "hyperband", "min_fidelity": 1 / 9, "eta": 3},
        "median_pruning": {"kind": "median_pruning", "n_trials": 12, "n_evaluations": 4,
                           "stop_fraction": 0.3},
        "nas": {"kind": "nas", "n_children": 12, "child_fidelity": 0.25},
    }

    def __init__(self, study: ResolvedStudy, *, rng: np.random.Generator) -> None:
        d = draw_study(study, 1, rng=rng)
        plan = d["plan"]
        self.duration_s = (d["duration_h"][0] * S_PER_H).tolist()
        self.busy_kw = d["busy_kw"][0].tolist()
        self.state = d["state"][0].tolist()
        self.acc = d["acc"][0].tolist()
        self.preemptions = d["preemptions"][0].tolist()
        self.reached = plan.reached[0].tolist()
        self.stopped = plan.stopped[0].tolist()
        self.trial = plan.trial.tolist()
        self.parent = plan.parent.tolist()
        self.barrier = plan.barrier.tolist()
        self.stage = plan.stage.tolist()
        self.labels = plan.config
        self.n_jobs = plan.n_jobs
        self._n_trials = plan.n_trials
        self.stage_left = (np.bincount(plan.stage, minlength=int(plan.stage.max()) + 1).tolist()
                           if plan.n_jobs else [])
        self.ended = [False] * plan.n_jobs
        self.skipped: list[int] = []  # SKIPPED jobs reached in the queue, not yet ended
        self.next = 0
        self.idle_kw = float(study.idle_kw @ study.shares)

    @classmethod
    def from_study(cls, study: StudyContext, *, rng: np.random.Generator) -> PlanPolicy:
        return cls(study.study, rng=rng)

    @property
    def n_trials(self) -> int:
        """The plan's trials: each starts with a job that runs (only later ones skip)."""
        return self._n_trials

    def next_job(self, now_s: float) -> Job | _Wait | None:
        while self.next < self.n_jobs:
            j = self.next
            self.next += 1
            if self.state[j] == SKIPPED:
                self.skipped.append(j)
                self._settle()
                continue
            state = STATE_NAMES[self.state[j]]
            return Job(trial=self.trial[j], duration_s=self.duration_s[j], checkpoints_s=[],
                       reached=[self.reached[j]], busy_kw=self.busy_kw[j], label=self.labels[j],
                       data=j, early=self.stopped[j],
                       state="CRASHED" if state == "CRASHED" else "",
                       accelerator=self.acc[j], preemptions=self.preemptions[j])
        return None

    def _ready(self, j: int) -> bool:
        p, b = self.parent[j], self.barrier[j]
        return (p < 0 or self.ended[p]) and (b < 0 or self.stage_left[b] == 0)

    def ready(self, job: Job) -> bool:
        return self._ready(job.data)

    def _ended(self, j: int) -> None:
        self.ended[j] = True
        self.stage_left[self.stage[j]] -= 1

    def _settle(self) -> None:
        """End every skipped job whose dependencies have ended (in the vectorised schedule
        it ends then, taking no slot), until none is left that can."""
        progress = True
        while progress and self.skipped:
            progress = False
            for j in list(self.skipped):
                if self._ready(j):
                    self.skipped.remove(j)
                    self._ended(j)
                    progress = True

    def end(self, job: Job, now_s: float, stopped: bool) -> None:
        self._ended(job.data)
        if self.skipped:
            self._settle()
