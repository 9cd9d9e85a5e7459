"""What the engine and a search policy exchange: jobs, and the policy protocol."""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np

from tunecost.units import W_PER_KW

if TYPE_CHECKING:
    from tunecost.simulate._resolve import ResolvedStudy

__all__ = ["WAIT", "Continuation", "Job", "Policy", "StudyContext", "between_trials_kw",
           "mean_kw"]


class _Wait:
    """Sentinel: no job now, but one may come when running jobs report (a barrier)."""

    def __repr__(self) -> str:
        return "WAIT"


WAIT = _Wait()


@dataclass(slots=True, eq=False)
class Job:
    """One contiguous piece of training of one trial on one worker.

    Attributes:
        trial: trial index within its study instance.
        duration_s: running time if never stopped, s.
        checkpoints_s: offsets from the job's start, s, ascending, at which the policy
            decides whether the job goes on (``Policy.decide``); may be empty.
        reached: fidelity reached at each checkpoint, and at the end (one more entry).
        busy_kw: IT power while running (accelerators + host share), kW, before PUE.
        label: ledger label.
        data: the policy's own (an Optuna trial, a rung index, ...).
        instance: study instance index, set by the engine.
        paused: set by the policy when it stops the job to resume the trial later.
        early: the plan ends the trial with this job below full fidelity (a pruned or
            unpromoted trial of a vectorised strategy's plan).
        busy_kw_at: mean IT power from the job's start to each checkpoint and to its end
            (``len(checkpoints_s) + 1`` entries), kW, so a job stopped early is charged the
            energy it used to that point (set-up draws less than training); ``None``:
            ``busy_kw`` throughout.
        overhead_s: framework time on the worker before the job starts (sampler, storage,
            trial start-up), s.
        overhead_kw: IT power during ``overhead_s``, kW.
        state: the ledger's state when not the engine's own (``"CRASHED"``); ``""``:
            ``COMPLETE``, ``PRUNED`` if stopped or ``early``, ``PAUSED`` if ``paused``.
        accelerator: index of the job's accelerator in the study's ``accelerators``.
        preemptions: preemptions the job's duration includes.
    """

    trial: int
    duration_s: float
    checkpoints_s: list[float]
    reached: list[float]
    busy_kw: float
    label: str
    data: Any = None
    instance: int = -1
    paused: bool = False
    early: bool = False
    busy_kw_at: list[float] | None = None
    overhead_s: float = 0.0
    overhead_kw: float = 0.0
    state: str = ""
    accelerator: int = 0
    preemptions: int = 0

    def kw_until(self, index: int | None) -> float:
        """Mean IT power from the start to checkpoint ``index`` (``None``: to the end), kW."""
        if self.busy_kw_at is None:
            return self.busy_kw
        return self.busy_kw_at[-1 if index is None else index]


def mean_kw(offsets_s: list[float], joules: list[float], host_kw: float) -> list[float]:
    """Mean IT power from a job's start to each offset, kW: the host's share plus the
    accelerator energy used so far over the time so far (``Job.busy_kw_at``)."""
    return [host_kw + (j / o / W_PER_KW if o > 0 else 0.0)
            for o, j in zip(offsets_s, joules, strict=True)]


def between_trials_kw(host_kw: float, idle_kw: float) -> float:
    """IT power of a slot during the framework's overhead, kW: the accelerator idles and the
    host works (the idle figure includes the host's); the host's share alone where the
    accelerator's idle power is unknown (NaN)."""
    return host_kw if math.isnan(idle_kw) else idle_kw


class Policy(Protocol):
    """A search algorithm as the engine sees it: it hands out jobs and hears back.

    One method is required, :meth:`next_job`; the rest have defaults that policies inherit
    by subclassing this protocol explicitly (``class MyPolicy(Policy)``): every job is
    ready at once, runs to its end, and its end needs no answer. A policy that stops jobs
    early overrides :meth:`decide`, one with dependencies :meth:`ready`, one that learns
    from results :meth:`end`.

    Attributes:
        idle_kw: the power a worker draws while waiting for this policy's work, kW (NaN
            where unknown; the accounting then refuses a wait rather than guess).
        models_failures: whether the policy's jobs come from the shared job draw with its
            crashes and preemptions (:func:`~tunecost.simulate._draw.draw_study`); the
            engine refuses ``failures``/``preemption`` for a study whose policy does not.
        continues: whether the policy can continue a real study from its history
            (``StudyContext.continuation``), as the live forecast does.
        examples: a small strategy config for each key the class is registered under; the
            policy contract tests (``tests/simulate/events/test_policy_contract.py``) replay
            each, so a registered policy is tested without touching the tests.
    """

    idle_kw: float = math.nan
    models_failures: ClassVar[bool] = False
    continues: ClassVar[bool] = False
    examples: ClassVar[Mapping[str, Mapping[str, Any]]] = {}

    @abstractmethod
    def next_job(self, now_s: float) -> Job | _Wait | None:
        """A job for a free worker, :data:`WAIT` (work may come later) or ``None`` (done)."""

    def ready(self, job: Job) -> bool:
        """Whether ``job``'s dependencies have ended (else its worker holds it and waits)."""
        return True

    def decide(self, job: Job, index: int, now_s: float) -> bool:
        """At checkpoint ``index`` of ``job``: ``True`` goes on, ``False`` stops it now."""
        return True

    def end(self, job: Job, now_s: float, stopped: bool) -> None:
        """``job`` left its worker: at its end, or stopped at a checkpoint."""
        return None

    @property
    def n_trials(self) -> int | None:
        """Trials started so far; ``None``: the engine counts the distinct trials of the jobs
        that ran."""
        return None

    # --- building one, for the registry (tunecost.simulate.events.registry) ------------

    @classmethod
    def prepare(cls, study: ResolvedStudy) -> Any:
        """What every replicate's policy of ``study`` shares, computed once per run and
        shipped to every chunk (a fitted surrogate); picklable. Default: nothing."""
        return None

    @classmethod
    def from_study(cls, study: StudyContext, *, rng: np.random.Generator) -> Policy:
        """One replicate's policy of ``study``, all its randomness from ``rng``; a class in
        the registry defines it."""
        raise NotImplementedError(f"{cls.__name__} does not build itself from a study: define "
                                  "from_study to register it")


@dataclass(frozen=True, eq=False)
class Continuation:
    """What a real study has run so far, for a replay that continues it (picklable); each
    policy that ``continues`` reads what it needs.

    Attributes:
        study_name: the real study's name (``HyperbandPruner`` assigns brackets by hashing it
            with the trial number, so the continued trials land in the brackets they would).
        trials: the real study's finished trials (``optuna.trial.FrozenTrial``), told to each
            replicate's study before its first ask.
        sampler: the real study's sampler; each replicate asks a deep copy reseeded from its
            own stream (:func:`~tunecost.simulate.events.optuna_replay.reseeded`).
        pruner: the real study's pruner; each replicate prunes with a deep copy.
        distributions: the distributions the real study asks (its last trial's); ``None``:
            the calibration's space.
        running: parameters of the trials running in the real study now, run first; their
            time so far is run again (an overestimate by at most their elapsed part).
        horizon: trials each replicate asks the sampler; later trials repeat the
            configuration of one of the replicate's own asked trials drawn at random (TPE's
            ask costs grow with the study while its proposals settle: this bounds the
            forecast's cost); ``None``: every trial is asked.
        curves: each finished trial's reported values, in report order (what a Ray Tune
            scheduler recorded at its rungs).
    """

    study_name: str
    trials: Sequence[Any] = ()
    sampler: Any = None
    pruner: Any = None
    distributions: Mapping[str, Any] | None = None
    running: Sequence[Mapping[str, Any]] = ()
    horizon: int | None = None
    curves: Sequence[Sequence[float]] = ()


@dataclass(frozen=True, eq=False)
class StudyContext:
    """What one study's policies share across replicates: the resolved study, its policy
    class, what the class prepared once (a fitted surrogate) and the power of a waiting slot.

    Built once per run in the driver
    (:func:`~tunecost.simulate.events.registry.study_context`) and shipped to every chunk
    (picklable); each replicate calls :meth:`policy`. ``continuation``: what the study has
    already run, for a policy that continues a real study rather than starting one
    (:class:`Continuation`); ``None``: a new study.
    """

    study: ResolvedStudy
    policy_class: type[Policy]
    prepared: Any
    idle_kw: float
    continuation: Continuation | None = None

    @property
    def strategy(self) -> Any:
        return self.study.strategy

    @property
    def surrogate(self) -> Any:
        """The prepared surrogate of a real search algorithm (``None`` for a plan)."""
        from tunecost.simulate.events.surrogate import Surrogate

        return self.prepared if isinstance(self.prepared, Surrogate) else None

    def policy(self, rng: np.random.Generator) -> Policy:
        """One replicate's policy, all its randomness from ``rng``."""
        return self.policy_class.from_study(self, rng=rng)
