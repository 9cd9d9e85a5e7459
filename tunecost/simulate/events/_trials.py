"""A bank of surrogate trials drawn up front, and the jobs cut from them."""

from __future__ import annotations

import math

import numpy as np

from tunecost.exceptions import ConfigError
from tunecost.simulate.events._job import Job, between_trials_kw, mean_kw
from tunecost.simulate.events.surrogate import Draws, Surrogate

__all__ = ["TrialBank"]


class TrialBank:
    """``n`` trials' configurations, costs and learning curves, drawn at once (vectorised).

    A trial reports ``K`` times (Ray Tune's ``training_iteration`` 1..K), at the surrogate's
    report steps; iteration ``k`` is reached at the surrogate's report time ``t_k``. A job
    resumed from a checkpoint at iteration ``a`` pays the set-up again (process start,
    checkpoint load) and then ``t_k − t_a`` to each later iteration; every job also pays the
    trial's framework overhead before it starts.

    Args:
        surrogate: the surrogate objective.
        n: trials.
        host_kw: busy power by accelerator, kW, shape (n_acc,): the host share with a
            calibration (which adds the trial's accelerator power), else the whole trial's.
        shares: accelerator shares, shape (n_acc,).
        idle_kw: power of a slot between trials (the overhead's), kW; NaN: the host share.
        rng: the only source of randomness.

    Raises:
        ConfigError: the trials would report different numbers of times (a searched budget),
            which iteration-counting schedulers cannot compare.
    """

    def __init__(self, surrogate: Surrogate, n: int, *, host_kw: np.ndarray,
                 shares: np.ndarray, idle_kw: float = math.nan,
                 rng: np.random.Generator) -> None:
        self.surrogate = surrogate
        acc = (np.zeros(n, dtype=np.int64) if len(shares) == 1
               else rng.choice(len(shares), size=n, p=shares))
        self.params = surrogate.sample_params(n, rng=rng)
        d = surrogate.draw(self.params, n, rng=rng, numbers=range(n))
        self.acc = acc
        self.host_kw = host_kw
        self.idle_kw = idle_kw
        counts = {len(s) for s in d.steps}
        if len(counts) != 1:
            raise ConfigError("a Ray Tune replay needs every trial to report the same number "
                              f"of times, but the budgets give {sorted(counts)} reports")
        self.K = counts.pop()
        self.times_s: list[list[float]] = [[] for _ in range(n)]
        self.energy_j: list[list[float]] = [[] for _ in range(n)]
        self.fraction: list[list[float]] = [[] for _ in range(n)]
        self.values = np.empty((n, self.K))
        self.values_list: list[list[float]] = [[] for _ in range(n)]
        self.overhead_s = [0.0] * n
        self.setup_s = [0.0] * n
        self.setup_j = [0.0] * n
        self._set(range(n), d)

    def _set(self, trials: range | list[int], d: Draws) -> None:
        for j, t in enumerate(trials):
            times, energy = d.times_s[j], d.energy_j[j]
            self.times_s[t] = times.tolist()
            # Energy without a calibration is the power model's: the host share covers all.
            self.energy_j[t] = np.nan_to_num(energy).tolist()
            self.fraction[t] = (d.steps[j] / d.steps[j][-1]).tolist()
            self.values[t] = d.values[j]
            self.values_list[t] = d.values[j].tolist()  # plain floats: read one at a time
            self.overhead_s[t] = float(d.overhead_s[j])
            self.setup_s[t] = float(d.setup_s[j])
            self.setup_j[t] = float(np.nan_to_num(d.setup_j[j]))

    def job(self, trial: int, start_iter: int, end_iter: int, decisions: list[int],
            label: str, data: object = None) -> Job:
        """A job training ``trial`` from iteration ``start_iter`` to ``end_iter``.

        Args:
            decisions: iterations in ``(start_iter, end_iter]`` where the policy decides.
        """
        times, energy = self.times_s[trial], self.energy_j[trial]
        host = float(self.host_kw[self.acc[trial]])
        if start_iter == 0:
            base_s = base_j = t_a = e_a = 0.0
        else:
            base_s, base_j = self.setup_s[trial], self.setup_j[trial]
            t_a, e_a = times[start_iter - 1], energy[start_iter - 1]
        marks = [*decisions, end_iter]
        offsets = [base_s + times[k - 1] - t_a for k in marks]
        kw_at = mean_kw(offsets, [base_j + energy[k - 1] - e_a for k in marks], host)
        fr = self.fraction[trial]
        return Job(
            trial=trial,
            duration_s=offsets[-1],
            checkpoints_s=offsets[:-1],
            reached=[fr[k - 1] for k in marks],
            busy_kw=kw_at[-1],
            label=label,
            data=data,
            busy_kw_at=kw_at,
            overhead_s=self.overhead_s[trial],
            overhead_kw=between_trials_kw(host, self.idle_kw),
        )

    def replace(self, trial: int, params: dict[str, np.ndarray], *,
                rng: np.random.Generator) -> None:
        """Give ``trial`` new hyperparameters (PBT's explore): new cost and curve draws."""
        d = self.surrogate.draw(params, 1, rng=rng, numbers=[trial])
        if len(d.steps[0]) != self.K:
            raise ConfigError(f"PBT's new configuration reports {len(d.steps[0])} times, not "
                              f"{self.K}: the budget must not be a searched hyperparameter")
        if self.params is not None:
            for k, v in params.items():
                self.params[k][trial] = v[0]
        overhead = self.overhead_s[trial]
        self._set([trial], d)
        self.overhead_s[trial] = overhead  # the same framework, the same start-up
