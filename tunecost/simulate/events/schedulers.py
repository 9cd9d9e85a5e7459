"""Ray Tune's trial schedulers, re-implemented as replay policies on the simulated clock.

Why not drive ``ray.tune.schedulers`` itself: its classes are written against live Tune
objects. ``HyperBandScheduler`` stops and unpauses trials through
``tune_controller.stop_trial`` and reads ``trial.status`` (PAUSED, PENDING, RUNNING);
``choose_trial_to_run`` picks among Trial objects; ``MedianStoppingRule`` asks
``tune_controller.get_live_trials()``. Driving them would mean faking the controller and the
Trial life cycle inside the product, i.e. a mock of Ray's internals that breaks when those move.
``AsyncHyperBandScheduler`` needs only ``trial.trial_id``, but draws each trial's bracket from
the *global* ``np.random`` (against explicit randomness), and ``import ray.tune`` costs about 2 s
and 240 MB per process while Ray is an optional extra. So these are our implementations of the
same rules, line for line where it matters (the rung milestones and the
``1 - 1/reduction_factor`` percentile cutoff of ASHA; HyperBand's bracket sizes ``n0``,
``r0``, ``ceil(n/eta)`` halving and completion-ordered choice of the next trial; the median
rule's running means), checked against real Ray Tune runs in ``tests/replay``: the same
reported curves stop the same trials at the same iterations.

All use ``time_attr="training_iteration"``: iteration ``k`` is the trial's ``k``-th report,
at the step its report schedule gives (a trainable reporting every epoch: iteration = epoch),
so ``grace_period`` and ``max_t`` are in the iterations the real trainable counts.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from tunecost.calibrate.space import mask_inactive
from tunecost.exceptions import ConfigError
from tunecost.simulate._resolve import ResolvedStudy
from tunecost.simulate.events._job import WAIT, Job, Policy, _Wait
from tunecost.simulate.events._trials import TrialBank
from tunecost.simulate.events.registry import StudyContext, register_policy
from tunecost.simulate.events.surrogate import Surrogate, surrogate_for

__all__ = ["ASHAPolicy", "HyperBandPolicy", "MedianStoppingPolicy", "PBTPolicy", "percentile"]


def percentile(sorted_values: list[float], q: float) -> float:
    """``np.percentile(values, q)`` (linear interpolation) of an already sorted list."""
    idx = q / 100.0 * (len(sorted_values) - 1)
    lo = math.floor(idx)
    hi = min(lo + 1, len(sorted_values) - 1)
    a, b = sorted_values[lo], sorted_values[hi]
    t = idx - lo
    # numpy's _lerp: the same expression, so ties at the cutoff break the same way.
    return b - (b - a) * (1.0 - t) if t >= 0.5 else a + (b - a) * t


class _Base(Policy):
    """Shared state: the trial bank, the next new trial, the power of a waiting slot; and
    how a scheduler builds itself from a ``ray_tune`` study (the surrogate prepared once per
    run, then per replicate a trial bank drawn from it and the scheduler's own settings).

    ``n_trials`` (the argument) is the trials' budget (``num_samples``); the property
    :attr:`n_trials` counts those started so far.
    """

    def __init__(self, bank: TrialBank, n_trials: int, *, idle_kw: float,
                 mode_sign: float) -> None:
        self.bank = bank
        self.budget = n_trials
        self.idle_kw = idle_kw
        self.next_trial = 0
        # Ray's metric_op: reward = op * value, larger is better (op = -1 when minimising).
        self.op = -mode_sign

    @property
    def n_trials(self) -> int:
        return self.next_trial

    @classmethod
    def prepare(cls, study: ResolvedStudy) -> Surrogate:
        return surrogate_for(study, study.strategy)

    @classmethod
    def from_study(cls, study: StudyContext, *, rng: np.random.Generator) -> _Base:
        s, sur = study.strategy, study.prepared
        bank_rng, sched_rng = rng.spawn(2)
        bank = TrialBank(sur, s.n_trials, host_kw=study.study.busy_kw, shares=study.study.shares,
                         idle_kw=study.idle_kw, rng=bank_rng)
        policy = cls._configured(bank, s.n_trials, s.scheduler, idle_kw=study.idle_kw,
                                 mode_sign=sur.sign, rng=sched_rng)
        if study.continuation is not None:
            policy.continue_from(study.continuation.curves, rng=sched_rng)
        return policy

    def continue_from(self, curves: Any, *, rng: np.random.Generator) -> None:
        """Take the real experiment's finished trials' reported values (each a list, in
        report order) as the scheduler's history; a scheduler that keeps none ignores them
        (``continues`` is false, so the registry refuses a continuation first)."""

    @classmethod
    def _configured(cls, bank: TrialBank, n_trials: int, sc: Any, *, idle_kw: float,
                    mode_sign: float, rng: np.random.Generator) -> _Base:
        """The scheduler from its config ``sc`` (each class maps its own settings)."""
        raise NotImplementedError


@register_policy("ray_tune/asha")
class ASHAPolicy(_Base):
    """``AsyncHyperBandScheduler`` (stop-based ASHA; ``stop_last_trials=True``).

    Bracket ``s`` has rungs at ``grace_period · rf**(k + s)`` for
    ``k < int(log(max_t / grace_period) / log(rf) - s + 1)``. A trial reaching a rung is
    stopped when its reward is below the ``(1 - 1/rf)`` percentile of the rewards recorded
    there before it, then recorded. A trial stops at ``max_t`` (default: its last
    iteration). Trials never wait: a free worker starts the next trial.
    """

    examples: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "ray_tune/asha": {"kind": "ray_tune", "n_trials": 16, "n_evaluations": 9,
                         "scheduler": {"name": "asha", "reduction_factor": 3, "brackets": 2}}}

    def __init__(self, bank: TrialBank, n_trials: int, *, grace_period: int,
                 reduction_factor: float, brackets: int, idle_kw: float, mode_sign: float,
                 rng: np.random.Generator, max_t: int | None = None) -> None:
        super().__init__(bank, n_trials, idle_kw=idle_kw, mode_sign=mode_sign)
        self.rf = reduction_factor
        self.max_t = bank.K if max_t is None else max_t
        # Ray stops a trial at max_t; a trainable with fewer reports ends at its last one.
        self.stop_iter = min(bank.K, self.max_t)
        self.q = (1.0 - 1.0 / reduction_factor) * 100.0
        self.brackets = []
        for s in range(brackets):
            n_rungs = int(np.log(self.max_t / grace_period) / np.log(self.rf) - s + 1)
            miles = [grace_period * self.rf ** (k + s) for k in range(n_rungs)]
            # A result at iteration k reaches every milestone <= k; Ray records the first
            # unrecorded one, so the decision for milestone m falls at iteration ceil(m).
            iters = sorted({math.ceil(m) for m in miles if math.ceil(m) < self.stop_iter})
            self.brackets.append((iters, {it: [] for it in iters}))
        sizes = np.array([len(b[0]) for b in self.brackets], dtype=float)
        w = np.exp(sizes - sizes.max())
        self.choice = (np.zeros(n_trials, dtype=np.int64) if brackets == 1
                       else rng.choice(brackets, size=n_trials, p=w / w.sum()))

    @classmethod
    def _configured(cls, bank: TrialBank, n_trials: int, sc: Any, *, idle_kw: float,
                    mode_sign: float, rng: np.random.Generator) -> ASHAPolicy:
        return cls(bank, n_trials, grace_period=sc.grace_period,
                   reduction_factor=sc.reduction_factor, brackets=sc.brackets, max_t=sc.max_t,
                   idle_kw=idle_kw, mode_sign=mode_sign, rng=rng)

    continues: ClassVar[bool] = True

    def continue_from(self, curves: Any, *, rng: np.random.Generator) -> None:
        """Record each finished trial's rewards at the rungs it reached, as Ray did (in a
        bracket drawn as Ray draws one; the records do not say which): the remaining trials
        then meet the rung thresholds the real ones set."""
        sizes = np.array([len(b[0]) for b in self.brackets], dtype=float)
        w = np.exp(sizes - sizes.max())
        for values in curves:
            b = 0 if len(self.brackets) == 1 else int(rng.choice(len(self.brackets),
                                                                  p=w / w.sum()))
            iters, recorded = self.brackets[b]
            for it in iters:
                if it <= len(values):
                    bisect.insort(recorded[it], self.op * float(values[it - 1]))

    def next_job(self, now_s: float) -> Job | _Wait | None:
        t = self.next_trial
        if t >= self.budget:
            return None
        self.next_trial += 1
        b = int(self.choice[t])
        return self.bank.job(t, 0, self.stop_iter, self.brackets[b][0], f"trial {t}", b)

    def decide(self, job: Job, index: int, now_s: float) -> bool:
        iters, recorded = self.brackets[job.data]
        it = iters[index]
        reward = self.op * self.bank.values_list[job.trial][it - 1]
        rung = recorded[it]
        stop = bool(rung) and reward < percentile(rung, self.q)
        bisect.insort(rung, reward)
        return not stop


@register_policy("ray_tune/median_stopping")
class MedianStoppingPolicy(_Base):
    """``MedianStoppingRule`` with ``hard_stop=True`` and no pausing.

    At iteration ``k >= grace_period`` a trial stops when its best value so far is worse than
    the median, over the other trials that have reported iteration ``k``, of their mean value
    over iterations ``grace_period..k``; with fewer than ``min_samples_required`` such trials
    it continues (Ray would pause it to let others run when trials are pending; the replay
    keeps it running, which is Ray's behaviour with ``min_time_slice`` large).
    """

    examples: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "ray_tune/median_stopping": {
        "kind": "ray_tune", "n_trials": 12, "n_evaluations": 6,
        "scheduler": {"name": "median_stopping", "grace_period": 2}}}

    def __init__(self, bank: TrialBank, n_trials: int, *, grace_period: int,
                 min_samples_required: int, idle_kw: float, mode_sign: float) -> None:
        super().__init__(bank, n_trials, idle_kw=idle_kw, mode_sign=mode_sign)
        self.grace = grace_period
        self.min_samples = min_samples_required
        K = bank.K
        loss = mode_sign * bank.values  # minimised form
        self.loss = loss
        # cs[:, k] = sum of the first k losses: running means in O(1) per trial.
        self.cs = np.concatenate([np.zeros((loss.shape[0], 1)), np.cumsum(loss, axis=1)], axis=1)
        self.best = np.minimum.accumulate(loss, axis=1)
        self.last_iter = np.zeros(n_trials, dtype=np.int64)
        self.iters = list(range(grace_period, K + 1)) if grace_period <= K else []

    @classmethod
    def _configured(cls, bank: TrialBank, n_trials: int, sc: Any, *, idle_kw: float,
                    mode_sign: float, rng: np.random.Generator) -> MedianStoppingPolicy:
        return cls(bank, n_trials, grace_period=sc.grace_period,
                   min_samples_required=sc.min_samples_required, idle_kw=idle_kw,
                   mode_sign=mode_sign)

    def next_job(self, now_s: float) -> Job | _Wait | None:
        t = self.next_trial
        if t >= self.budget:
            return None
        self.next_trial += 1
        return self.bank.job(t, 0, self.bank.K, self.iters, f"trial {t}")

    def decide(self, job: Job, index: int, now_s: float) -> bool:
        t, k = job.trial, self.iters[index]
        self.last_iter[t] = k
        others = np.flatnonzero(self.last_iter >= k)
        others = others[others != t]
        if len(others) < self.min_samples:
            return True
        g = self.grace
        means = (self.cs[others, k] - self.cs[others, g - 1]) / (k - g + 1)
        return not float(np.median(means)) < float(self.best[t, k - 1])


class _Bracket:
    """One synchronous successive-halving bracket of Ray's HyperBandScheduler."""

    def __init__(self, n0: int, r0: int, max_t: int, eta: float, s: int) -> None:
        self.n = self.n0 = n0
        self.r = self.cumul_r = r0
        self.max_t = max_t
        self.eta = eta
        self.halves = s
        self.live: dict[int, int] = {}  # trial -> last iteration reported (0: pending)
        self.paused: set[int] = set()
        self.to_unpause: set[int] = set()
        self.progress = 0
        thresholds, r = [r0], r0
        for _ in range(s):
            r = int(min(r * eta, max_t))
            thresholds.append(r)
        self.thresholds = thresholds
        work, n, r, cum = 0, float(n0), float(r0), r0
        for _ in range(s + 1):
            work += int(n) * int(r)
            n = math.ceil(n / eta)
            r = int(min(r * eta, max_t - cum))
        self.total_work = work

    def filled(self) -> bool:
        return len(self.live) == self.n

    def done(self) -> bool:
        return all(v >= self.cumul_r for v in self.live.values())

    def completion(self) -> float:
        if self.halves == 0 and self.done():
            return 1.0
        return min(self.progress / self.total_work, 1.0) if self.total_work else 1.0


@register_policy("ray_tune/hyperband")
class HyperBandPolicy(_Base):
    """Ray's synchronous ``HyperBandScheduler`` (``stop_last_trials=True``).

    With ``s_max_1 = round(log(max_t)/log(eta)) + 1``, bracket ``s = 0, 1, ...`` of each band
    holds ``n0 = ceil(s_max_1/(s+1)·eta**s)`` trials started at ``r0 = int(max_t·eta**-s)``
    iterations (brackets with ``r0 = 0`` are skipped), filled in trial order. A trial that
    reaches its bracket's threshold pauses (leaving its worker) until every live trial of the
    bracket has; then the best ``n = ceil(n/eta)`` by their latest value go on to
    ``int(min(r·eta, max_t))`` and the rest stop. A free worker takes, band by band and
    bracket by bracket in order of completion, the first trial to resume or start; when
    there is none but a bracket is still running, it **waits** (idle power): the cost of
    synchronisation that ASHA avoids.
    """

    examples: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "ray_tune/hyperband": {"kind": "ray_tune", "n_trials": 20, "n_evaluations": 9,
                              "scheduler": {"name": "hyperband", "reduction_factor": 3}}}

    def __init__(self, bank: TrialBank, n_trials: int, *, reduction_factor: float,
                 idle_kw: float, mode_sign: float, max_t: int | None = None) -> None:
        super().__init__(bank, n_trials, idle_kw=idle_kw, mode_sign=mode_sign)
        self.eta = reduction_factor
        self.max_t = bank.K if max_t is None else max_t
        if self.max_t > bank.K:
            raise ConfigError(f"HyperBand's max_t must not exceed the iterations a trial "
                              f"reports ({bank.K}), but got max_t={self.max_t}")
        self.s_max_1 = int(np.round(np.log(self.max_t) / np.log(self.eta))) + 1
        self.bands: list[list[_Bracket | None]] = [[]]
        self.current: _Bracket | None = None
        self.bracket_of: dict[int, _Bracket] = {}
        self.n_live = 0

    @classmethod
    def _configured(cls, bank: TrialBank, n_trials: int, sc: Any, *, idle_kw: float,
                    mode_sign: float, rng: np.random.Generator) -> HyperBandPolicy:
        return cls(bank, n_trials, reduction_factor=sc.reduction_factor, max_t=sc.max_t,
                   idle_kw=idle_kw, mode_sign=mode_sign)

    def _add_trial(self) -> int:
        t = self.next_trial
        self.next_trial += 1
        if self.current is None or self.current.filled():
            while True:
                if len(self.bands[-1]) == self.s_max_1:
                    self.bands.append([])
                s = len(self.bands[-1])
                r0 = int(self.max_t * self.eta ** (-s))
                if r0 == 0:
                    self.bands[-1].append(None)  # Ray: "Bracket too small - Retrying..."
                    continue
                n0 = int(np.ceil(self.s_max_1 / (s + 1) * self.eta**s))
                self.current = _Bracket(n0, r0, self.max_t, self.eta, s)
                self.bands[-1].append(self.current)
                break
        self.current.live[t] = 0
        self.bracket_of[t] = self.current
        return t

    def _job(self, t: int) -> Job:
        b = self.bracket_of[t]
        a = b.live[t]
        decisions = [r for r in b.thresholds if r > a]
        self.n_live += 1
        return self.bank.job(t, a, decisions[-1], decisions, f"trial {t}", decisions)

    def next_job(self, now_s: float) -> Job | _Wait | None:
        for band in self.bands:
            for b in sorted((b for b in band if b is not None), key=_Bracket.completion):
                for t in b.live:
                    if t in b.to_unpause:
                        b.to_unpause.discard(t)
                        b.paused.discard(t)
                        return self._job(t)
        # New trials join brackets only when a worker asks (Ray keeps a few pending ahead;
        # which trials are promoted does not depend on it, only the order jobs start in).
        if self.next_trial < self.budget:
            return self._job(self._add_trial())
        return WAIT if self.n_live > 0 or self._resumable() else None

    def _resumable(self) -> bool:
        return any(b.to_unpause for band in self.bands for b in band if b is not None)

    def decide(self, job: Job, index: int, now_s: float) -> bool:
        t = job.trial
        b = self.bracket_of[t]
        it = job.data[index]
        b.progress += it - b.live[t]
        b.live[t] = it
        if it < b.cumul_r:
            return True
        go_on = self._process(b, t)
        job.paused = not go_on and t in b.paused
        return go_on

    def end(self, job: Job, now_s: float, stopped: bool) -> None:
        self.n_live -= 1

    def _process(self, b: _Bracket, current: int) -> bool:
        if not b.done():
            b.paused.add(current)
            return False
        if b.halves == 0:  # finished: every live trial has reached the last threshold
            b.live.clear()
            b.paused.clear()
            return False
        b.halves -= 1
        b.n = math.ceil(b.n / self.eta)
        b.r = int(min(b.r * self.eta, self.max_t))
        b.cumul_r = b.r
        vals = self.bank.values_list
        ranked = sorted(b.live, key=lambda u: self.op * vals[u][b.live[u] - 1])
        good, bad = ranked[-b.n:], ranked[:-b.n]
        go_on = False
        for u in bad:
            b.live.pop(u)
            b.paused.discard(u)
        for u in good:
            if b.live[u] < b.cumul_r:
                if u == current:
                    go_on = True
                else:
                    b.to_unpause.add(u)
        return go_on


@register_policy("ray_tune/pbt")
class PBTPolicy(_Base):
    """``PopulationBasedTraining`` (asynchronous), cost-wise.

    Every ``perturbation_interval`` iterations a trial reports; if it is in the bottom
    ``quantile_fraction`` of the population's latest values (Ray's quantiles: ``ceil(n·q)``
    trials, at most half), it stops, copies a random top-quantile trial's hyperparameters,
    perturbs them (each resampled with ``resample_probability``, else numeric ones scaled by
    1.2 or 0.8 and clipped to the space), and resumes from the copied checkpoint in a new job
    (paying the restart overhead) with the new configuration's cost and learning curve from
    the same iteration on. No trial is ever stopped for good: PBT's cost is every trial to
    ``max_t`` plus the restarts.
    """

    examples: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "ray_tune/pbt": {"kind": "ray_tune", "n_trials": 8, "n_evaluations": 8,
                        "scheduler": {"name": "pbt", "perturbation_interval": 2}}}

    def __init__(self, bank: TrialBank, n_trials: int, *, perturbation_interval: int,
                 quantile_fraction: float, resample_probability: float, idle_kw: float,
                 mode_sign: float, rng: np.random.Generator) -> None:
        super().__init__(bank, n_trials, idle_kw=idle_kw, mode_sign=mode_sign)
        self.interval = perturbation_interval
        self.qf = quantile_fraction
        self.p_resample = resample_probability
        self.rng = rng
        self.K = bank.K
        self.last: dict[int, float] = {}  # trial -> latest reward
        self.resume: list[int] = []  # trials waiting to resume after an exploit
        self.at: dict[int, int] = {}  # trial -> iteration it resumes from
        self.n_live = 0

    @classmethod
    def _configured(cls, bank: TrialBank, n_trials: int, sc: Any, *, idle_kw: float,
                    mode_sign: float, rng: np.random.Generator) -> PBTPolicy:
        return cls(bank, n_trials, perturbation_interval=sc.perturbation_interval,
                   quantile_fraction=sc.quantile_fraction,
                   resample_probability=sc.resample_probability, idle_kw=idle_kw,
                   mode_sign=mode_sign, rng=rng)

    def _job(self, t: int, a: int) -> Job:
        decisions = [k for k in range(a + self.interval - a % self.interval, self.K,
                                      self.interval) if k > a]
        self.n_live += 1
        return self.bank.job(t, a, self.K, decisions, f"trial {t}", decisions)

    def next_job(self, now_s: float) -> Job | _Wait | None:
        if self.resume:
            t = self.resume.pop(0)
            return self._job(t, self.at[t])
        if self.next_trial < self.budget:
            self.next_trial += 1
            return self._job(self.next_trial - 1, 0)
        return WAIT if self.n_live > 0 else None

    def decide(self, job: Job, index: int, now_s: float) -> bool:
        t = job.trial
        k = job.data[index]
        self.last[t] = self.op * self.bank.values_list[t][k - 1]
        if len(self.last) <= 1:
            return True
        ranked = sorted(self.last, key=self.last.__getitem__)
        m = math.ceil(len(ranked) * self.qf)
        if m > len(ranked) / 2:
            m = math.floor(len(ranked) / 2)
        if m == 0 or t not in ranked[:m]:
            return True
        donor = ranked[-m:][int(self.rng.integers(m))]
        self._explore(t, donor)
        self.at[t] = k
        self.resume.append(t)
        return False

    def end(self, job: Job, now_s: float, stopped: bool) -> None:
        self.n_live -= 1

    def _explore(self, t: int, donor: int) -> None:
        bank = self.bank
        cal = bank.surrogate.calibration
        if cal is None or bank.params is None:
            # No hyperparameters to copy: the trial takes a fresh draw of cost and curve.
            d = bank.surrogate.draw(None, 1, rng=self.rng)
            bank.values[t] = d.values[0]
            bank.values_list[t] = d.values[0].tolist()
            return
        new = {}
        for name, dim in bank.surrogate.space.items():
            v = bank.params[name][donor]
            inactive = v is None or (isinstance(v, float) and math.isnan(v))
            # An inactive donor value (a branch the donor did not take) is drawn afresh; the
            # mask below clears it again where the new configuration's branch leaves it out.
            if dim.type == "categorical" or inactive or self.rng.random() < self.p_resample:
                v = dim.sample((1,), self.rng)[0]
            else:
                v = float(v) * (1.2 if self.rng.random() < 0.5 else 0.8)
                v = min(max(v, float(dim.low)), float(dim.high))  # type: ignore[arg-type]
                if dim.type == "int":
                    v = int(round(v))
            new[name] = np.asarray([v])
        bank.replace(t, mask_inactive(bank.surrogate.space, new), rng=self.rng)
