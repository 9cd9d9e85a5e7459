"""The event-driven replay: real search algorithms on a simulated clock with N workers.

:func:`replay` runs each replicate as one discrete-event simulation. Every study instance is a
*policy* (:class:`~tunecost.replay._job.Policy`): a real Optuna study asked and told
(:mod:`~tunecost.replay.optuna_replay`), a Ray Tune scheduler
(:mod:`~tunecost.replay.schedulers`), or the plan of a vectorised strategy
(:mod:`~tunecost.replay._plan`). When a worker frees, it asks the policies for work (in study
order; with ``schedule: sequential`` only the current study instance); a job runs on it until
its end or until the policy stops it at a checkpoint (a pruned trial, a rung). A worker told to
wait (a synchronisation point) or holding a job whose dependencies are running draws idle
power; one with nothing left is idle and uncharged (unless the pool is reserved).

Energy, CO2e and dollars follow the vectorised path's accounting exactly (same formulas, same
:class:`~tunecost.simulate.CampaignResult`, same summary JSON with ``engine: "replay"``):

- busy: ``duration_h × busy_kw × PUE`` per job, busy power per trial from the calibration
  (accelerator) plus the host share, or from the power model;
- waiting: ``wait_h × idle_kw × PUE`` per waiting interval;
- overhead: the framework's time before each trial of a real search algorithm (sampler,
  storage, trial start-up; measured on the calibration study or given as
  ``trial_overhead_s``), at the slot's idle power: in the wall clock, the energy
  (``overhead_energy_kwh``) and the dollars, not in GPU-hours;
- CO2e: energy × grid intensity, or the integral of the hourly series over each interval;
- dollars: ``(busy + waiting hours) × gpus × rate``; a reserved pool pays and powers every slot
  for the whole wall clock.

Replicates are a Python loop (each is a sequential event simulation); the root seed spawns one
stream per replicate, and each study instance one stream from that, which seeds its sampler.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tunecost._atomic import atomic_open
from tunecost.calibrate.calibration import Calibration
from tunecost.calibrate.records import read_records
from tunecost.config import CampaignConfig
from tunecost.exceptions import ConfigError
from tunecost.replay._events import BUSY, IDLE, OVERHEAD, WAITING, EventQueue, Timeline
from tunecost.replay._job import WAIT, Job, Policy
from tunecost.replay._plan import PlanPolicy
from tunecost.replay._trials import TrialBank
from tunecost.replay.optuna_replay import OptunaPolicy
from tunecost.replay.schedulers import (
    ASHAPolicy,
    HyperBandPolicy,
    MedianStoppingPolicy,
    PBTPolicy,
)
from tunecost.replay.surrogate import Surrogate, fit_curve
from tunecost.report_schedule import ReportSchedule
from tunecost.simulate._resolve import (
    ResolvedCampaign,
    ResolvedStudy,
    replicates_and_seed,
    resolve,
)
from tunecost.strategies import OptunaSearch, RayTuneSearch
from tunecost.units import S_PER_H

__all__ = ["TIMELINE_COLUMNS", "needs_replay", "replay", "report_schedule"]

TIMELINE_COLUMNS = ("worker", "start_s", "end_s", "state", "power_w", "study", "trial")

_METRICS = ("n_trials", "gpu_hours", "wall_clock_h", "energy_kwh", "co2e_kg", "cost_usd",
            "electricity_usd", "waiting_energy_kwh", "overhead_energy_kwh")


def needs_replay(config: CampaignConfig) -> bool:
    """Whether any study names a real sampler, pruner or scheduler (kinds ``optuna`` and
    ``ray_tune``), which only the replay engine can run."""
    return any(s.strategy.kind in ("optuna", "ray_tune") for s in config.studies)


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


def _account(campaign: ResolvedCampaign, tl: Timeline, wall_s: float, inst_study: np.ndarray,
             n_trials: np.ndarray, out: dict[str, np.ndarray], per_study: dict[str, np.ndarray],
             r: int) -> None:
    """Totals of one replicate into ``out[metric][r]`` and ``per_study[metric][:, r]``."""
    pue = campaign.pue
    n_st = len(campaign.studies)
    gpus = np.array([s.gpus for s in campaign.studies], dtype=float)
    rate = np.array([s.usd_per_accelerator_hour for s in campaign.studies])
    st = np.asarray(tl.study, dtype=np.int64)
    state = np.asarray(tl.state, dtype=np.int64)
    start_h = np.asarray(tl.start_s) / S_PER_H
    end_h = np.asarray(tl.end_s) / S_PER_H
    kw = np.asarray(tl.power_kw)
    charged = state != IDLE
    waiting = state == WAITING
    overhead = state == OVERHEAD
    if (waiting & np.isnan(kw)).any():
        s = campaign.studies[inst_study[st[waiting & np.isnan(kw)][0]]]
        raise ConfigError(
            f"study {s.name!r} waits at synchronisation points, but the catalog has no idle "
            f"power for {s.accelerators[0]!r}; set power.idle_w"
        )
    hours = end_h - start_h
    kwh = np.where(charged, hours * np.nan_to_num(kw) * pue, 0.0)
    if campaign.series is None:
        co2 = kwh * campaign.g_co2e_per_kwh / 1000.0
    else:
        co2 = np.where(charged, np.nan_to_num(kw) * pue
                       * campaign.series.integral(start_h, end_h), 0.0) / 1000.0
    study_of = inst_study[st] if st.size else st
    onehot = (study_of[None, :] == np.arange(n_st)[:, None]).astype(float)  # (S, intervals)
    busy_h = np.where(state == BUSY, hours, 0.0)
    paid_h = np.where(charged, hours, 0.0)
    per = {
        "n_trials": np.bincount(inst_study, weights=n_trials, minlength=n_st),
        "gpu_hours": (onehot @ busy_h) * gpus,
        "energy_kwh": onehot @ kwh,
        "waiting_energy_kwh": onehot @ np.where(waiting, kwh, 0.0),
        "overhead_energy_kwh": onehot @ np.where(overhead, kwh, 0.0),
        "co2e_kg": onehot @ co2,
        "cost_usd": (onehot @ paid_h) * gpus * rate,
    }
    per["electricity_usd"] = per["energy_kwh"] * campaign.usd_per_kwh
    wall_h = wall_s / S_PER_H
    reserved_kwh, reserved_cost = 0.0, None
    if campaign.config.reserved:
        s0 = campaign.studies[0]
        if np.isnan(s0.idle_kw[0]):
            raise ConfigError(f"a reserved pool draws idle power, but the catalog has none for "
                              f"{s0.accelerators[0]!r}; set power.idle_w")
        idle_h = max(campaign.config.workers * wall_h - float(paid_h.sum()), 0.0)
        reserved_kwh = idle_h * float(s0.idle_kw[0]) * pue
        reserved_cost = campaign.config.workers * s0.gpus * wall_h * s0.usd_per_accelerator_hour
    for k, v in per.items():
        per_study[k][:, r] = v
    energy = float(per["energy_kwh"].sum()) + reserved_kwh
    out["n_trials"][r] = per["n_trials"].sum()
    out["gpu_hours"][r] = per["gpu_hours"].sum()
    out["wall_clock_h"][r] = wall_h
    out["energy_kwh"][r] = energy
    out["co2e_kg"][r] = per["co2e_kg"].sum() + reserved_kwh * campaign.g_co2e_per_kwh / 1000.0
    out["cost_usd"][r] = per["cost_usd"].sum() if reserved_cost is None else reserved_cost
    out["electricity_usd"][r] = energy * campaign.usd_per_kwh
    out["waiting_energy_kwh"][r] = per["waiting_energy_kwh"].sum() + reserved_kwh
    out["overhead_energy_kwh"][r] = per["overhead_energy_kwh"].sum()


def replay(
    config: CampaignConfig,
    *,
    replicates: int | None = None,
    seed: int | None = None,
    ledger: str | Path | None = None,
    timeline: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Any:
    """Replay ``replicates`` runs of a campaign, event by event, with the real algorithms.

    Args:
        config: the campaign; strategies of every kind but ``nas``-style plans are replayed
            through their plans, ``optuna`` and ``ray_tune`` through the real algorithms.
        replicates: independent replicates (default: the config's); a Python loop.
        seed: root seed (default: the config's); same seed, identical results.
        ledger: write replicate 0's per-job rows to this CSV (the vectorised ledger's columns).
        timeline: write replicate 0's per-worker intervals to this CSV (``worker, start_s,
            end_s, state, power_w, study, trial``) and a Gantt chart of them, coloured by
            power, beside it with the suffix ``.png``.
        progress: called as ``progress(done, total)`` after each replicate.

    Returns:
        A :class:`~tunecost.simulate.CampaignResult` (``engine == "replay"``, chunk size 1).

    Raises:
        ConfigError: a setting the replay does not model (crashes, preemption), a replicate
            or seed out of range, a sampler's kwargs, a waiting slot without idle power.
        MissingExtraError: the sampler needs a package that is not installed.
    """
    from tunecost.simulate import CampaignResult, StudyResult, _assumptions

    n_reps, root_seed = replicates_and_seed(config, replicates, seed)
    campaign = resolve(config)
    _check(campaign)
    studies = [_Study(s) for s in campaign.studies]
    inst_study = np.array([i for i, s in enumerate(campaign.studies) for _ in range(s.count)],
                          dtype=np.int64)
    n_st = len(campaign.studies)
    out = {k: np.zeros(n_reps) for k in _METRICS}
    per_study = {k: np.zeros((n_st, n_reps)) for k in _METRICS if k != "wall_clock_h"}
    streams = np.random.SeedSequence(root_seed).spawn(n_reps)
    sequential = config.schedule == "sequential"
    for r, stream in enumerate(streams):
        rngs = np.random.default_rng(stream).spawn(len(inst_study))
        policies = [studies[s].policy(g) for s, g in zip(inst_study, rngs, strict=True)]
        tl = Timeline()
        wall_s = _run(policies, config.workers, sequential=sequential, tl=tl)
        n_trials = np.array([studies[s].n_trials(p) for s, p in zip(inst_study, policies,
                                                                       strict=True)], float)
        _account(campaign, tl, wall_s, inst_study, n_trials, out, per_study, r)
        if r == 0 and ledger is not None:
            _write_ledger(Path(ledger), campaign, tl, inst_study)
        if r == 0 and timeline is not None:
            from tunecost.replay.timeline import write_timeline

            write_timeline(Path(timeline), tl, [campaign.studies[s].name for s in inst_study])
        if progress is not None:
            progress(r + 1, n_reps)
    return CampaignResult(
        name=config.name,
        replicates=n_reps,
        seed=root_seed,
        chunk_size=1,
        metrics=out,
        tuning_multiplier=out["energy_kwh"] / campaign.reference_energy_kwh,
        reference_energy_kwh=campaign.reference_energy_kwh,
        reference_how=campaign.reference_how,
        studies=[StudyResult(s.name, s.count, {k: v[i] for k, v in per_study.items()})
                 for i, s in enumerate(campaign.studies)],
        assumptions=_assumptions(campaign),
        engine="replay",
    )


def _write_ledger(path: Path, campaign: ResolvedCampaign, tl: Timeline,
                  inst_study: np.ndarray) -> None:
    """Replicate 0's jobs in the vectorised ledger's columns (per-job energy without waits:
    in the replay, waiting belongs to a worker's timeline, not to a job)."""
    from tunecost.simulate import LEDGER_COLUMNS

    pue = campaign.pue
    with atomic_open(path, newline="") as fh:
        w = csv.writer(fh)
        w.writerow(LEDGER_COLUMNS)
        for j in range(len(tl.job_trial)):
            study = campaign.studies[inst_study[tl.job_instance[j]]]
            dur_h = (tl.job_end_s[j] - tl.job_start_s[j]) / S_PER_H
            kwh = dur_h * tl.job_busy_kw[j] * pue
            label = tl.job_label[j]
            state = ("PAUSED" if label.startswith("paused: ")
                     else "PRUNED" if tl.job_stopped[j] else "COMPLETE")
            cost = dur_h * study.gpus * study.usd_per_accelerator_hour
            w.writerow([
                study.name, tl.job_instance[j], tl.job_trial[j], label,
                f"{tl.job_reached[j]:.6g}", state, f"{tl.job_start_s[j] / S_PER_H:.6f}",
                f"{dur_h:.6f}", "", tl.job_worker[j], study.accelerators[0], study.gpus, 0,
                f"{kwh:.6g}", f"{kwh * campaign.g_co2e_per_kwh / 1000.0:.6g}",
                "" if np.isnan(cost) else f"{cost:.6g}",
            ])
