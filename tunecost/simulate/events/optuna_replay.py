"""A real Optuna study asked and told on the simulated clock.

Each trial is ``study.ask`` -ed when a worker frees; the surrogate objective turns its
hyperparameters into a duration, a power, report steps and a learning curve; after the
framework's per-trial overhead the engine delivers the curve's values at their simulated
times through ``trial.report(value, step)``, with ``step`` in the real objective's units
(epochs, iterations: the report schedule's), and ``trial.should_prune`` (so a pruner compares
against exactly the trials that had reported by then, including other workers' running ones,
at the same step numbers as in the real study), and the trial is told ``PRUNED`` or its final
value. Trials run concurrently on the pool's workers, as with ``n_jobs`` workers sharing one
storage: the sampler sees the running trials as RUNNING.

Storage is in memory and Optuna's logging is set to WARNING: per-replicate overhead is one
``create_study``. The study's name is drawn from the replicate's stream, so a pruner that
hashes it (``HyperbandPruner`` assigns brackets by ``crc32(name + number)``) gives the same
result for the same seed.

A :class:`~tunecost.simulate.events._job.Continuation` continues a real study instead (the
live forecast, :func:`tunecost.forecast`): each replicate's study takes the real study's
name, a copy of its sampler (reseeded from the replicate's stream) and pruner, and is told
its finished trials before the first ask, so the sampler proposes from the real history and
the pruner compares against the real curves; the trials running in the real study run
first.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from tunecost.calibrate.space import ParamSpace
from tunecost.exceptions import ConfigError
from tunecost.simulate._resolve import ResolvedStudy
from tunecost.simulate.events._fast_tpe import fast_log_ndtr
from tunecost.simulate.events._job import (
    Continuation,
    Job,
    Policy,
    _Wait,
    between_trials_kw,
    mean_kw,
)
from tunecost.simulate.events.registry import StudyContext, register_policy
from tunecost.simulate.events.surrogate import Surrogate, surrogate_for
from tunecost.strategies.optuna_search import OptunaSearch
from tunecost.units import W_PER_KW

__all__ = ["OptunaPolicy", "distributions", "reseeded"]


def reseeded(sampler: Any, seed: int) -> Any:
    """A deep copy of an Optuna sampler with every random state in it seeded from ``seed``.

    Optuna's samplers keep their randomness in ``LazyRandomState`` or numpy ``RandomState``
    attributes, some in nested samplers (TPE's random start-up sampler, CMA-ES's
    independent one); ``reseed_rng`` would draw from the OS, so a forecast would not
    repeat. Each random state found (two levels of nested samplers deep) gets its own seed.
    Search-space caches bound to the real study (``IntersectionSearchSpace`` keeps its
    study's id) start empty, for the replicate's own study.
    """
    from optuna.samplers import BaseSampler
    from optuna.samplers._lazy_random_state import LazyRandomState

    out = copy.deepcopy(sampler)
    count = [0]

    def walk(obj: Any, depth: int) -> None:
        for value in vars(obj).values():
            if isinstance(value, LazyRandomState):
                value.rng.seed((seed + 7919 * count[0]) % 2**32)
                count[0] += 1
            elif isinstance(value, np.random.RandomState):  # noqa: TID251 (Optuna's own)
                value.seed((seed + 7919 * count[0]) % 2**32)
                count[0] += 1
            elif isinstance(value, BaseSampler) and depth < 2:
                walk(value, depth + 1)
            elif hasattr(value, "_study_id") and hasattr(value, "_include_pruned"):
                value.__init__(include_pruned=value._include_pruned)

    walk(out, 0)
    return out


def distributions(space: dict[str, ParamSpace]) -> dict[str, Any]:
    """Optuna distributions of a calibration's search space.

    Without a space (no calibration) one dummy parameter ``x`` uniform on [0, 1] is asked,
    so every sampler has something to suggest.
    """
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    out: dict[str, Any] = {}
    for name, dim in space.items():
        if dim.type == "categorical":
            out[name] = CategoricalDistribution(list(dim.choices or []))
        elif dim.type == "int":
            out[name] = IntDistribution(int(dim.low or 0), int(dim.high or 0), log=dim.log,
                                        step=1 if dim.log else (dim.step or 1))
        else:
            out[name] = FloatDistribution(float(dim.low or 0.0), float(dim.high or 0.0),
                                          log=dim.log)
    return out or {"x": FloatDistribution(0.0, 1.0)}


@register_policy("optuna")
class OptunaPolicy(Policy):
    """One replicate of an Optuna study as a replay policy.

    The surrogate is prepared once per run (:meth:`prepare`); each replicate creates its own
    in-memory study, sampler and pruner. With the sampler's ``fast_log_ndtr``, every
    ``study.ask`` runs under :func:`~tunecost.simulate.events._fast_tpe.fast_log_ndtr`.

    Args:
        search: sampler, pruner, trial and evaluation counts.
        surrogate: the surrogate objective.
        host_kw: busy power besides the calibrated accelerator power, kW.
        idle_kw: power of a waiting slot, kW.
        rng: the only source of randomness; the sampler's seed is drawn from it.
    """

    examples: ClassVar[Mapping[str, Mapping[str, Any]]] = {"optuna": {
        "kind": "optuna", "n_trials": 12, "n_evaluations": 4,
        "sampler": {"name": "TPESampler", "kwargs": {"n_startup_trials": 4}},
        "pruner": {"name": "MedianPruner", "kwargs": {"n_startup_trials": 2}}}}

    continues: ClassVar[bool] = True

    def __init__(self, search: OptunaSearch, surrogate: Surrogate, *, host_kw: float,
                 idle_kw: float, rng: np.random.Generator,
                 continuation: Continuation | None = None) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._optuna = optuna
        self._pruned = optuna.trial.TrialState.PRUNED
        search.check_extras()
        name = f"tunecost-replay-{int(rng.integers(2**62)):x}"
        seed = int(rng.integers(2**31))
        # Without the real sampler (a study given as records) there is nothing to continue:
        # the records calibrated the replay, which starts a new study.
        cont = continuation if continuation is not None and continuation.sampler is not None \
            else None
        self.study = optuna.create_study(
            study_name=name if cont is None else cont.study_name,
            direction=surrogate.direction,
            sampler=search.make_sampler(seed=seed) if cont is None
            else reseeded(cont.sampler, seed),
            pruner=search.make_pruner() if cont is None else copy.deepcopy(cont.pruner),
        )
        self.search = search
        self.surrogate = surrogate
        self.dists = distributions(dict(surrogate.space))
        self.horizon: int | None = None
        self.proposals: list[dict[str, Any]] = []
        if cont is not None:
            self.study.add_trials(cont.trials)
            for params in cont.running:
                self.study.enqueue_trial(dict(params), skip_if_exists=False)
            if cont.distributions is not None and not any(
                    d.condition is not None for d in surrogate.space.values()):
                self.dists = dict(cont.distributions)
            self.horizon = cont.horizon
            self._repeat_seed = int(rng.integers(2**31))
        self.with_params = surrogate.calibration is not None
        self.host_kw = host_kw
        self.idle_kw = idle_kw
        self.overhead_kw = between_trials_kw(host_kw, idle_kw)
        self.rng = rng
        self.asked = 0
        self.stopped = False  # GridSampler exhausted its grid
        self.fast = search.sampler.fast_log_ndtr

    @classmethod
    def prepare(cls, study: ResolvedStudy) -> Surrogate:
        """Check the sampler's extra and the hardware, then fit the surrogate (once)."""
        search = study.strategy
        assert isinstance(search, OptunaSearch)
        search.check_extras()
        if len(study.accelerators) != 1:
            raise ConfigError(f"study {study.name!r}: the Optuna replay needs one "
                              f"accelerator model, but got a mix {study.accelerators}")
        return surrogate_for(study, search)

    @classmethod
    def from_study(cls, study: StudyContext, *, rng: np.random.Generator) -> OptunaPolicy:
        return cls(study.strategy, study.prepared, host_kw=float(study.study.busy_kw[0]),
                   idle_kw=study.idle_kw, rng=rng, continuation=study.continuation)

    @property
    def n_trials(self) -> int:
        return self.asked

    def next_job(self, now_s: float) -> Job | _Wait | None:
        if self.asked >= self.search.n_trials or self.stopped:
            return None
        number = self.asked
        fixed = self.surrogate.recorded_params(number)
        if fixed is None and self.horizon is not None and number >= self.horizon:
            fixed = self._repeat()
        if fixed is not None:
            self.study.enqueue_trial(fixed, skip_if_exists=False)
        with fast_log_ndtr(self.fast):
            trial = self.surrogate.ask(self.study, self.dists)
        self.asked += 1
        if self.horizon is not None and number < self.horizon:
            self.proposals.append(dict(trial.params))
        params = ({k: np.asarray([v]) for k, v in trial.params.items()}
                  if self.with_params else None)
        d = self.surrogate.draw(params, 1, rng=self.rng, numbers=[number])
        times = d.times_s[0]
        steps = [_int_step(s) for s in self.surrogate.schedule.reported(d.steps[0])]
        kw_at = mean_kw(times.tolist(), np.nan_to_num(d.energy_j[0]).tolist(), self.host_kw)
        busy_kw = self.host_kw + float(np.nan_to_num(d.accel_w[0])) / W_PER_KW
        return Job(trial=number, duration_s=float(d.duration_s[0]),
                   # The last report is at the trial's end exactly.
                   checkpoints_s=times.tolist(),
                   reached=[*(d.steps[0] / d.steps[0][-1]).tolist(), 1.0], busy_kw=busy_kw,
                   label=f"trial {number}", data=(trial, d.values[0].tolist(), steps),
                   busy_kw_at=[*kw_at, busy_kw], overhead_s=float(d.overhead_s[0]),
                   overhead_kw=self.overhead_kw)

    def _repeat(self) -> dict[str, Any]:
        """Past the horizon: one of this replicate's own proposals (else a real trial's), and
        from now on a random sampler, which asks nothing of the history for fixed
        parameters."""
        if self.asked == self.horizon:
            self.study.sampler = self._optuna.samplers.RandomSampler(seed=self._repeat_seed)
        pool = self.proposals or [dict(t.params) for t in self.study.get_trials(deepcopy=False)
                                  if t.params]
        if not pool:
            raise ConfigError("a forecast with horizon 0 needs finished trials to repeat")
        return dict(pool[int(self.rng.integers(len(pool)))])

    def decide(self, job: Job, index: int, now_s: float) -> bool:
        trial, values, steps = job.data
        trial.report(values[index], steps[index])
        if trial.should_prune():
            self._tell(trial, state=self._pruned)
            return False
        return True

    def end(self, job: Job, now_s: float, stopped: bool) -> None:
        if not stopped:
            trial, values, _ = job.data
            self._tell(trial, values[-1])

    def _tell(self, trial: Any, value: float | None = None, state: Any = None) -> None:
        try:
            self.study.tell(trial, value, state=state)
        except RuntimeError as exc:
            # GridSampler calls study.stop() once its grid is used up; outside optimize()
            # that raises after the trial is stored. Stop asking, as optimize() would.
            if "Study.stop" not in str(exc):
                raise
            self.stopped = True


def _int_step(step: float) -> int:
    """Optuna's ``trial.report`` takes integer steps."""
    if not float(step).is_integer():
        raise ConfigError(f"Optuna reports at integer steps, but the report schedule gives "
                          f"step {step:g}; use integer every/count/steps")
    return int(step)
