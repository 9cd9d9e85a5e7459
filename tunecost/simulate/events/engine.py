"""The event engine: real search algorithms on a simulated clock with N workers.

:func:`run_events` runs each replicate as one discrete-event simulation. Every study instance
is a *policy* (:class:`~tunecost.simulate.events._job.Policy`): a real Optuna study asked and
told (:mod:`~tunecost.simulate.events.optuna_replay`), a Ray Tune scheduler
(:mod:`~tunecost.simulate.events.schedulers`), or the plan of a vectorised strategy
(:mod:`~tunecost.simulate.events._plan`). When a worker frees, it asks the policies for work
(in study order; with ``schedule: sequential`` only the current study instance); a job runs
on it until its end or until the policy stops it at a checkpoint (a pruned trial, a rung). A
worker told to wait (a synchronisation point) or holding a job whose dependencies are running
draws idle power; one with nothing left is idle and uncharged (unless the pool is reserved).
Before each trial of a real search algorithm the slot spends the framework's overhead
(sampler, storage, trial start-up; measured on the calibration study or given as
``trial_overhead_s``) at its idle power: in the wall clock, the energy
(``overhead_energy_kwh``) and the dollars, not in GPU-hours.

A replicate's timeline is reduced to a :class:`~tunecost.simulate._totals.Usage` and
accounted by :func:`~tunecost.simulate._totals.totals`, the vectorised engine's accounting
step, so both engines apply PUE, CO2e and prices by the same code. Each replicate has its own
stream spawned from the root seed, and each study instance one stream from that, which seeds
its sampler.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tunecost._rng import as_generator
from tunecost.calibrate.calibration import Calibration
from tunecost.calibrate.records import read_records
from tunecost.config import CampaignConfig
from tunecost.exceptions import ConfigError
from tunecost.report_schedule import ReportSchedule
from tunecost.simulate._ledger import job_costs, write_ledger
from tunecost.simulate._resolve import ResolvedCampaign, ResolvedStudy, resolve
from tunecost.simulate._result import CampaignResult, StudyResult, assumptions
from tunecost.simulate._totals import METRICS, Usage, totals
from tunecost.simulate.events._job import WAIT, Job, Policy
from tunecost.simulate.events._plan import PlanPolicy
from tunecost.simulate.events._queue import BUSY, IDLE, OVERHEAD, WAITING, EventQueue, Timeline
from tunecost.simulate.events._trials import TrialBank
from tunecost.simulate.events.optuna_replay import OptunaPolicy
from tunecost.simulate.events.schedulers import (
    ASHAPolicy,
    HyperBandPolicy,
    MedianStoppingPolicy,
    PBTPolicy,
)
from tunecost.simulate.events.surrogate import Surrogate, fit_curve
from tunecost.strategies import OptunaSearch, RayTuneSearch, replay_only
from tunecost.strategies._replay import ReplayOnly
from tunecost.units import S_PER_H

__all__ = ["MAX_REPLAY_TRIALS", "TIMELINE_COLUMNS", "needs_replay", "report_schedule",
           "run_events"]

TIMELINE_COLUMNS = ("worker", "start_s", "end_s", "state", "power_w", "study", "trial")

_METRICS = (*METRICS, "overhead_energy_kwh")


MAX_REPLAY_TRIALS = 1_000_000
"""Most trials (over all replicates) one replay may run: each is a real sampler's ask and tell
(milliseconds, more as a study grows), so a million is already an hour or more."""

MAX_RESERVED_REPLAY_WORKERS = 1_000_000
"""Most slots of a reserved pool the replay keeps state for (an unreserved pool is cut to the
trials it can run at once, which gives the same result)."""


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


class _Study:
    """What a study's policies share across replicates: the surrogate (curve model fitted
    once), its powers, and how to build one replicate's policy."""

    def __init__(self, study: ResolvedStudy) -> None:
        self.study = study
        self.strategy = study.strategy
        self.idle_kw = float(study.idle_kw @ study.shares)
        self.surrogate: Surrogate | None = None
        if isinstance(self.strategy, OptunaSearch | RayTuneSearch):
            self.surrogate = _surrogate(study, self.strategy)
            if isinstance(self.strategy, OptunaSearch):
                self.strategy.check_extras()

    def policy(self, rng: np.random.Generator) -> Any:
        s, study = self.strategy, self.study
        if isinstance(s, OptunaSearch):
            assert self.surrogate is not None
            if len(study.accelerators) != 1:
                raise ConfigError(f"study {study.name!r}: the Optuna replay needs one "
                                  f"accelerator model, but got a mix {study.accelerators}")
            return OptunaPolicy(s, self.surrogate, host_kw=float(study.busy_kw[0]),
                                idle_kw=self.idle_kw, rng=rng)
        if isinstance(s, RayTuneSearch):
            assert self.surrogate is not None
            bank_rng, sched_rng = rng.spawn(2)
            bank = TrialBank(self.surrogate, s.n_trials, host_kw=study.busy_kw,
                             shares=study.shares, idle_kw=self.idle_kw, rng=bank_rng)
            sc, common = s.scheduler, {"idle_kw": self.idle_kw,
                                       "mode_sign": self.surrogate.sign}
            if sc.name == "asha":
                return ASHAPolicy(bank, s.n_trials, grace_period=sc.grace_period,
                                  reduction_factor=sc.reduction_factor, brackets=sc.brackets,
                                  max_t=sc.max_t, rng=sched_rng, **common)
            if sc.name == "hyperband":
                return HyperBandPolicy(bank, s.n_trials, reduction_factor=sc.reduction_factor,
                                       max_t=sc.max_t, **common)
            if sc.name == "median_stopping":
                return MedianStoppingPolicy(bank, s.n_trials, grace_period=sc.grace_period,
                                            min_samples_required=sc.min_samples_required,
                                            **common)
            return PBTPolicy(bank, s.n_trials, perturbation_interval=sc.perturbation_interval,
                             quantile_fraction=sc.quantile_fraction,
                             resample_probability=sc.resample_probability, rng=sched_rng,
                             **common)
        return PlanPolicy(study, rng=rng)

    def n_trials(self, policy: Any) -> int:
        if isinstance(policy, OptunaPolicy):
            return policy.asked
        if isinstance(policy, PlanPolicy):
            return policy.n_trials
        return int(policy.next_trial)


def report_schedule(strategy: OptunaSearch | RayTuneSearch,
                    calibration: Calibration | None) -> ReportSchedule:
    """The step numbers a replayed trial reports at.

    The strategy's ``report``, else its ``n_evaluations`` (evenly spaced), else the
    calibration's measured schedule, else the strategy's default count. A schedule without a
    budget takes the calibration's (when the calibration has no resource parameter, every
    trial's budget is the schedule's), else the report count: steps ``1..n``.
    """
    if strategy.report is not None:
        schedule = strategy.report
    elif strategy.n_evaluations is not None:
        schedule = ReportSchedule(count=strategy.n_evaluations)
    elif calibration is not None and calibration.report_schedule is not None:
        schedule = calibration.report_schedule
    else:
        schedule = ReportSchedule(count=strategy.default_reports)
    if schedule.resource is None and (calibration is None
                                      or calibration.resource_param is None):
        measured = (calibration.report_schedule.resource
                    if calibration is not None and calibration.report_schedule is not None
                    else None)
        resource = measured if measured is not None else schedule.count
        if resource is not None:
            schedule = schedule.model_copy(update={"resource": float(resource)})
    return schedule


def _surrogate(study: ResolvedStudy, strategy: OptunaSearch | RayTuneSearch) -> Surrogate:
    cal = study.calibration
    obj = strategy.objective
    direction = obj.direction or (
        cal.curve_model.direction if cal is not None and cal.curve_model is not None
        else cal.learning_curve.direction if cal is not None and cal.learning_curve is not None
        else "minimize")
    curve, recorded = None, None
    if obj.records is not None:
        records = read_records(obj.records)
        if obj.recorded:
            recorded = records
        elif cal is None:
            raise ConfigError(
                f"study {study.name!r}: objective.records fits the learning-curve model on the "
                "calibration's features, so the study needs a calibration"
            )
        else:
            curve = fit_curve(cal, records, direction)
    return Surrogate(report_schedule(strategy, cal), calibration=cal, duration=study.duration,
                     curve=curve, direction=direction, search_resource=obj.search_resource,
                     overhead=study.trial_overhead_s, recorded=recorded)


def _check(campaign: ResolvedCampaign) -> None:
    for s in campaign.studies:
        if s.crash_probability > 0 or s.preemption is not None:
            raise ConfigError(
                f"study {s.name!r}: the replay engine does not model crashes or preemption "
                "yet; remove failures/preemption or use the vectorised engine"
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
               stopped or job.early, w, ("paused: " if job.paused else "") + job.label)
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
        total = by_study(it_kwh)
        with np.errstate(invalid="ignore", divide="ignore"):
            g = np.where(total > 0, by_study(grid) / total, campaign.g_co2e_per_kwh)
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


def run_events(
    config: CampaignConfig,
    *,
    replicates: int,
    root: np.random.SeedSequence,
    ledger: str | Path | None = None,
    timeline: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    chunk_size: int | None = None,
    backend: Any = "local",
    address: str | None = None,
    keep_replicates: bool | None = None,
) -> CampaignResult:
    """Replay ``replicates`` runs of a campaign, event by event, with the real algorithms.

    Strategies of the vectorised kinds are replayed through their plans, ``optuna`` and
    ``ray_tune`` through the real algorithms. Arguments as
    :func:`tunecost.simulate.simulate`'s; besides:

    Args:
        timeline: write replicate 0's per-worker intervals to this CSV (``worker, start_s,
            end_s, state, power_w, study, trial``) and a Gantt chart of them, coloured by
            power, beside it with the suffix ``.png``.

    Returns:
        A :class:`~tunecost.simulate.CampaignResult` (``engine == "replay"``, chunk size 1).

    Raises:
        ConfigError: a setting the replay does not model (crashes, preemption), a sampler's
            kwargs, a waiting slot without idle power, a run above :data:`MAX_REPLAY_TRIALS`.
        MissingExtraError: the sampler needs a package that is not installed.
    """
    if backend != "local" or chunk_size is not None or keep_replicates is False:
        raise ConfigError(
            "the replay engine runs its replicates one by one in this process and keeps "
            f"them all: backend='local' and no chunk_size, but got backend={backend!r}, "
            f"chunk_size={chunk_size!r}, keep_replicates={keep_replicates!r}"
        )
    workers = config.workers
    n_reps = replicates
    campaign = resolve(config)
    config = _sized(config, _trials(campaign), n_reps)
    campaign = dataclasses.replace(campaign, config=config)
    _check(campaign)
    studies = [_Study(s) for s in campaign.studies]
    inst_study = np.array([i for i, s in enumerate(campaign.studies) for _ in range(s.count)],
                          dtype=np.int64)
    n_st = len(campaign.studies)
    out = {k: np.zeros(n_reps) for k in _METRICS}
    per_study = {k: np.zeros((n_st, n_reps)) for k in _METRICS if k != "wall_clock_h"}
    streams = root.spawn(n_reps)
    sequential = config.schedule == "sequential"
    for r, stream in enumerate(streams):
        rngs = as_generator(stream).spawn(len(inst_study))
        policies = [studies[s].policy(g) for s, g in zip(inst_study, rngs, strict=True)]
        tl = Timeline()
        wall_s = _run(policies, config.workers, sequential=sequential, tl=tl)
        n_trials = np.array([studies[s].n_trials(p) for s, p in zip(inst_study, policies,
                                                                       strict=True)], float)
        t = totals(campaign, _usage(campaign, tl, wall_s, inst_study, n_trials))
        for k in _METRICS:
            out[k][r] = t.campaign[k][0]
            if k != "wall_clock_h":
                per_study[k][:, r] = t.studies[k][:, 0]
        if r == 0 and ledger is not None:
            _write_ledger(Path(ledger), campaign, tl, inst_study)
        if r == 0 and timeline is not None:
            from tunecost.simulate.events.timeline import write_timeline

            write_timeline(Path(timeline), tl, [campaign.studies[s].name for s in inst_study])
        if progress is not None:
            progress(r + 1, n_reps)
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
        if tl.job_label[j].startswith("paused: "):
            return "PAUSED"
        return "PRUNED" if tl.job_stopped[j] else "COMPLETE"

    rows = (
        [
            campaign.studies[study[j]].name, tl.job_instance[j], tl.job_trial[j],
            tl.job_label[j], f"{tl.job_reached[j]:.6g}", state(j), f"{start_h[j]:.6f}",
            f"{dur_h[j]:.6f}", "", tl.job_worker[j], campaign.studies[study[j]].accelerators[0],
            campaign.studies[study[j]].gpus, 0, energy[j], co2[j], cost[j],
        ]
        for j in range(n)
    )
    write_ledger(path, rows)
