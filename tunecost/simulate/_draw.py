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
durations, accelerators, crashes, preemptions). The crash stream draws which jobs crash
first (for a crash probability up to 0.25 as the geometric gaps between crashes, row-major
over replicates and jobs, so about ``p`` draws per job; above it one uniform per job), then
one crash length per crashing job only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tunecost._rng import as_generator
from tunecost.failures import preemption_overhead_sparse
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

    Per-job-replicate values sit in flat buffers, one contiguous ``(m, J_i)`` block per study
    instance (each instance draws straight into its block, none is copied into an
    ``(m, J)`` array): job ``j`` of replicate ``r`` is at ``base[j] + r * stride[j]``.

    Attributes:
        m: replicates.
        duration_h: ``(m * J,)``, as :attr:`Jobs.duration_h`.
        accelerator: ``(m * J,)`` int8, each job's index into its study's accelerators.
        busy_extra_kw: ``(m * J,)`` power a calibrated energy model adds to the table's, or
            ``None`` (no study has one).
        base, stride: ``(J,)`` int64, the layout.
        busy_table, idle_table: ``(J, K)``, each job's IT power while running and waiting on
            each of its study's accelerators, kW (idle NaN where unknown): a job's power is
            ``busy_table[j, accelerator] (+ busy_extra_kw)``, as :attr:`Jobs.busy_kw` holds.
        jobs: the draw as :class:`Jobs`, per-replicate fields for the first ``rows``
            replicates.
    """

    m: int
    duration_h: np.ndarray
    accelerator: np.ndarray
    busy_extra_kw: np.ndarray | None
    base: np.ndarray
    stride: np.ndarray
    busy_table: np.ndarray
    idle_table: np.ndarray
    jobs: Jobs


def _crash_rule(
    duration_h: np.ndarray,
    state: np.ndarray | None,
    crashed: np.ndarray,
    crash_h: np.ndarray,
    trial: np.ndarray,
    *,
    zero_skipped: bool,
    one_job_per_trial: bool | None = None,
) -> None:
    """:func:`apply_crashes` in place on the C-contiguous ``duration_h`` and ``state``
    (``None``: not kept, allowed with ``one_job_per_trial``).

    ``crashed``: the row-major flat positions of the jobs that drew a crash, increasing;
    ``crash_h``: their crash lengths, one each.
    """
    m, n_jobs = duration_h.shape
    assert duration_h.flags.c_contiguous and (state is None or state.flags.c_contiguous)
    key = None
    if one_job_per_trial is None:
        _, key = np.unique(trial, return_inverse=True)
        key = key.reshape(-1)
        one_job_per_trial = (int(key.max()) + 1 if key.size else 0) == key.size
    # With one job per trial (the common case) no job follows a crash: every drawn crash
    # happens and nothing is skipped.
    if not one_job_per_trial and crashed.size:
        # A job is skipped when an earlier job of its trial crashed: the jobs of each trial
        # in queue order are its ranks 0, 1, ...; one numpy step per rank, not per job.
        if key is None:
            _, key = np.unique(trial, return_inverse=True)
            key = key.reshape(-1)
        order = np.argsort(key, kind="stable")
        first = np.searchsorted(key[order], key[order], side="left")
        rank = np.empty(n_jobs, dtype=np.int64)
        rank[order] = np.arange(n_jobs) - first
        mask = np.zeros((m, n_jobs), dtype=bool)
        mask.ravel()[crashed] = True
        dead = np.zeros((m, int(key.max()) + 1), dtype=bool)
        for k in range(int(rank.max()) + 1):
            cols = np.flatnonzero(rank == k)
            t = key[cols]
            skipped = dead[:, t]
            if k and skipped.any():
                mask[:, cols] &= ~skipped
                state[:, cols] = np.where(skipped, np.int8(SKIPPED), state[:, cols])
                zero_skipped = True
            dead[:, t] |= mask[:, cols]
        kept = mask.ravel()[crashed]
        crashed, crash_h = crashed[kept], crash_h[kept]
    flat_dur = duration_h.reshape(-1)
    if state is not None:
        state.reshape(-1)[crashed] = CRASHED
    flat_dur[crashed] = np.minimum(crash_h, flat_dur[crashed])
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
    duration_h = np.array(duration_h, dtype=np.float64, order="C")
    state = np.array(state, dtype=np.int8, order="C")
    crash_h = np.asarray(crash_h, dtype=np.float64)
    where = np.flatnonzero(np.asarray(crashed, dtype=bool))
    lengths = crash_h.reshape(-1)[where] if crash_h.shape == duration_h.shape else crash_h
    _crash_rule(duration_h, state, where, lengths, np.asarray(trial), zero_skipped=True)
    return duration_h, state


_GEOMETRIC_MAX_P = 0.25
"""Crash probabilities up to this are drawn as the gaps between crashes (geometric), above it
as one uniform per job: both are i.i.d. Bernoulli per job; the gaps take ``p`` as many
draws."""


def _bernoulli_positions(rng: np.random.Generator, p: float, n: int) -> np.ndarray:
    """Increasing positions in ``[0, n)`` of the successes of ``n`` i.i.d. Bernoulli(``p``)
    trials (the jobs, row-major, that crash)."""
    if p > _GEOMETRIC_MAX_P:
        return np.flatnonzero(rng.random(n) < p)
    parts = []
    last = -1
    while last < n - 1:
        left = n - 1 - last
        k = int(p * left + 6.0 * np.sqrt(p * left) + 16)  # rarely a second block
        pos = last + np.cumsum(rng.geometric(p, size=k))
        if pos[-1] >= n:
            parts.append(pos[: np.searchsorted(pos, n)])
            break
        parts.append(pos)
        last = int(pos[-1])
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


def _accelerators(study: ResolvedStudy, m: int, n_trials: int, rng: np.random.Generator,
                  out: np.ndarray | None = None) -> np.ndarray | None:
    """Each trial's accelerator index, ``(m, n_trials)`` int8 (into ``out`` if given, a
    C-contiguous int8 array), or ``None`` for one model.

    The draw of ``rng.choice(K, size, p=shares)`` (one uniform per trial, against the
    shares' cumulative sums), without its ``searchsorted`` and int64 result."""
    k = len(study.accelerators)
    if k == 1:
        return None
    cdf = np.cumsum(study.shares)
    cdf /= cdf[-1]
    u = rng.random((m, n_trials))
    idx = np.empty((m, n_trials), dtype=np.int8) if out is None else out
    np.greater_equal(u, cdf[0], out=idx.view(np.bool_))
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
    """Draw ``m`` replicates of one study instance's jobs into the C-contiguous ``(m, J_i)``
    arrays ``duration_h``, ``acc`` (zero on entry) and ``busy_extra_kw``; return the plan
    and the first ``rows`` replicates of the state, preemption counts and power."""
    plan_rng, dur_rng, acc_rng, crash_rng, pre_rng = rng.spawn(5)
    plan = study.strategy.plan(m, rng=plan_rng).validate(m)
    n_trials, n_jobs = plan.n_trials, plan.n_jobs
    identity = n_trials == n_jobs and bool((plan.trial == np.arange(n_jobs)).all())

    def per_job(per_trial: np.ndarray, out: np.ndarray) -> None:
        if identity:
            out[...] = per_trial
        else:
            np.take(per_trial, plan.trial, axis=1, out=out)

    acc_trial = _accelerators(study, m, n_trials, acc_rng, out=acc if identity else None)
    if acc_trial is not None and not identity:
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
    # ((full / S_PER_H)[:, trial] * fidelity) * cost_factor, crashes and preemptions, in
    # place in the instance's block.
    dur = duration_h
    if identity:
        np.divide(full_s, S_PER_H, out=dur)
    else:
        per_job(full_s / S_PER_H, dur)
    np.multiply(dur, plan.fidelity, out=dur)
    if not (plan.cost_factor == 1.0).all():  # x * 1.0 is x: skipped, the same bits
        np.multiply(dur, plan.cost_factor, out=dur)

    # The states matter to the ledger's rows, and to the crash rule where a trial has
    # several jobs (a crash skips the later ones): elsewhere they are not built.
    crashes = study.crash_probability > 0
    every_row = crashes and not identity
    stopped = plan.stopped if every_row else plan.stopped[:rows]
    state = np.ascontiguousarray(np.where(stopped, np.int8(PRUNED), np.int8(COMPLETE)))
    if crashes:
        assert study.crash_duration is not None  # guaranteed by FailureConfig
        crashed = _bernoulli_positions(crash_rng, study.crash_probability, m * n_jobs)
        crash_h = study.crash_duration.sample((crashed.size,), rng=crash_rng) / S_PER_H
        if every_row:
            _crash_rule(dur, state, crashed, crash_h, plan.trial, zero_skipped=False)
        else:  # one job per trial: every drawn crash happens, in the rows and the states
            _crash_rule(dur, None, crashed, crash_h, plan.trial, zero_skipped=False,
                        one_job_per_trial=True)
            state.reshape(-1)[crashed[crashed < rows * n_jobs]] = CRASHED
    preemptions = None
    if study.preemption is not None:
        where, extra_h, preemptions = preemption_overhead_sparse(dur, study.preemption,
                                                                rng=pre_rng)
        flat = dur.reshape(-1)  # a view: dur is the instance's contiguous block
        flat[where] += extra_h  # every other job's extra is 0: x + 0.0 is x
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


def _check_accelerators(campaign: ResolvedCampaign) -> None:
    if max(len(s.accelerators) for s in campaign.studies) > 127:  # an int8 index
        raise AssertionError("a study mixes more than 127 accelerator models")


def draw_study(study: ResolvedStudy, m: int, *, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Draw ``m`` replicates of one study instance's jobs.

    Returns:
        ``plan`` (the strategy's :class:`~tunecost.strategies.TrialPlan`), and ``(m, J)``
        arrays ``duration_h`` (running time incl. preemption overhead, 0 if skipped),
        ``acc`` (accelerator index), ``state``, ``preemptions`` and ``busy_kw`` (IT power
        while running, kW).
    """
    n_jobs = study.strategy.plan(1, rng=0).n_jobs  # the count only: any seed
    duration_h = np.empty((m, n_jobs))
    acc = np.zeros((m, n_jobs), dtype=np.int8)
    extra = np.zeros((m, n_jobs)) if study.calibrated_energy else None
    part = _draw_into(study, m, rng, duration_h, acc, extra, m)
    return {"plan": part["plan"], "duration_h": duration_h, "acc": acc, "state": part["state"],
            "preemptions": part["preemptions"], "busy_kw": part["busy_kw"]}


def draw_chunk(
    campaign: ResolvedCampaign, m: int, *, rng: np.random.Generator, rows: int | None = None
) -> Draw:
    """Draw every job of every study instance for ``m`` replicates.

    Args:
        rows: replicates whose per-replicate job fields (duration, accelerator, power, state,
            fidelity reached, preemptions) are kept in :attr:`Draw.jobs` (default: all
            ``m``); the draw is the same whatever it is.
    """
    rows = m if rows is None else min(max(int(rows), 0), m)
    studies = campaign.studies
    _check_accelerators(campaign)
    probe = as_generator(0)
    # Strategies fix their job count per study: the chunk's buffers are allocated once.
    sizes = [s.strategy.plan(1, rng=probe).n_jobs for s in studies]
    n_jobs = sum(s.count * n for s, n in zip(studies, sizes, strict=True))
    n_acc = max(len(s.accelerators) for s in studies)
    duration_h = np.empty(m * n_jobs)
    accelerator = np.zeros(m * n_jobs, dtype=np.int8)
    calibrated = any(s.calibrated_energy for s in studies)
    busy_extra = np.zeros(m * n_jobs) if calibrated else None
    base = np.empty(n_jobs, dtype=np.int64)
    stride = np.empty(n_jobs, dtype=np.int64)
    busy_table = np.zeros((n_jobs, n_acc))
    idle_table = np.full((n_jobs, n_acc), np.nan)
    head = {k: np.empty((rows, n_jobs), dtype=dt) for k, dt in (
        ("duration_h", np.float64), ("accelerator", np.int8), ("busy_kw", np.float64),
        ("idle_kw", np.float64), ("state", np.int8), ("reached", np.float64),
        ("preemptions", np.int64))}
    per_job = {k: np.empty(n_jobs, dtype=np.int64) for k in (
        "study", "instance", "trial", "parent", "barrier", "stage", "gpus")}
    rate = np.empty(n_jobs)
    config: list[str] = []
    n_instances = sum(s.count for s in studies)
    streams = iter(rng.spawn(n_instances))
    a = stage_offset = instance = 0
    n_trials = np.zeros(len(studies), dtype=np.int64)

    def block(buf: np.ndarray | None, a: int, b: int) -> np.ndarray | None:
        return None if buf is None else buf[m * a:m * b].reshape(m, b - a)

    for si, study in enumerate(studies):
        for _ in range(study.count):
            b = a + sizes[si]
            dur, acc = block(duration_h, a, b), block(accelerator, a, b)
            part = _draw_into(study, m, next(streams), dur, acc, block(busy_extra, a, b), rows)
            plan = part["plan"]
            if plan.n_jobs != b - a:  # a strategy must plan the same jobs for any seed
                raise AssertionError(f"study {study.name!r} planned {plan.n_jobs} jobs, "
                                     f"not {b - a}")
            n_trials[si] += plan.n_trials
            base[a:b] = m * a + np.arange(b - a)
            stride[a:b] = b - a
            for k in ("busy_kw", "idle_kw", "state", "preemptions"):
                head[k][:, a:b] = part[k]
            head["reached"][:, a:b] = plan.reached[:rows]
            head["duration_h"][:, a:b] = dur[:rows]
            head["accelerator"][:, a:b] = acc[:rows]
            k_acc = len(study.accelerators)
            busy_table[a:b, :k_acc] = study.busy_kw
            busy_table[a:b, k_acc:] = study.busy_kw[0]  # never read: a row uniform if equal
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
        rate=rate,
        config=config,
        n_trials=n_trials,
        n_stages=stage_offset,
        n_instances=n_instances,
        **head,
        **per_job,
    )
    return Draw(m, duration_h, accelerator, busy_extra, base, stride, busy_table, idle_table,
                jobs)


def build_jobs(campaign: ResolvedCampaign, m: int, *, rng: np.random.Generator) -> Jobs:
    """Draw every job of every study instance for ``m`` replicates."""
    return draw_chunk(campaign, m, rng=rng).jobs
