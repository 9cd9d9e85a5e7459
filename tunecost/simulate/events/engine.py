"""The event engine: real search algorithms on a simulated clock with N workers.

:func:`run_events` runs each replicate as one discrete-event simulation. Every study instance
is a *policy* (:class:`~tunecost.simulate.events._job.Policy`): a real Optuna study asked and
told (:mod:`~tunecost.simulate.events.optuna_replay`), a Ray Tune scheduler
(:mod:`~tunecost.simulate.events.schedulers`), or the plan of a vectorised strategy
(:mod:`~tunecost.simulate.events._plan`), chosen through the registry
(:mod:`~tunecost.simulate.events.registry`). When a worker frees, it asks the policies for
work (in study order; with ``schedule: sequential`` only the current study instance); a job
runs on it until its end or until the policy stops it at a checkpoint (a pruned trial, a
rung). A worker told to wait (a synchronisation point) or holding a job whose dependencies
are running draws idle power; one with nothing left is idle and uncharged (unless the pool is
reserved). Before each trial of a real search algorithm the slot spends the framework's
overhead (sampler, storage, trial start-up; measured on the calibration study or given as
``trial_overhead_s``) at its idle power: in the wall clock, the energy
(``overhead_energy_kwh``) and the dollars, not in GPU-hours.

A replicate's timeline is reduced to a :class:`~tunecost.simulate._totals.Usage` and
accounted by :func:`~tunecost.simulate._totals.totals`, the vectorised engine's accounting
step, so both engines apply PUE, CO2e and prices by the same code.

Replicates run in chunks on a :class:`~tunecost.simulate._backends.Backend`
(:func:`run_replicates`, a module-level function): the shared state (the resolved campaign
and each study's prepared policy state, e.g. its fitted surrogate) is built once in this
process and shipped with every chunk's map. Replicate ``r`` draws from the root's ``r``-th
child (``root.spawn`` one at a time, in order) and each study instance from one stream
spawned from that, which also seeds its sampler: a replicate's result does not depend on
the chunk it falls in, nor on the backend, nor on the process, so the result is the same
bits for any chunking on any backend.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tunecost._rng import as_generator
from tunecost.config import CampaignConfig
from tunecost.exceptions import ConfigError
from tunecost.simulate._backends import Backend, get_backend
from tunecost.simulate._ledger import job_costs, write_ledger
from tunecost.simulate._resolve import ResolvedCampaign, resolve
from tunecost.simulate._result import CampaignResult, StudyResult, assumptions
from tunecost.simulate._totals import METRICS, Usage, energy_weighted_intensity, totals

# Imported for their registrations (each policy module registers its classes).
from tunecost.simulate.events import _plan, optuna_replay, schedulers  # noqa: F401
from tunecost.simulate.events._job import WAIT, Job, Policy
from tunecost.simulate.events._queue import BUSY, IDLE, OVERHEAD, WAITING, EventQueue, Timeline
from tunecost.simulate.events.registry import StudyContext, policy_class, study_context
from tunecost.simulate.events.surrogate import report_schedule
from tunecost.strategies import replay_only
from tunecost.strategies._replay import ReplayOnly
from tunecost.units import S_PER_H

__all__ = ["MAX_REPLAY_TRIALS", "TIMELINE_COLUMNS", "needs_replay", "report_schedule",
           "run_events", "run_replicates"]

TIMELINE_COLUMNS = ("worker", "start_s", "end_s", "state", "power_w", "study", "trial")

_METRICS = (*METRICS, "overhead_energy_kwh")


MAX_REPLAY_TRIALS = 1_000_000
"""Most trials (over all replicates) one replay may run: each is a real sampler's ask and tell
(milliseconds, more as a study grows), so a million is already an hour or more."""

MAX_RESERVED_REPLAY_WORKERS = 1_000_000
"""Most slots of a reserved pool the replay keeps state for (an unreserved pool is cut to the
trials it can run at once, which gives the same result)."""

CHUNKS = 64
"""Default number of chunks a run's replicates are cut into (fewer when there are fewer
replicates): enough for a parallel backend to balance replicates of uneven cost and for
progress to move, few enough that per-chunk costs vanish. Results do not depend on it."""


def _trials(campaign: ResolvedCampaign) -> int:
    """Trials of one replicate: a real search algorithm's budget, a plan's trial count."""
    rng = as_generator(0)
    return sum(
        s.count * (s.strategy.n_trials if isinstance(s.strategy, ReplayOnly)
                   else s.strategy.plan(1, rng=rng).n_trials)
        for s in campaign.studies
    )


def _sized(config: CampaignConfig, trials: int, n_reps: int) -> CampaignConfig:
    """``config`` for the replay, its size checked first: refused above
    :data:`MAX_REPLAY_TRIALS`, and an unreserved pool cut to its ``trials``."""
    if trials * n_reps > MAX_REPLAY_TRIALS:
        raise ConfigError(
            f"the replay runs every trial of every replicate through the real search "
            f"algorithm: {trials:,} trials × {n_reps:,} replicates = {trials * n_reps:,}, above "
            f"{MAX_REPLAY_TRIALS:,}; fewer replicates (--replicates) or trials, or "
            "--engine vectorized"
        )
    if config.workers > trials:
        if not config.reserved:  # slots beyond the trials never run one: same result
            return config.model_copy(update={"workers": max(trials, 1)})
        if config.workers > MAX_RESERVED_REPLAY_WORKERS:
            raise ConfigError(
                f"`workers <= {MAX_RESERVED_REPLAY_WORKERS:,}` must hold for a reserved pool "
                f"in the replay engine, but got workers={config.workers:,}"
            )
    return config


def needs_replay(config: CampaignConfig) -> bool:
    """Whether any study names a real sampler, pruner or scheduler (a strategy kind
    registered as :func:`~tunecost.strategies.replay_only`), which only this engine runs."""
    return any(replay_only(s.strategy) for s in config.studies)


def _check(campaign: ResolvedCampaign) -> None:
    """Refuse failures for a study whose policy does not draw them (the real search
    algorithms: their trials come from the sampler, not from the shared job draw)."""
    for s in campaign.studies:
        cls = policy_class(s.strategy)
        if (s.crash_probability > 0 or s.preemption is not None) and not cls.models_failures:
            raise ConfigError(
                f"study {s.name!r}: the replay engine models crashes and preemption for the "
                f"strategies with a plan, not yet for a real search algorithm "
                f"({s.strategy.name!r}, {cls.__name__}); remove failures/preemption, or "
                "model the study with a plan strategy"
            )


def _run(policies: list[Policy], n_workers: int, *, sequential: bool, tl: Timeline) -> float:
    """Simulate one replicate; fill ``tl``; return the wall clock, s."""
    q: EventQueue[int] = EventQueue()
    n_inst = len(policies)
    running = [0] * n_inst  # jobs handed out (held or running) and not yet ended
    exhausted = [False] * n_inst
    active = [0]  # sequential: the study instance now running
    job_of: list[Job | None] = [None] * n_workers
    held: list[Job | None] = [None] * n_workers
    start_of = [0.0] * n_workers
    ck = [0] * n_workers
    since = [0.0] * n_workers  # when the worker last freed
    wait_inst = [0] * n_workers
    idle_at: dict[int, float] = {}
    waitlist = list(range(n_workers))
    wall = [0.0]

    def ask(now: float) -> tuple[Any, int]:
        if sequential:
            a = active[0]
            while a < n_inst and exhausted[a] and running[a] == 0:
                a += 1
            active[0] = a
            if a == n_inst:
                return None, n_inst - 1
            if not exhausted[a]:
                r = policies[a].next_job(now)
                if r is not None:
                    return r, a
                exhausted[a] = True
            # This instance has handed out its last job: the slot waits for the next one.
            return (WAIT, a + 1) if a + 1 < n_inst else (None, a)
        first_wait = -1
        for i in range(n_inst):
            if exhausted[i]:
                continue
            r = policies[i].next_job(now)
            if r is None:
                exhausted[i] = True
            elif r is WAIT:
                first_wait = i if first_wait < 0 else first_wait
            else:
                return r, i
        return (WAIT, first_wait) if first_wait >= 0 else (None, -1)

    def start(w: int, job: Job, now: float) -> None:
        if now > since[w]:
            tl.interval(w, since[w], now, WAITING, policies[job.instance].idle_kw,
                        job.instance, job.trial)
        if job.overhead_s > 0:
            tl.interval(w, now, now + job.overhead_s, OVERHEAD, job.overhead_kw, job.instance,
                        job.trial)
            now += job.overhead_s
        job_of[w], start_of[w], ck[w] = job, now, 0
        q.push(now + (job.checkpoints_s[0] if job.checkpoints_s else job.duration_s), w)

    def dispatch(now: float) -> None:
        keep = []
        for w in waitlist:
            job = held[w]
            if job is None:
                r, i = ask(now)
                if r is None:
                    if now > since[w]:
                        tl.interval(w, since[w], now, WAITING, policies[wait_inst[w]].idle_kw,
                                    wait_inst[w], -1)
                    idle_at[w] = now
                    continue
                if r is WAIT:
                    wait_inst[w] = i
                    keep.append(w)
                    continue
                job = r
                job.instance = i
                running[i] += 1
                if not policies[i].ready(job):
                    held[w] = job
                    keep.append(w)
                    continue
            elif not policies[job.instance].ready(job):
                keep.append(w)
                continue
            held[w] = None
            start(w, job, now)
        waitlist[:] = keep

    def finish(w: int, job: Job, now: float, stopped: bool, index: int | None) -> None:
        reached = job.reached[-1 if index is None else index]
        tl.job(job.instance, job.trial, start_of[w], now, job.kw_until(index), reached,
               stopped or job.early, w, ("paused: " if job.paused else "") + job.label,
               job.state, job.accelerator, job.preemptions)
        running[job.instance] -= 1
        job_of[w] = None
        policies[job.instance].end(job, now, stopped)
        wall[0] = max(wall[0], now)
        since[w] = now
        wait_inst[w] = job.instance
        waitlist.append(w)
        dispatch(now)

    dispatch(0.0)
    while len(q):
        now, w = q.pop()
        job = job_of[w]
        assert job is not None
        i = ck[w]
        cps = job.checkpoints_s
        if i < len(cps):
            if policies[job.instance].decide(job, i, now):
                ck[w] = i + 1
                nxt = start_of[w] + (cps[i + 1] if i + 1 < len(cps) else job.duration_s)
                q.push(nxt if nxt > now else now, w)
            else:
                finish(w, job, now, True, i)
        else:
            finish(w, job, now, False, None)
    if waitlist:
        raise RuntimeError(f"replay ended with workers {waitlist} still waiting for work that "
                           "never came: a policy returned WAIT with nothing running")
    for w, t in idle_at.items():
        if wall[0] > t:
            tl.interval(w, t, wall[0], IDLE, policies[wait_inst[w]].idle_kw, wait_inst[w], -1)
    return wall[0]


def _usage(campaign: ResolvedCampaign, tl: Timeline, wall_s: float, inst_study: np.ndarray,
           n_trials: np.ndarray) -> Usage:
    """What one replicate used (``m = 1``): the timeline's intervals summed per study."""
    n_st = len(campaign.studies)
    st = np.asarray(tl.study, dtype=np.int64)
    state = np.asarray(tl.state, dtype=np.int64)
    start_h = np.asarray(tl.start_s) / S_PER_H
    end_h = np.asarray(tl.end_s) / S_PER_H
    kw = np.asarray(tl.power_kw)
    hours = end_h - start_h
    charged = state != IDLE
    # Waiting at unknown idle power stays NaN (the accounting refuses it); idle is uncharged.
    it_kwh = np.where(charged, hours * kw, 0.0)
    study_of = inst_study[st] if st.size else st
    masks = [study_of == s for s in range(n_st)]

    def by_study(per_interval: np.ndarray) -> np.ndarray:  # (n,) -> (S, 1)
        return np.array([[per_interval[mask].sum()] for mask in masks]).reshape(n_st, 1)

    g = None
    if campaign.series is not None:
        grid = np.where(charged, kw * campaign.series.integral(start_h, end_h), 0.0)
        g = energy_weighted_intensity(campaign, by_study(it_kwh), by_study(grid))
    wall_h = wall_s / S_PER_H
    paid_h = np.where(charged, hours, 0.0)
    return Usage(
        n_trials=np.bincount(inst_study, weights=n_trials, minlength=n_st).reshape(n_st, 1),
        busy_h=by_study(np.where(state == BUSY, hours, 0.0)),
        busy_it_kwh=by_study(np.where(state == BUSY, it_kwh, 0.0)),
        waiting_it_kwh=by_study(np.where(state == WAITING, it_kwh, 0.0)),
        paid_h=by_study(paid_h),
        wall_clock_h=np.array([wall_h]),
        unused_slot_h=np.array([max(campaign.config.workers * wall_h - float(paid_h.sum()),
                                    0.0)]),
        overhead_it_kwh=by_study(np.where(state == OVERHEAD, it_kwh, 0.0)),
        g_co2e_per_kwh=g,
    )


@dataclass(frozen=True, eq=False)
class Shared:
    """What every chunk needs, built once per run and shipped once per map: the resolved
    campaign (workers cut by :func:`_sized`), each study's :class:`StudyContext` (its
    prepared, e.g. fitted, surrogate) and the study of each study instance."""

    campaign: ResolvedCampaign
    studies: tuple[StudyContext, ...]
    inst_study: np.ndarray


@dataclass(frozen=True)
class ReplicateTask:
    """Replicates ``first, first + 1, ...``, one seed each (the root's children in order).

    Attributes:
        record: also return the first replicate's timeline (replicate 0's, for the ledger
            and the timeline files).
    """

    first: int
    seeds: tuple[np.random.SeedSequence, ...]
    record: bool = False


@dataclass
class ReplicatePart:
    """A chunk's totals: campaign metrics ``(k,)``, per-study metrics ``(S, k)``."""

    first: int
    campaign: dict[str, np.ndarray]
    studies: dict[str, np.ndarray]
    timeline: Timeline | None = None


def replicate(shared: Shared, seed: np.random.SeedSequence) -> tuple[Timeline, float, Any]:
    """Simulate one replicate from its seed: its timeline, wall clock, s, and totals."""
    campaign, inst_study = shared.campaign, shared.inst_study
    rngs = as_generator(seed).spawn(len(inst_study))
    policies = [shared.studies[s].policy(g) for s, g in zip(inst_study, rngs, strict=True)]
    tl = Timeline()
    wall_s = _run(policies, campaign.config.workers,
                  sequential=campaign.config.schedule == "sequential", tl=tl)
    n_trials = _trials_started(policies, tl)
    return tl, wall_s, totals(campaign, _usage(campaign, tl, wall_s, inst_study, n_trials))


def run_replicates(shared: Shared, task: ReplicateTask) -> ReplicatePart:
    """One chunk of replicates (what a backend runs): depends on ``shared`` and ``task``
    only, so any process gives the same result for the same task."""
    k, n_st = len(task.seeds), len(shared.campaign.studies)
    out = {m: np.zeros(k) for m in _METRICS}
    per_study = {m: np.zeros((n_st, k)) for m in _METRICS if m != "wall_clock_h"}
    first_tl = None
    for j, seed in enumerate(task.seeds):
        tl, _, t = replicate(shared, seed)
        for m in _METRICS:
            out[m][j] = t.campaign[m][0]
            if m != "wall_clock_h":
                per_study[m][:, j] = t.studies[m][:, 0]
        if j == 0 and task.record:
            first_tl = tl
    return ReplicatePart(task.first, out, per_study, first_tl)


def _trials_started(policies: list[Policy], tl: Timeline) -> np.ndarray:
    """Trials each study instance started: its policy's count, else the distinct trials of
    its jobs in the timeline."""
    counts = []
    for i, p in enumerate(policies):
        n = p.n_trials
        if n is None:
            n = len({t for inst, t in zip(tl.job_instance, tl.job_trial, strict=True)
                     if inst == i})
        counts.append(n)
    return np.array(counts, dtype=float)


def _tasks(root: np.random.SeedSequence, n_reps: int, size: int,
           record: bool) -> Iterator[ReplicateTask]:
    """Chunks of ``size`` replicates; replicate ``r``'s seed is the root's ``r``-th child
    (spawned one at a time: the same children as ``root.spawn(n_reps)``, never a list of
    all of them at once)."""
    for first in range(0, n_reps, size):
        k = min(size, n_reps - first)
        yield ReplicateTask(first, tuple(root.spawn(1)[0] for _ in range(k)),
                            record=record and first == 0)


def run_events(
    config: CampaignConfig,
    *,
    replicates: int,
    root: np.random.SeedSequence,
    ledger: str | Path | None = None,
    timeline: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    chunk_size: int | None = None,
    backend: str | Backend | None = None,
    address: str | None = None,
    keep_replicates: bool | None = None,
    continuations: Mapping[str, Any] | None = None,
) -> CampaignResult:
    """Replay ``replicates`` runs of a campaign, event by event, with the real algorithms.

    Strategies of the vectorised kinds are replayed through their plans (one replicate of
    the shared job draw each, crashes and preemptions included), ``optuna`` and ``ray_tune``
    through the real algorithms. Arguments as :func:`tunecost.simulate.simulate`'s; besides:

    Args:
        timeline: write replicate 0's per-worker intervals to this CSV (``worker, start_s,
            end_s, state, power_w, study, trial``) and a Gantt chart of them, coloured by
            power, beside it with the suffix ``.png``.
        chunk_size: replicates per chunk (default: the replicates cut into at most
            :data:`CHUNKS` chunks). Each replicate is simulated on its own, so results do
            not depend on it; the result's ``chunk_size`` stays 1.
        backend: where chunks run: ``"auto"`` (``None``: the same), a name in
            :data:`~tunecost.simulate._backends.BACKENDS` or a
            :class:`~tunecost.simulate._backends.Backend`, chosen as for the vectorised
            engine (:func:`~tunecost.simulate._backends.auto_backend`: worker processes for
            several chunks on several cores). Identical results, bit for bit, on every
            backend.
        address: Ray cluster to connect to, with ``backend="ray"``.
        continuations: study name -> what that real study already ran
            (:class:`~tunecost.simulate.events._job.Continuation`): its replicates
            continue it rather than start afresh (the live forecast's remaining trials).

    Returns:
        A :class:`~tunecost.simulate.CampaignResult` (``engine == "replay"``, chunk size 1).

    Raises:
        ConfigError: a setting the replay does not model (crashes or preemption of a real
            search algorithm), ``keep_replicates=False``, a sampler's kwargs, a waiting slot
            without idle power, a run above :data:`MAX_REPLAY_TRIALS`, ``chunk_size < 1``.
        MissingExtraError: the sampler needs a package that is not installed.
    """
    if keep_replicates is False:
        raise ConfigError(
            "the replay engine keeps every replicate's totals (keep_replicates=False streams "
            f"summaries instead): at most {MAX_REPLAY_TRIALS:,} trials make at most as many "
            "replicates, a few MB of totals, so streaming would save nothing; leave "
            "keep_replicates unset"
        )
    if chunk_size is not None and (isinstance(chunk_size, bool) or chunk_size < 1):
        raise ConfigError(f"`chunk_size >= 1` must hold, but got chunk_size={chunk_size!r}")
    n_reps = replicates
    size = chunk_size if chunk_size is not None else -(-n_reps // min(n_reps, CHUNKS))
    # Checked before the surrogates are fitted (seconds): a bad name fails at once.
    runner = get_backend("auto" if backend is None else backend, address=address,
                         n_chunks=-(-n_reps // size))
    workers = config.workers
    campaign = resolve(config)
    config = _sized(config, _trials(campaign), n_reps)
    campaign = dataclasses.replace(campaign, config=config)
    _check(campaign)
    shared = Shared(
        campaign,
        tuple(study_context(s, (continuations or {}).get(s.name)) for s in campaign.studies),
        np.array([i for i, s in enumerate(campaign.studies) for _ in range(s.count)],
                 dtype=np.int64),
    )
    record = ledger is not None or timeline is not None
    n_st = len(campaign.studies)
    out = {k: np.zeros(n_reps) for k in _METRICS}
    per_study = {k: np.zeros((n_st, n_reps)) for k in _METRICS if k != "wall_clock_h"}
    done = 0
    for part in runner.map_chunks(run_replicates, shared, _tasks(root, n_reps, size, record)):
        if part.first != done:  # a backend must yield in chunk order
            raise RuntimeError(f"backend {runner!r} yielded the chunk at replicate "
                               f"{part.first} where {done} was due")
        k = len(part.campaign["wall_clock_h"])
        for m in _METRICS:
            out[m][done:done + k] = part.campaign[m]
            if m != "wall_clock_h":
                per_study[m][:, done:done + k] = part.studies[m]
        if part.timeline is not None:
            _write_outputs(campaign, part.timeline, shared.inst_study, ledger, timeline)
        done += k
        if progress is not None:
            progress(done, n_reps)
    ref_kwh = campaign.reference_energy_kwh
    result = CampaignResult(
        name=config.name,
        replicates=n_reps,
        seed=root.entropy,
        chunk_size=1,
        metrics=out,
        tuning_multiplier=out["energy_kwh"] / ref_kwh if ref_kwh > 0
        else np.full(n_reps, np.nan),
        reference_energy_kwh=ref_kwh,
        reference_how=campaign.reference_how,
        studies=[StudyResult(s.name, s.count, {k: v[i] for k, v in per_study.items()})
                 for i, s in enumerate(campaign.studies)],
        assumptions=assumptions(campaign),
        engine="replay",
    )
    result.assumptions["workers"] = workers  # as given, not as cut
    return result


def _write_outputs(campaign: ResolvedCampaign, tl: Timeline, inst_study: np.ndarray,
                   ledger: str | Path | None, timeline: str | Path | None) -> None:
    """Replicate 0's ledger and timeline files."""
    if ledger is not None:
        _write_ledger(Path(ledger), campaign, tl, inst_study)
    if timeline is not None:
        from tunecost.simulate.events.timeline import write_timeline

        write_timeline(Path(timeline), tl, [campaign.studies[s].name for s in inst_study])


def _write_ledger(path: Path, campaign: ResolvedCampaign, tl: Timeline,
                  inst_study: np.ndarray) -> None:
    """Replicate 0's jobs in the vectorised ledger's columns (per-job energy without waits:
    in the replay, waiting belongs to a worker's timeline, not to a job)."""
    n = len(tl.job_trial)
    study = inst_study[np.asarray(tl.job_instance, dtype=np.int64)] if n else np.zeros(0, int)
    start_h = np.asarray(tl.job_start_s) / S_PER_H
    dur_h = (np.asarray(tl.job_end_s) - np.asarray(tl.job_start_s)) / S_PER_H
    zero = np.zeros(n)
    energy, co2, cost = job_costs(campaign, study, start_h, dur_h, zero,
                                  np.asarray(tl.job_busy_kw), zero)

    def state(j: int) -> str:
        if tl.job_state[j]:
            return tl.job_state[j]
        if tl.job_label[j].startswith("paused: "):
            return "PAUSED"
        return "PRUNED" if tl.job_stopped[j] else "COMPLETE"

    rows = (
        [
            campaign.studies[study[j]].name, tl.job_instance[j], tl.job_trial[j],
            tl.job_label[j], f"{tl.job_reached[j]:.6g}", state(j), f"{start_h[j]:.6f}",
            f"{dur_h[j]:.6f}", "", tl.job_worker[j],
            campaign.studies[study[j]].accelerators[tl.job_accelerator[j]],
            campaign.studies[study[j]].gpus, tl.job_preemptions[j], energy[j], co2[j], cost[j],
        ]
        for j in range(n)
    )
    write_ledger(path, rows)
