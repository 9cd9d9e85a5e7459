"""A campaign's totals as a function of the assumptions: re-simulated (:class:`TotalsModel`,
with common random numbers) or, for replayed campaigns, scaled (:class:`ScaledTotalsModel`)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from tunecost import accounting
from tunecost._rng import RngLike, as_generator, root_sequence
from tunecost.config import CampaignConfig, StudyConfig
from tunecost.durations import Uniform
from tunecost.exceptions import ConfigError
from tunecost.reports.sensitivity.assumptions import ASSUMPTIONS, TOTALS, _mean_crash
from tunecost.simulate.pipeline import (
    SKIPPED,
    Jobs,
    ResolvedCampaign,
    ResolvedStudy,
    apply_crashes,
    build_jobs,
    resolve,
    schedule,
    totals,
    usage,
)
from tunecost.strategies import resizable_by_prefix, size_field
from tunecost.units import S_PER_H

Progress = Callable[[int, int], None]

_STRUCTURAL = ("duration_spread", "n_trials", "failure_rate")
_ELEMENTS_PER_CHUNK = 2_000_000
"""Bound on one stacked ``(points × replicates, jobs)`` array, as in the simulator."""


def _study_trials_mode(study: StudyConfig) -> str:
    """``"trials"`` where the number of trials can be varied by its field alone (the first
    ``k`` trials of a larger study), else ``"count"`` (the number of study instances)."""
    return "trials" if resizable_by_prefix(study.strategy) else "count"


def _n_trials_field(study: StudyConfig) -> str:
    field = size_field(study.strategy)
    assert field is not None  # resizable_by_prefix promises one
    return field


class TotalsModel:
    """A campaign's totals as a function of the seven assumptions, on the vectorised simulator.

    Args:
        config: the campaign.
        replicates: replicates per evaluation (each evaluation uses the same random numbers).
        rng: the root of every evaluation's random numbers (int, SeedSequence, Generator).
        k_max: the largest number-of-trials factor that will be asked for; jobs are built for
            it once and trimmed per evaluation.
    """

    def __init__(
        self, config: CampaignConfig, *, replicates: int, rng: RngLike = 0, k_max: float = 1.25
    ) -> None:
        if replicates < 1:
            raise ConfigError(f"`replicates >= 1` must hold, but got replicates={replicates}")
        self.config = config
        self.replicates = replicates
        root = root_sequence(rng)
        self._entropy, self._spawn_key = root.entropy, root.spawn_key
        self.seed = root.entropy
        """The root's entropy (reported)."""
        self.k_max = max(1.0, float(k_max))
        self.base = resolve(config)
        self.q_base = _mean_crash(config)
        self._modes = [_study_trials_mode(s) for s in config.studies]
        self._n_base = [
            int(getattr(s.strategy, _n_trials_field(s))) if m == "trials" else s.count
            for s, m in zip(config.studies, self._modes, strict=True)
        ]
        self._big = self._enlarged()
        self._cache: dict[float, Jobs] = {}
        self._crash: tuple[np.ndarray, np.ndarray] | None = None

    # -- construction --------------------------------------------------------------------

    def _enlarged(self) -> ResolvedCampaign:
        """The campaign with every study's trials (or count) scaled by ``k_max``."""
        if self.k_max == 1.0:
            return self.base
        studies = []
        for s, mode, n in zip(self.config.studies, self._modes, self._n_base, strict=True):
            big = math.ceil(n * self.k_max - 1e-9)
            if mode == "trials":
                strategy = s.strategy.model_copy(update={_n_trials_field(s): big})
                studies.append(s.model_copy(update={"strategy": strategy}))
            else:
                studies.append(s.model_copy(update={"count": big}))
        return resolve(self.config.model_copy(update={"studies": studies}))

    def _variant(self, spread: float) -> ResolvedCampaign:
        """The enlarged campaign, durations' spread × ``spread``, crashes off (added later)."""
        studies = []
        for cfg, rs in zip(self.config.studies, self._big.studies, strict=True):
            studies.append(self._study_variant(cfg, rs, spread))
        return dataclasses.replace(self._big, studies=tuple(studies))

    @staticmethod
    def _study_variant(cfg: StudyConfig, rs: ResolvedStudy, spread: float) -> ResolvedStudy:
        update: dict[str, Any] = {"crash_probability": 0.0}
        if spread != 1.0:
            if rs.calibration is not None:
                cal = rs.calibration
                new = {"duration": cal.duration.model_copy(
                    update={"sigma_log": cal.duration.sigma_log * spread})}
                if cal.energy is not None:
                    new["energy"] = cal.energy.model_copy(
                        update={"sigma_log": cal.energy.sigma_log * spread})
                update["calibration"] = cal.model_copy(update=new)
            elif cfg.duration is not None and hasattr(cfg.duration, "sigma"):
                dur = cfg.duration.model_copy(update={"sigma": cfg.duration.sigma * spread})
                update["duration"] = dur.build()
        return dataclasses.replace(rs, **update)

    def _jobs(self, spread: float) -> Jobs:
        key = round(spread, 12)
        if key not in self._cache:
            self._cache[key] = build_jobs(self._variant(spread), self.replicates,
                                          rng=self._stream())
        return self._cache[key]

    def _stream(self, *key: int) -> np.random.Generator:
        """A new generator on the root's stream (``key``: a child of it), the same every
        call: every evaluation uses the same random numbers (common random numbers)."""
        return as_generator(np.random.SeedSequence(self._entropy,
                                                   spawn_key=self._spawn_key + key))

    def _crash_draws(self, jobs: Jobs) -> tuple[np.ndarray, np.ndarray]:
        """Fixed uniforms ``(R, J)`` deciding crashes, and each job's crash length, hours."""
        if self._crash is None:
            rng = self._stream(1)  # a stream of its own, apart from the jobs'

            u = rng.random(jobs.duration_h.shape)
            crash_h = np.empty(jobs.duration_h.shape)
            for si, rs in enumerate(self._big.studies):
                model = rs.crash_duration
                if model is None:  # a crash at a uniformly random point of a typical trial
                    mean_s = getattr(rs.duration, "mean_s", None) or _typical_s(rs)
                    model = Uniform(1e-3 * mean_s, mean_s)
                cols = np.flatnonzero(jobs.study == si)
                crash_h[:, cols] = model.sample((u.shape[0], cols.size), rng=rng) / S_PER_H
            self._crash = (u, crash_h)
        return self._crash

    def _keep(self, jobs: Jobs, k: np.ndarray) -> np.ndarray:
        """Which jobs run when the number of trials is ``k`` × the base, ``(P, J)`` bool."""
        keep = np.ones((k.size, jobs.study.size), dtype=bool)
        first_instance = 0
        for si, (mode, n) in enumerate(zip(self._modes, self._n_base, strict=True)):
            n_keep = np.maximum(1, np.round(n * k))[:, None]
            in_study = (jobs.study == si)[None, :]
            if mode == "trials":
                keep &= ~in_study | (jobs.trial[None, :] < n_keep)
            else:
                keep &= ~in_study | ((jobs.instance - first_instance)[None, :] < n_keep)
            first_instance += self._big.studies[si].count
        return keep

    def _structural_totals(
        self, jobs: Jobs, k: np.ndarray, q: np.ndarray
    ) -> dict[str, np.ndarray]:
        """Schedule and account ``jobs`` at trials factors ``k`` and crash rates ``q``.

        Crashes follow the simulator's rule: a job crashes with its study's probability,
        runs for its crash length instead (if shorter), and the later jobs of its trial never
        run. The uniforms and crash lengths are the same for every point.
        """
        R, J = jobs.duration_h.shape
        P = k.size
        u, crash_h = self._crash_draws(jobs)
        p0 = np.array([s.failures.crash_probability for s in self.config.studies])
        if self.q_base > 0:
            p_job = p0[jobs.study][None, :] * (q / self.q_base)[:, None]  # (P, J)
        else:
            p_job = np.broadcast_to(q[:, None], (P, J))
        keep = self._keep(jobs, k)  # (P, J)
        rows = np.repeat(np.arange(P), R)  # point of each stacked row
        crashed = (u[None] < np.minimum(p_job, 0.99)[:, None, :]).reshape(P * R, J)
        # The simulator's crash rule, over every job of every instance: a trial is keyed by
        # its instance and its index within it.
        trial_key = jobs.instance * (int(jobs.trial.max()) + 1) + jobs.trial
        dur, state = apply_crashes(np.tile(jobs.duration_h, (P, 1)), np.tile(jobs.state, (P, 1)),
                                   crashed, np.tile(crash_h, (P, 1)), trial_key)
        runs = keep[rows] & (state != SKIPPED)
        stacked = dataclasses.replace(
            jobs,
            duration_h=np.where(runs, dur, 0.0),
            state=np.where(runs, state, SKIPPED).astype(np.int8),
            busy_kw=np.tile(jobs.busy_kw, (P, 1)),
            idle_kw=np.tile(jobs.idle_kw, (P, 1)),
            accelerator=np.tile(jobs.accelerator, (P, 1)),
            reached=np.tile(jobs.reached, (P, 1)),
            preemptions=np.tile(jobs.preemptions, (P, 1)),
        )
        sched = schedule(stacked, self.config.workers,
                         sequential=self.config.schedule == "sequential")
        chunk = totals(self.base, usage(self.base, stacked, sched))
        return {t: v.reshape(P, R) for t, v in chunk.campaign.items()}

    def evaluate(
        self,
        points: np.ndarray,
        *,
        spread_levels: Sequence[float] | None = None,
        progress: Progress | None = None,
    ) -> dict[str, np.ndarray]:
        """Totals at each point.

        Args:
            points: ``(P, 7)`` assumption values in :data:`ASSUMPTIONS` order (absolute PUE,
                g/kWh and crash probability; factors for the others).
            spread_levels: if given, each point's duration-spread factor is rounded to the
                nearest of these (each level costs one rebuild of the jobs).
            progress: called as ``progress(done, total)`` over the simulated points.

        Returns:
            ``{total: (P, replicates)}`` for each of :data:`TOTALS`, and ``wall_clock_h``.
        """
        points = np.atleast_2d(np.asarray(points, dtype=np.float64)).copy()
        idx = {n: i for i, n in enumerate(ASSUMPTIONS)}
        if points.shape[1] != len(ASSUMPTIONS):
            raise ConfigError(f"points must have {len(ASSUMPTIONS)} columns, got {points.shape}")
        if points[:, idx["n_trials"]].max() > self.k_max + 1e-9:
            raise ConfigError(
                f"number-of-trials factor {points[:, idx['n_trials']].max():g} exceeds "
                f"k_max={self.k_max:g}"
            )
        if spread_levels is not None:
            levels = np.asarray(sorted(spread_levels), dtype=np.float64)
            col = points[:, idx["duration_spread"]]
            points[:, idx["duration_spread"]] = levels[
                np.abs(col[:, None] - levels[None, :]).argmin(axis=1)
            ]
        cols = [idx[n] for n in _STRUCTURAL]
        struct, inverse = np.unique(np.round(points[:, cols], 12), axis=0, return_inverse=True)
        inverse = inverse.ravel()
        n_jobs = self._big_n_jobs()
        per_chunk = max(1, _ELEMENTS_PER_CHUNK // max(1, n_jobs * self.replicates))
        base_totals: dict[str, np.ndarray] = {
            t: np.empty((len(struct), self.replicates)) for t in (*TOTALS, "wall_clock_h")
        }
        done = 0
        for spread in np.unique(struct[:, 0]):
            jobs = self._jobs(float(spread))
            which = np.flatnonzero(struct[:, 0] == spread)
            for start in range(0, which.size, per_chunk):
                sel = which[start:start + per_chunk]
                out = self._structural_totals(jobs, struct[sel, 1], struct[sel, 2])
                for t in base_totals:
                    base_totals[t][sel] = out[t]
                done += sel.size
                if progress is not None:
                    progress(done, len(struct))
        m = {t: v[inverse] for t, v in base_totals.items()}
        return _scaled(m, points[:, idx["pue"]], points[:, idx["power"]],
                       points[:, idx["price"]], points[:, idx["grid_intensity"]], self.base)

    def _big_n_jobs(self) -> int:
        return int(self._jobs(1.0).duration_h.shape[1])



def _scaled(m: Mapping[str, np.ndarray], pue: np.ndarray, power: np.ndarray,
            price: np.ndarray, ci: np.ndarray, base: ResolvedCampaign) -> dict[str, np.ndarray]:
    """Totals ``m`` (``(P, R)`` at the base PUE, power, price and intensity) at each point's
    PUE, power factor, price factor and intensity (each ``(P,)``): the exact scalings."""
    f_energy = (pue / base.pue * power)[:, None]
    energy = m["energy_kwh"] * f_energy
    ci0 = base.g_co2e_per_kwh
    if ci0 > 0:
        co2 = m["co2e_kg"] * f_energy * ci[:, None] / ci0
    else:  # intensity assumed 0: CO2e is energy × the point's intensity
        co2 = np.asarray(accounting.co2e_kg(energy, ci[:, None]))
    return {
        "energy_kwh": energy,
        "co2e_kg": co2,
        "cost_usd": m["cost_usd"] * price[:, None],
        "electricity_usd": m["electricity_usd"] * f_energy * price[:, None],
        "wall_clock_h": m["wall_clock_h"],
    }


def _typical_s(rs: ResolvedStudy) -> float:
    if rs.calibration is not None:
        rng = as_generator(0)
        params = rs.calibration.sample_params(1024, rng=rng)
        return float(rs.calibration.predict_duration_s(params).mean())
    return S_PER_H


SCALE_ASSUMPTIONS = ("pue", "grid_intensity", "power", "price")
"""The assumptions that scale the simulated totals exactly, so they need no re-simulation."""


class ScaledTotalsModel:
    """A campaign's totals as a function of the four scaling assumptions, from one simulation.

    For campaigns that only the event-driven replay can simulate (real samplers, pruners and
    schedulers: each replicate is a loop, far too slow to re-run per tornado or Sobol point),
    PUE, grid intensity, IT power and price are applied as exact factors on the replay's own
    per-replicate totals; the structural assumptions (duration spread, number of trials,
    failure rate) are not varied, and the report says so.

    Args:
        metrics: the simulation's per-replicate totals (``CampaignResult.metrics``): at least
            :data:`TOTALS` and ``wall_clock_h``, each ``(replicates,)``.
        campaign: the resolved campaign (its PUE and grid intensity are the base values).
        seed: the simulation's seed (reported).
    """

    names = SCALE_ASSUMPTIONS

    def __init__(self, metrics: Mapping[str, np.ndarray], campaign: ResolvedCampaign, *,
                 seed: int) -> None:
        self.base = campaign
        self.metrics = {t: np.asarray(metrics[t], dtype=np.float64)
                        for t in (*TOTALS, "wall_clock_h")}
        self.replicates = int(self.metrics["energy_kwh"].size)
        self.seed = seed

    def evaluate(self, points: np.ndarray, *, spread_levels: Sequence[float] | None = None,
                 progress: Progress | None = None) -> dict[str, np.ndarray]:
        """Totals at each point: ``(P, 4)`` values in :data:`SCALE_ASSUMPTIONS` order.

        Returns ``{total: (P, replicates)}`` for each of :data:`TOTALS`, and ``wall_clock_h``.
        """
        points = np.atleast_2d(np.asarray(points, dtype=np.float64))
        if points.shape[1] != len(SCALE_ASSUMPTIONS):
            raise ConfigError(
                f"points must have {len(SCALE_ASSUMPTIONS)} columns, got {points.shape}")
        idx = {n: i for i, n in enumerate(SCALE_ASSUMPTIONS)}
        shape = (len(points), self.replicates)
        m = {t: np.broadcast_to(v[None, :], shape) for t, v in self.metrics.items()}
        if progress is not None:
            progress(len(points), len(points))
        return _scaled(m, points[:, idx["pue"]], points[:, idx["power"]],
                       points[:, idx["price"]], points[:, idx["grid_intensity"]], self.base)
