"""A bank of surrogate trials drawn up front, and the jobs cut from them."""

from __future__ import annotations

import numpy as np

from tunecost.replay._job import Job
from tunecost.replay.surrogate import Surrogate
from tunecost.units import W_PER_KW

__all__ = ["TrialBank"]


class TrialBank:
    """``n`` trials' configurations, costs and learning curves, drawn at once (vectorised).

    Iteration ``k`` of ``K`` of a trial is reached ``o + (D - o)·k/K`` after it starts from
    scratch; a job resumed from a checkpoint at iteration ``a`` pays the overhead ``o`` again
    (process start, checkpoint load) and then ``(D - o)/K`` per iteration.

    Args:
        surrogate: the surrogate objective.
        n: trials.
        host_kw: busy power by accelerator, kW, shape (n_acc,): the host share with a
            calibration (which adds the trial's accelerator power), else the whole trial's.
        shares: accelerator shares, shape (n_acc,).
        rng: the only source of randomness.
    """

    def __init__(self, surrogate: Surrogate, n: int, *, host_kw: np.ndarray,
                 shares: np.ndarray, rng: np.random.Generator) -> None:
        self.surrogate = surrogate
        self.K = surrogate.n_evaluations
        acc = (np.zeros(n, dtype=np.int64) if len(shares) == 1
               else rng.choice(len(shares), size=n, p=shares))
        self.params = surrogate.sample_params(n, rng=rng)
        d = surrogate.draw(self.params, n, rng=rng)
        self.acc = acc
        self.host_kw = host_kw
        self.duration_s = d.duration_s.tolist()
        self.overhead_s = d.overhead_s.tolist()
        self.busy_kw = (host_kw[acc] + np.nan_to_num(d.accel_w) / W_PER_KW).tolist()
        self.values = d.values
        # Plain Python floats: the event loop reads them one at a time.
        self.values_list = d.values.tolist()

    def job(self, trial: int, start_iter: int, end_iter: int, decisions: list[int],
            label: str, data: object = None) -> Job:
        """A job training ``trial`` from iteration ``start_iter`` to ``end_iter``.

        Args:
            decisions: iterations in ``(start_iter, end_iter]`` where the policy decides.
        """
        D, o, K = self.duration_s[trial], self.overhead_s[trial], self.K
        # Every job pays the overhead, a resumed one too: it restarts its process and loads
        # the checkpoint before training goes on.
        step = (D - o) / K
        return Job(
            trial=trial,
            duration_s=o + step * (end_iter - start_iter),
            checkpoints_s=[o + step * (k - start_iter) for k in decisions],
            reached=[k / K for k in decisions] + [end_iter / K],
            busy_kw=self.busy_kw[trial],
            label=label,
            data=data,
        )

    def replace(self, trial: int, params: dict[str, np.ndarray], *,
                rng: np.random.Generator) -> None:
        """Give ``trial`` new hyperparameters (PBT's explore): new cost and curve draws."""
        d = self.surrogate.draw(params, 1, rng=rng)
        assert self.params is not None
        for k, v in params.items():
            self.params[k][trial] = v[0]
        self.duration_s[trial] = float(d.duration_s[0])
        self.overhead_s[trial] = float(d.overhead_s[0])
        self.busy_kw[trial] = float(self.host_kw[self.acc[trial]]
                                    + np.nan_to_num(d.accel_w[0]) / W_PER_KW)
        self.values[trial] = d.values[0]
        self.values_list[trial] = d.values[0].tolist()
