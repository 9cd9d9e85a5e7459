"""Which assumption moves a campaign's totals most: one-at-a-time (tornado) and Sobol indices.

Seven assumptions, each a range around the campaign's own value (:func:`default_assumptions`):

* ``pue``, ``grid_intensity``, ``power`` (IT power per trial, accelerator and host), ``price``
  (rental rate and electricity price): these scale totals exactly (energy is linear in PUE
  and power; CO2e in energy and intensity; dollars in price), so they are applied as factors
  on the simulated totals;
* ``duration_spread`` (the log-sd ``sigma`` of every study's duration model, or the residual
  spread of a calibrated one; the mean or median the config states is kept),
  ``failure_rate`` (crash probability per job) and ``n_trials`` (trials per study, or
  study instances for strategies whose trials are not independent): these change the jobs, so
  the vectorised simulator is re-run, with a fixed seed so every evaluation uses the same
  random numbers (common random numbers: differences come from the assumption, not from
  sampling noise).

:func:`tornado` moves one assumption at a time to each end of its range; :func:`sobol`
samples all of them at once (SALib's Sobol' sequence and estimator) and splits the variance of
each total into first-order and total-effect indices. :func:`sobol_indices` is the generic
SALib wrapper both use (tested on the Ishigami function).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunecost import accounting
from tunecost._rng import RngLike, as_generator, root_sequence
from tunecost.config import CampaignConfig, StudyConfig
from tunecost.durations import Uniform
from tunecost.exceptions import ConfigError, MissingExtraError
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

__all__ = [
    "ASSUMPTIONS",
    "SCALE_ASSUMPTIONS",
    "Assumption",
    "ScaledTotalsModel",
    "SobolResult",
    "TornadoResult",
    "TotalsModel",
    "default_assumptions",
    "sobol",
    "sobol_indices",
    "tornado",
]

Progress = Callable[[int, int], None]

SPREAD_LEVELS = 9
"""Levels of the duration spread in a Sobol analysis (each costs one rebuild of the jobs)."""

ASSUMPTIONS = (
    "pue",
    "grid_intensity",
    "power",
    "price",
    "duration_spread",
    "n_trials",
    "failure_rate",
)
"""The assumptions, in the order they are reported."""

LABELS = {
    "pue": "PUE",
    "grid_intensity": "grid intensity (g/kWh)",
    "power": "IT power per trial (× base)",
    "price": "price (× base $/GPU-h and $/kWh)",
    "duration_spread": "duration spread (× base sigma)",
    "n_trials": "number of trials (× base)",
    "failure_rate": "failure rate (crash prob. per job)",
}

SHORT = {
    "pue": "PUE",
    "grid_intensity": "grid intensity",
    "power": "IT power per trial",
    "price": "price",
    "duration_spread": "duration spread",
    "n_trials": "number of trials",
    "failure_rate": "failure rate",
}

TOTALS = ("energy_kwh", "co2e_kg", "cost_usd", "electricity_usd")
"""Totals every evaluation returns (dollars are NaN where the campaign has no price)."""

RANK_BY = ("energy_kwh", "co2e_kg", "cost_usd", "electricity_usd")
"""Totals the tornado ranks by: kWh, CO2e and dollars, each by its swing relative to its base
(grid intensity moves CO2e alone; price moves dollars alone)."""

_STRUCTURAL = ("duration_spread", "n_trials", "failure_rate")
_ELEMENTS_PER_CHUNK = 2_000_000
"""Bound on one stacked ``(points × replicates, jobs)`` array, as in the simulator."""


@dataclass(frozen=True, slots=True)
class Assumption:
    """One assumption's base value and the range it is moved over.

    Attributes:
        name: a key of :data:`ASSUMPTIONS`.
        base, low, high: the campaign's value and the ends of the range, in ``unit``.
        unit: what the numbers are (``"g/kWh"``, ``"× base"``, ...).
        why: where the range comes from, for the report.
    """

    name: str
    base: float
    low: float
    high: float
    unit: str
    why: str

    def __post_init__(self) -> None:
        if not (self.low <= self.base <= self.high) or self.low == self.high:
            raise ConfigError(
                f"assumption {self.name!r}: `low <= base <= high` and `low < high` must hold, "
                f"but got low={self.low!r}, base={self.base!r}, high={self.high!r}"
            )

    @property
    def label(self) -> str:
        """Name and unit, for tables and plots."""
        return LABELS[self.name]

    @property
    def short(self) -> str:
        """Name only, for sentences."""
        return SHORT[self.name]


def _mean_crash(cfg: CampaignConfig) -> float:
    ps = [s.failures.crash_probability for s in cfg.studies]
    weights = [s.count for s in cfg.studies]
    return float(np.average(ps, weights=weights))


def default_assumptions(
    campaign: ResolvedCampaign, overrides: Mapping[str, tuple[float, float]] | None = None
) -> list[Assumption]:
    """The seven assumptions with the default ranges, or ``overrides[name] = (low, high)``.

    Defaults: PUE from 1.10 (Google's fleet) to 1.59 (the global average; Dodge et al. 2022),
    widened to include the campaign's own; grid intensity ±40 % (average vs marginal intensity,
    year to year); IT power ±20 % (measured draw vs nameplate); price −50 %/+50 % (spot vs
    on-demand, region); duration spread ×0.5–×1.5; number of trials ×0.8–×1.25 (campaigns
    overrun more often than they stop early); failure rate 0 to 3× the campaign's (at least
    0 to 5 %).
    """
    cfg = campaign.config
    pue, ci = campaign.pue, campaign.g_co2e_per_kwh
    q = _mean_crash(cfg)
    specs = {
        "pue": (pue, min(pue, 1.10), max(pue, 1.59), "",
                "1.10 (hyperscale fleet) to 1.59 (global average), Dodge et al. 2022"),
        "grid_intensity": (ci, 0.6 * ci, 1.4 * ci, "g/kWh", "±40 %: average vs marginal, year"),
        "power": (1.0, 0.8, 1.2, "× base", "±20 %: measured draw vs nameplate"),
        "price": (1.0, 0.5, 1.5, "× base", "±50 %: spot vs on-demand, region"),
        "duration_spread": (1.0, 0.5, 1.5, "× base", "×0.5 to ×1.5 the log-sd, mean kept"),
        "n_trials": (1.0, 0.8, 1.25, "× base", "−20 % to +25 %: campaigns overrun"),
        "failure_rate": (q, 0.0, min(0.9, max(3 * q, 0.05)), "", "0 to 3× the campaign's"),
    }
    overrides = dict(overrides or {})
    unknown = set(overrides) - set(ASSUMPTIONS)
    if unknown:
        raise ConfigError(
            f"unknown assumption(s) {sorted(unknown)}; known: {', '.join(ASSUMPTIONS)}"
        )
    out = []
    for name in ASSUMPTIONS:
        base, low, high, unit, why = specs[name]
        if name in overrides:
            low, high = (float(v) for v in overrides[name])
            why = "given"
            if not low <= base <= high:
                raise ConfigError(
                    f"the range of {name!r} must contain its base value {base:g}, "
                    f"got ({low:g}, {high:g})"
                )
        if name == "grid_intensity" and base == 0:
            low, high, why = 0.0, 1.0, "base is 0 g/kWh: range 0 to 1 g/kWh"
        out.append(Assumption(name, float(base), float(low), float(high), unit, why))
    return out


# --------------------------------------------------------------------------------------------
# Evaluating the campaign at given assumption values
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Tornado
# --------------------------------------------------------------------------------------------


def dollars_key(totals: Mapping[str, Any]) -> str:
    """The dollar total reported: cloud rental when priced, else the electricity bill."""
    cost = np.asarray(totals["cost_usd"], dtype=float)
    return "electricity_usd" if np.isnan(cost).all() else "cost_usd"


@dataclass(frozen=True, slots=True)
class TornadoResult:
    """One-at-a-time swings of the totals.

    Attributes:
        assumptions: the ranges, in :data:`ASSUMPTIONS` order.
        base: total → value at every base value (mean over replicates).
        low, high: assumption → total → value with that assumption at its low / high end.
        ranking: assumption names, the one that moves the totals most first (largest
            relative swing of :data:`RANK_BY`: kWh, CO2e, cloud dollars, electricity dollars).
        score: assumption → that largest relative swing, (max − min) / base.
        dollars: which dollar total the ranking uses (``cost_usd`` or ``electricity_usd``).
        replicates, seed: of every evaluation.
    """

    assumptions: list[Assumption]
    base: dict[str, float]
    low: dict[str, dict[str, float]]
    high: dict[str, dict[str, float]]
    ranking: list[str]
    score: dict[str, float]
    dollars: str
    replicates: int
    seed: int

    def swing(self, name: str, total: str) -> float:
        """``|value at high − value at low|`` of ``total`` for assumption ``name``."""
        return abs(self.high[name][total] - self.low[name][total])

    def headline(self) -> str:
        """One line: which assumption moves the totals most, and by how much."""
        top = self.ranking[0]
        a = next(x for x in self.assumptions if x.name == top)
        labels = {"energy_kwh": ("energy", "{} kWh"), "co2e_kg": ("CO2e", "{} kg"),
                  "cost_usd": ("cloud cost", "${}"), "electricity_usd": ("electricity", "${}")}
        moved = [
            f"{labels[t][0]} by {labels[t][1].format(_sig(self.swing(top, t)))}"
            for t in RANK_BY
            if self.swing(top, t) > 0 and (t != "electricity_usd" or self.dollars == t)
        ]
        return (
            f"{a.short[0].upper()}{a.short[1:]} moves the totals most "
            f"({100 * self.score[top]:.0f} % of its base): over {_fmt_range(a)} ({a.why}) it "
            f"moves {', '.join(moved) or 'nothing'}."
        )

    def to_rows(self) -> list[dict[str, Any]]:
        """One row per assumption and end, for CSV/JSON."""
        rows = []
        for a in self.assumptions:
            for end, value in (("low", a.low), ("high", a.high)):
                vals = (self.low if end == "low" else self.high)[a.name]
                rows.append({"assumption": a.name, "end": end, "value": value, **vals})
        return rows


def _sig(x: float) -> str:
    """Three significant figures (all the integer digits), thousands separated."""
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    return f"{x:,.{max(0, 2 - int(math.floor(math.log10(abs(x)))))}f}"


def _fmt_range(a: Assumption) -> str:
    unit = f" {a.unit}" if a.unit and a.unit != "× base" else ""
    if a.unit == "× base":
        return f"×{a.low:g}–×{a.high:g}"
    return f"{a.low:.4g}–{a.high:.4g}{unit}"


def tornado(
    model: TotalsModel,
    assumptions: Sequence[Assumption],
    *,
    progress: Progress | None = None,
) -> TornadoResult:
    """Move each assumption to both ends of its range, the others at their base values."""
    base = np.array([a.base for a in assumptions])
    points = [base]
    for i, a in enumerate(assumptions):
        for v in (a.low, a.high):
            p = base.copy()
            p[i] = v
            points.append(p)
    totals = model.evaluate(np.array(points), progress=progress)
    means = {t: np.nanmean(v, axis=1) if not np.isnan(v).all() else np.full(len(v), np.nan)
             for t, v in totals.items() if t in TOTALS}
    base_vals = {t: float(means[t][0]) for t in TOTALS}
    low, high = {}, {}
    for i, a in enumerate(assumptions):
        low[a.name] = {t: float(means[t][1 + 2 * i]) for t in TOTALS}
        high[a.name] = {t: float(means[t][2 + 2 * i]) for t in TOTALS}
    dollars = dollars_key(base_vals)
    score = {}
    for a in assumptions:
        rel = []
        for t in RANK_BY:
            b = base_vals[t]
            if b and not math.isnan(b):
                rel.append(abs(high[a.name][t] - low[a.name][t]) / abs(b))
        score[a.name] = max(rel) if rel else 0.0
    ranking = sorted(
        (a.name for a in assumptions),
        key=lambda n: (-round(score[n], 9), -abs(high[n]["energy_kwh"] - low[n]["energy_kwh"])),
    )
    return TornadoResult(
        list(assumptions), base_vals, low, high, ranking, score, dollars,
        model.replicates, model.seed,
    )


# --------------------------------------------------------------------------------------------
# Sobol
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SobolResult:
    """Variance-based indices of each total.

    Attributes:
        names: the inputs.
        indices: total → ``{"S1", "S1_conf", "ST", "ST_conf"}`` → one value per input
            (NaN for a total with no variance, e.g. dollars without prices).
        n_base: SALib's base sample size ``N``; ``n_evals`` = ``N × (D + 2)``.
    """

    names: list[str]
    indices: dict[str, dict[str, list[float]]]
    n_base: int
    n_evals: int
    seed: int

    def to_rows(self) -> list[dict[str, Any]]:
        rows = []
        for total, idx in self.indices.items():
            for i, name in enumerate(self.names):
                rows.append({"total": total, "assumption": name,
                             **{k: idx[k][i] for k in ("S1", "S1_conf", "ST", "ST_conf")}})
        return rows


def _salib() -> tuple[Any, Any]:
    try:
        from SALib.analyze import sobol as analyze
        from SALib.sample import sobol as sample
    except ImportError:  # pragma: no cover - depends on the environment
        raise MissingExtraError("SALib", "sensitivity") from None
    return sample, analyze


def _int_seed(rng: RngLike) -> int:
    """An int seed for a library that takes only ints (SALib)."""
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool):
        return int(rng)
    return int(root_sequence(rng).generate_state(1, np.uint32)[0])


def sobol_indices(
    func: Callable[[np.ndarray], Mapping[str, np.ndarray]],
    names: Sequence[str],
    bounds: Sequence[tuple[float, float]],
    *,
    n_base: int,
    rng: RngLike = 0,
) -> SobolResult:
    """First-order and total Sobol indices of each output of ``func`` (SALib, Saltelli scheme).

    Args:
        func: maps an ``(n, D)`` array of inputs to ``{output: (n,) values}``.
        names, bounds: the inputs and their uniform ranges.
        n_base: SALib's ``N``, a power of 2; ``func`` sees ``N × (D + 2)`` rows.
        rng: seeds the scrambled Sobol' sequence and the bootstrap intervals (SALib takes an
            int: an int is passed as it is, anything else gives one draw of 32 bits).
    """
    seed = _int_seed(rng)
    if n_base < 2 or n_base & (n_base - 1):
        raise ConfigError(f"n_base must be a power of 2 >= 2, got {n_base}")
    sample, analyze = _salib()
    problem = {"num_vars": len(names), "names": list(names), "bounds": [list(b) for b in bounds]}
    X = sample.sample(problem, n_base, calc_second_order=False, seed=seed)
    Y = func(X)
    indices = {}
    for out, y in Y.items():
        y = np.asarray(y, dtype=np.float64)
        if np.isnan(y).any() or np.ptp(y) == 0:
            nan = [float("nan")] * len(names)
            indices[out] = {"S1": nan, "S1_conf": nan, "ST": nan, "ST_conf": nan}
            continue
        res = analyze.analyze(problem, y, calc_second_order=False, seed=seed)
        indices[out] = {k: [float(v) for v in res[k]] for k in ("S1", "S1_conf", "ST", "ST_conf")}
    return SobolResult(list(names), indices, n_base, len(X), seed)


def sobol(
    model: TotalsModel,
    assumptions: Sequence[Assumption],
    *,
    n_base: int,
    rng: RngLike = 0,
    progress: Progress | None = None,
) -> SobolResult:
    """Sobol indices of the campaign totals over the assumptions' ranges (uniform).

    The duration spread is evaluated at :data:`SPREAD_LEVELS` evenly spaced levels (each
    level rebuilds every job); the other assumptions take every sampled value.
    """

    spread = next((a for a in assumptions if a.name == "duration_spread"), None)
    levels = None
    if spread is not None:
        levels = sorted({*np.linspace(spread.low, spread.high, SPREAD_LEVELS), spread.base})

    def func(X: np.ndarray) -> dict[str, np.ndarray]:
        totals = model.evaluate(X, spread_levels=levels, progress=progress)
        return {t: v.mean(axis=1) for t, v in totals.items() if t in TOTALS}

    return sobol_indices(
        func,
        [a.name for a in assumptions],
        [(a.low, a.high) for a in assumptions],
        n_base=n_base,
        rng=rng,
    )


# --------------------------------------------------------------------------------------------
# Campaigns only the replay can simulate
# --------------------------------------------------------------------------------------------

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
