"""The job draw: every job of every study instance of a chunk, with its cost.

One draw serves both schedulers: the plan of each study instance (its strategy), the
accelerator of each trial, its full-fidelity duration (a duration model, or a calibration's
cost models with their residual noise), crashes (the crash rule: a crashed job ends its
trial; later jobs of the trial are skipped) and preemptions. Arrays are ``(m, J)`` with the
replicate axis first, ``J`` jobs in queue order.

:func:`draw_chunk` is what the engine runs: every instance writes its durations and
accelerators straight into the chunk's ``(m, J)`` arrays (no per-instance parts
concatenated), power is left as per-job tables indexed by the accelerator (the kernel looks
it up), and the per-replicate fields only the ledger reads are kept for the first ``rows``
replicates. :func:`build_jobs` is the same draw with every row kept, as :class:`Jobs`.

Streams: each study instance draws from its own spawned stream, split five ways (plan,
durations, accelerators, crashes, preemptions). The crash stream draws each job's crash
uniform first, then one crash length per crashing job only (``crash_duration`` sampled for
the ~``crash_probability`` share of jobs that crash, not for every job).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tunecost.failures import preemption_overhead_h
from tunecost.simulate._resolve import ResolvedCampaign, ResolvedStudy
from tunecost.units import S_PER_H, W_PER_KW

__all__ = ["COMPLETE", "CRASHED", "PRUNED", "SKIPPED", "STATE_NAMES", "Draw", "Jobs",
           "apply_crashes", "build_jobs", "draw_chunk", "draw_study"]

# Job states in the ledger.
COMPLETE, PRUNED, CRASHED, SKIPPED = 0, 1, 2, 3
STATE_NAMES = ("COMPLETE", "PRUNED", "CRASHED", "SKIPPED")


@dataclass(slots=True)
class Jobs:
    """Every job of every study instance of a chunk, flattened in queue order.

    Per-job arrays are ``(n_jobs,)``; per-replicate ones ``(n_reps, n_jobs)``.
    """

    duration_h: np.ndarray  # (m, J): running time incl. preemption overhead; 0 if skipped
    busy_kw: np.ndarray  # (m, J)
    idle_kw: np.ndarray  # (m, J), NaN where unknown
    accelerator: np.ndarray  # (m, J) index into the study's accelerators (int8)
    state: np.ndarray  # (m, J) int8
    reached: np.ndarray  # (m, J) fidelity reached
    preemptions: np.ndarray  # (m, J)
    study: np.ndarray  # (J,) study index
    instance: np.ndarray  # (J,) global study-instance index
    trial: np.ndarray  # (J,)
    parent: np.ndarray  # (J,) global job index or -1
    barrier: np.ndarray  # (J,) global stage index or -1
    stage: np.ndarray  # (J,) global stage index
    gpus: np.ndarray  # (J,)
    rate: np.ndarray  # (J,) USD per accelerator-hour (NaN: no pricing)
    config: list[str]
    n_trials: np.ndarray  # (n_studies,) trials per replicate in each study (all instances)
    n_stages: int
    n_instances: int


@dataclass(slots=True)
class Draw:
    """A chunk's draw as the scheduling kernel reads it.

    Attributes:
        duration_h: ``(m, J)``, as :attr:`Jobs.duration_h`.
        accelerator: ``(m, J)`` int8, each job's index into its study's accelerators.
        busy_extra_kw: ``(m, J)`` power a calibrated energy model adds to the table's, or
            ``None`` (no study has one).
        busy_table, idle_table: ``(J, K)``, each job's IT power while running and waiting on
            each of its study's accelerators, kW (idle NaN where unknown): a job's power is
            ``busy_table[j, accelerator] (+ busy_extra_kw)``, as :attr:`Jobs.busy_kw` holds.
        jobs: the draw as :class:`Jobs`, per-replicate fields cut to the first ``rows``
            replicates (``duration_h`` and ``accelerator`` are these arrays' first rows).
    """

    duration_h: np.ndarray
    accelerator: np.ndarray
    busy_extra_kw: np.ndarray | None
    busy_table: np.ndarray
    idle_table: np.ndarray
    jobs: Jobs


def _crash_rule(
    duration_h: np.ndarray,
    state: np.ndarray,
    crashed: np.ndarray,
    crash_h: np.ndarray,
    trial: np.ndarray,
    *,
    zero_skipped: bool,
    one_job_per_trial: bool = False,
) -> None:
    """:func:`apply_crashes` in place on ``duration_h``, ``state`` and ``crashed``."""
    m, n_jobs = duration_h.shape
    raw = np.nonzero(crashed) if crash_h.shape != duration_h.shape else None
    # With one job per trial (the common case) no job follows a crash: nothing to skip.
    if not one_job_per_trial:
        _, key = np.unique(trial, return_inverse=True)
        key = key.reshape(-1)
        n_trials = int(key.max()) + 1 if key.size else 0
        one_job_per_trial = n_trials == key.size
    if not one_job_per_trial:
        # A job is skipped when an earlier job of its trial crashed: the jobs of each trial
        # in queue order are its ranks 0, 1, ...; one numpy step per rank, not per job.
        order = np.argsort(key, kind="stable")
        first = np.searchsorted(key[order], key[order], side="left")
        rank = np.empty(n_jobs, dtype=np.int64)
        rank[order] = np.arange(n_jobs) - first
        dead = np.zeros((m, n_trials), dtype=bool)
        for k in range(int(rank.max()) + 1):
            cols = np.flatnonzero(rank == k)
            t = key[cols]
            skipped = dead[:, t]
            if k and skipped.any():
                crashed[:, cols] &= ~skipped
                state[:, cols] = np.where(skipped, np.int8(SKIPPED), state[:, cols])
                zero_skipped = True
            dead[:, t] |= crashed[:, cols]
    if raw is None:  # one crash length per job
        r, c = np.nonzero(crashed)
        lengths = crash_h[r, c]
    elif one_job_per_trial:  # every drawn crash happens
        (r, c), lengths = raw, crash_h
    else:  # one crash length per job that drew a crash, in row-major order
        kept = crashed[raw]
        r, c, lengths = raw[0][kept], raw[1][kept], crash_h[kept]
    state[r, c] = CRASHED
    duration_h[r, c] = np.minimum(lengths, duration_h[r, c])
    if zero_skipped:
        duration_h[state == SKIPPED] = 0.0


def apply_crashes(
    duration_h: np.ndarray,
    state: np.ndarray,
    crashed: np.ndarray,
    crash_h: np.ndarray,
    trial: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The crash rule: a crashed job runs for its crash length (if shorter) and ends its
    trial, so the trial's later jobs never run (``SKIPPED``, duration 0).

    Args:
        duration_h: running time of each job, ``(m, J)`` hours.
        state: each job's state before crashes, ``(m, J)`` int8.
        crashed: whether each job would crash, ``(m, J)`` bool.
        crash_h: how long a crashing job runs before it fails: ``(m, J)`` hours, or one
            length per ``True`` of ``crashed`` in row-major order (``(n,)``).
        trial: ``(J,)`` integer key of each job's trial (equal keys: the same trial), jobs
            of a trial in queue order.

    Returns:
        The durations and states after crashes, new arrays.
    """
    duration_h = np.array(duration_h, dtype=np.float64)
    state = np.array(state, dtype=np.int8)
    _crash_rule(duration_h, state, np.array(crashed, dtype=bool), np.asarray(crash_h),
                np.asarray(trial), zero_skipped=True)
    return duration_h, state


def _accelerators(study: ResolvedStudy, m: int, n_trials: int,
                  rng: np.random.Generator) -> np.ndarray | None:
    """Each trial's accelerator index, ``(m, n_trials)`` int8, or ``None`` for one model.

    The draw of ``rng.choice(K, size, p=shares)`` (one uniform per trial, against the
    shares' cumulative sums), without its ``searchsorted`` and int64 result."""
    k = len(study.accelerators)
    if k == 1:
        return None
    cdf = np.cumsum(study.shares)
    cdf /= cdf[-1]
    u = rng.random((m, n_trials))
    idx = (u >= cdf[0]).view(np.int8)
    for c in cdf[1:-1]:
        idx += u >= c
    return idx


def _draw_into(
    study: ResolvedStudy,
    m: int,
    rng: np.random.Generator,
    duration_h: np.ndarray,
    acc: np.ndarray,
    busy_extra_kw: np.ndarray | None,
    rows: int,
) -> dict:
    """Draw ``m`` replicates of one study instance's jobs into the ``(m, J_i)`` views
    ``duration_h``, ``acc`` (zero on entry) and ``busy_extra_kw``; return the plan and
    the first ``rows`` replicates of the state, preemption counts and power."""
    plan_rng, dur_rng, acc_rng, crash_rng, pre_rng = rng.spawn(5)
    plan = study.strategy.plan(m, rng=plan_rng).validate(m)
    n_trials, n_jobs = plan.n_trials, plan.n_jobs
    identity = n_trials == n_jobs and bool((plan.trial == np.arange(n_jobs)).all())

    def per_job(per_trial: np.ndarray, out: np.ndarray) -> None:
        out[...] = per_trial if identity else per_trial[:, plan.trial]

    acc_trial = _accelerators(study, m, n_trials, acc_rng)
    if acc_trial is not None:
        per_job(acc_trial, acc)
    extra = None
    # A trial's speed belongs to its configuration: every job of a trial (one per rung it
    # reaches) scales the same full-fidelity draw.
    if study.calibration is None:
        assert study.duration is not None  # StudyConfig requires it without a calibration
        full_s = study.duration.sample((m, n_trials), rng=dur_rng)
    else:
        # Each trial draws its hyperparameters from the search space; its duration and
        # energy follow from the fitted models with correlated residual noise.
        params = study.calibration.sample_params((m, n_trials), rng=dur_rng)
        full_s, energy_j = study.calibration.sample_costs(params, rng=dur_rng)
        if energy_j is not None:  # else duration-only: busy_kw holds the estimated power
            assert busy_extra_kw is not None
            per_job(energy_j / full_s / W_PER_KW, busy_extra_kw)
            extra = busy_extra_kw
    # ((full / S_PER_H)[:, trial] * fidelity) * cost_factor, in place.
    per_job(full_s / S_PER_H, duration_h)
    np.multiply(duration_h, plan.fidelity, out=duration_h)
    np.multiply(duration_h, plan.cost_factor, out=duration_h)

    state = np.where(plan.stopped, np.int8(PRUNED), np.int8(COMPLETE))
    if study.crash_probability > 0:
        assert study.crash_duration is not None  # guaranteed by FailureConfig
        crashed = crash_rng.random((m, n_jobs)) < study.crash_probability
        n_crashed = int(np.count_nonzero(crashed))
        crash_h = study.crash_duration.sample((n_crashed,), rng=crash_rng) / S_PER_H
        _crash_rule(duration_h, state, crashed, crash_h, plan.trial, zero_skipped=False,
                    one_job_per_trial=identity)
    preemptions = None
    if study.preemption is not None:
        extra_h, preemptions = preemption_overhead_h(duration_h, study.preemption, rng=pre_rng)
        duration_h += extra_h
    head = acc[:rows]
    busy = study.busy_kw[head]
    if extra is not None:
        busy = busy + extra[:rows]
    return {
        "plan": plan,
        "state": state[:rows],
        "preemptions": (np.zeros((rows, n_jobs), dtype=np.int64) if preemptions is None
                        else preemptions[:rows]),
        "busy_kw": busy,
        "idle_kw": study.idle_kw[head],
    }


def _acc_dtype(campaign: ResolvedCampaign) -> type:
    return np.int8 if max(len(s.accelerators) for s in campaign.studies) <= 127 else np.int16


def draw_study(study: ResolvedStudy, m: int, *, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Draw ``m`` replicates of one study instance's jobs.

    Returns:
        ``plan`` (the strategy's :class:`~tunecost.strategies.TrialPlan`), and ``(m, J)``
        arrays ``duration_h`` (running time incl. preemption overhead, 0 if skipped),
        ``acc`` (accelerator index), ``state``, ``preemptions`` and ``busy_kw`` (IT power
        while running, kW).
    """
    n_jobs = study.strategy.plan(1, rng=np.random.default_rng(0)).n_jobs
    duration_h = np.empty((m, n_jobs))
    acc = np.zeros((m, n_jobs), dtype=np.int8 if len(study.accelerators) <= 127 else np.int16)
    extra = np.zeros((m, n_jobs)) if study.calibrated_energy else None
    part = _draw_into(study, m, rng, duration_h, acc, extra, m)
    return {"plan": part["plan"], "duration_h": duration_h, "acc": acc, "state": part["state"],
            "preemptions": part["preemptions"], "busy_kw": part["busy_kw"]}


def draw_chunk(
    campaign: ResolvedCampaign, m: int, *, rng: np.random.Generator, rows: int | None = None
) -> Draw:
    """Draw every job of every study instance for ``m`` replicates.

    Args:
        rows: replicates whose per-replicate job fields (power, state, fidelity reached,
            preemptions) are kept in :attr:`Draw.jobs` (default: all ``m``); the draw is
            the same whatever it is.
    """
    rows = m if rows is None else min(max(int(rows), 0), m)
    studies = campaign.studies
    probe = np.random.default_rng(0)
    # Strategies fix their job count per study: the chunk's arrays are allocated once.
    sizes = [s.strategy.plan(1, rng=probe).n_jobs for s in studies]
    n_jobs = sum(s.count * n for s, n in zip(studies, sizes, strict=True))
    n_acc = max(len(s.accelerators) for s in studies)
    duration_h = np.empty((m, n_jobs))
    accelerator = np.zeros((m, n_jobs), dtype=_acc_dtype(campaign))
    calibrated = any(s.calibrated_energy for s in studies)
    busy_extra = np.zeros((m, n_jobs)) if calibrated else None
    busy_table = np.zeros((n_jobs, n_acc))
    idle_table = np.full((n_jobs, n_acc), np.nan)
    head = {k: np.empty((rows, n_jobs), dtype=dt) for k, dt in (
        ("busy_kw", np.float64), ("idle_kw", np.float64), ("state", np.int8),
        ("reached", np.float64), ("preemptions", np.int64))}
    per_job = {k: np.empty(n_jobs, dtype=np.int64) for k in (
        "study", "instance", "trial", "parent", "barrier", "stage", "gpus")}
    rate = np.empty(n_jobs)
    config: list[str] = []
    n_instances = sum(s.count for s in studies)
    streams = iter(rng.spawn(n_instances))
    a = stage_offset = instance = 0
    n_trials = np.zeros(len(studies), dtype=np.int64)
    for si, study in enumerate(studies):
        for _ in range(study.count):
            b = a + sizes[si]
            part = _draw_into(
                study, m, next(streams), duration_h[:, a:b], accelerator[:, a:b],
                None if busy_extra is None else busy_extra[:, a:b], rows)
            plan = part["plan"]
            if plan.n_jobs != b - a:  # a strategy must plan the same jobs for any seed
                raise AssertionError(f"study {study.name!r} planned {plan.n_jobs} jobs, "
                                     f"not {b - a}")
            n_trials[si] += plan.n_trials
            for k in ("busy_kw", "idle_kw", "state", "preemptions"):
                head[k][:, a:b] = part[k]
            head["reached"][:, a:b] = plan.reached[:rows]
            k_acc = len(study.accelerators)
            busy_table[a:b, :k_acc] = study.busy_kw
            idle_table[a:b, :k_acc] = study.idle_kw
            per_job["study"][a:b] = si
            per_job["instance"][a:b] = instance
            per_job["trial"][a:b] = plan.trial
            per_job["parent"][a:b] = np.where(plan.parent >= 0, plan.parent + a, -1)
            per_job["barrier"][a:b] = np.where(plan.barrier >= 0, plan.barrier + stage_offset,
                                               -1)
            per_job["stage"][a:b] = plan.stage + stage_offset
            per_job["gpus"][a:b] = study.gpus
            rate[a:b] = study.usd_per_accelerator_hour
            if rows:
                config.extend(plan.config)
            stage_offset += int(plan.stage.max()) + 1 if plan.n_jobs else 0
            instance += 1
            a = b

    jobs = Jobs(
        duration_h=duration_h[:rows],
        busy_kw=head["busy_kw"],
        idle_kw=head["idle_kw"],
        accelerator=accelerator[:rows],
        state=head["state"],
        reached=head["reached"],
        preemptions=head["preemptions"],
        rate=rate,
        config=config,
        n_trials=n_trials,
        n_stages=stage_offset,
        n_instances=n_instances,
        **per_job,
    )
    return Draw(duration_h, accelerator, busy_extra, busy_table, idle_table, jobs)


def build_jobs(campaign: ResolvedCampaign, m: int, *, rng: np.random.Generator) -> Jobs:
    """Draw every job of every study instance for ``m`` replicates."""
    return draw_chunk(campaign, m, rng=rng).jobs
