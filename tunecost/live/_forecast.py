"""The live forecast: a running study's final totals, from what it has run so far.

:func:`forecast` recalibrates on the study's finished trials (cost models, learning curves,
set-up and per-trial overhead: :func:`~tunecost.calibrate.fit_calibration`, the same fit
``tunecost calibrate`` runs), then replays the **remaining** trials with the replay engine
(:func:`~tunecost.simulate.events.run_events`), each replicate continuing the real study: a
copy of the real sampler, reseeded, told the real finished trials; a copy of the real pruner
comparing against their real curves; the trials running now first. What is spent is measured
(:func:`~tunecost.live.totals.spent`); the final totals are spent + each replicate's
remainder, so the band narrows as the study runs and is exact when it ends.

Before ``min_trials`` measured trials exist, a prior calibration given by the user is used
(``basis == "prior"``); without one the forecast has no band (``basis == "none"``), and a
budget can still stop on what is spent.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from tunecost._rng import root_sequence
from tunecost.calibrate.calibration import Calibration
from tunecost.calibrate.records import TrialRecord
from tunecost.exceptions import ConfigError
from tunecost.live.settings import ForecastSettings
from tunecost.live.so_far import StudySoFar
from tunecost.live.totals import energy_scope, priced, spent
from tunecost.units import S_PER_H

__all__ = ["Basis", "Forecast", "forecast"]

Basis = Literal["recalibrated", "prior", "finished", "none"]

ATTR = "tunecost:"
"""Prefix of the study user attributes a forecast is stored under (:meth:`Forecast.attrs`)."""


@dataclass(frozen=True)
class Forecast:
    """A study's totals spent so far and forecast at its end.

    Attributes:
        study: the study's name.
        basis: ``recalibrated`` (on the study's own finished trials), ``prior`` (the user's
            calibration), ``finished`` (no trial left: the final totals are the spent ones),
            ``none`` (too few trials and no prior: no band).
        n_trials: trials the study runs in all.
        n_finished, n_running: trials finished / running now.
        now_s: the moment of the forecast, POSIX s.
        spent: metric -> total so far (:data:`~tunecost.live.settings.METRICS`).
        p5, p50, p95: metric -> the final total's percentile (empty for ``none``).
        completion_s: ``p5``/``p50``/``p95`` -> when the study ends, POSIX s.
        replicates: replays behind the percentiles.
        compute_s: seconds the forecast took.
        notes: what was assumed or refused, one line each.
        calibration: the calibration the remaining trials were replayed from.
        theta_trials: trials the refit's learning-curve hyperparameters were chosen on (a
            later forecast reuses them until the study has twice as many).
    """

    study: str
    basis: Basis
    n_trials: int
    n_finished: int
    n_running: int
    now_s: float
    spent: dict[str, float]
    p5: dict[str, float] = field(default_factory=dict)
    p50: dict[str, float] = field(default_factory=dict)
    p95: dict[str, float] = field(default_factory=dict)
    completion_s: dict[str, float] = field(default_factory=dict)
    replicates: int = 0
    compute_s: float = 0.0
    notes: tuple[str, ...] = ()
    calibration: Calibration | None = field(default=None, repr=False, compare=False)
    theta_trials: int = 0

    def attrs(self) -> dict[str, Any]:
        """Flat study user attributes (what optuna-dashboard shows as columns):
        ``tunecost:spent_energy_kwh``, ``tunecost:forecast_energy_kwh_p50``, ...,
        ``tunecost:forecast_completion_p50`` (POSIX s), ``tunecost:forecast_basis``,
        ``tunecost:forecast_n_finished``, ``tunecost:forecast_time``."""
        out: dict[str, Any] = {f"{ATTR}spent_{k}": v for k, v in self.spent.items()}
        for q in ("p5", "p50", "p95"):
            for k, v in getattr(self, q).items():
                out[f"{ATTR}forecast_{k}_{q}"] = v
            if q in self.completion_s:
                out[f"{ATTR}forecast_completion_{q}"] = self.completion_s[q]
        out[f"{ATTR}forecast_basis"] = self.basis
        out[f"{ATTR}forecast_n_finished"] = self.n_finished
        out[f"{ATTR}forecast_time"] = self.now_s
        return out

    def to_dict(self) -> dict[str, Any]:
        """The forecast as JSON-ready data (``schema_version`` 1)."""
        return {"schema_version": 1, "study": self.study, "basis": self.basis,
                "n_trials": self.n_trials, "n_finished": self.n_finished,
                "n_running": self.n_running, "now_s": self.now_s, "spent": self.spent,
                "p5": self.p5, "p50": self.p50, "p95": self.p95,
                "completion_s": self.completion_s, "replicates": self.replicates,
                "compute_s": round(self.compute_s, 4), "notes": list(self.notes)}

    def line(self, metric: str = "energy_kwh") -> str:
        """One log line: trials, the metric spent and its final band, the P50 end."""
        unit = {"energy_kwh": "kWh", "co2e_kg": "kgCO2e", "usd": "$", "device_hours": "h",
                "wall_clock_h": "h", "trials": "trials"}[metric]
        head = (f"tunecost forecast {self.study!r} [{self.basis}] {self.n_finished}/"
                f"{self.n_trials} trials: {metric} spent {_g(self.spent.get(metric))} {unit}")
        if not self.p50:
            return head + " (no forecast yet: " + "; ".join(self.notes[-1:]) + ")"
        end = clock(self.completion_s["p50"], self.now_s)
        return (f"{head}, final P50 {_g(self.p50.get(metric))} [P5 {_g(self.p5.get(metric))}, "
                f"P95 {_g(self.p95.get(metric))}] {unit}; ends ~{end} (P50)")


def _g(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4g}"


def clock(t_s: float, now_s: float) -> str:
    """``14:03:12 (+2.5 min)``: a moment as local time and how far ahead of ``now_s``; the
    date too beyond a day; only the distance where the moment is past what a calendar
    prints (a forecast of centuries is a forecast, not a time to print).

    >>> clock(1000.0, 1000.0)[-8:].count(":")
    2
    >>> clock(1e300, 0.0)
    '+3.2e+292 years'
    """
    ahead = t_s - now_s
    rel = (f"{ahead:.0f} s" if ahead < 90 else f"{ahead / 60:.1f} min" if ahead < 5400
           else f"{ahead / 3600:.1f} h")
    try:
        if not ahead < 3.15e9:  # a century
            raise OverflowError
        day = "%Y-%m-%d " if ahead > 86400 else ""
        stamp = time.strftime(f"{day}%H:%M:%S", time.localtime(t_s))
    except (OverflowError, OSError, ValueError):
        return f"+{ahead / 3.15576e7:.2g} years"
    return stamp + (f" (+{rel})" if ahead > 0.5 else "")


def forecast(source: Any, *, n_trials: int | None = None,
             settings: ForecastSettings | None = None, now_s: float | None = None,
             previous: Forecast | None = None, **options: Any) -> Forecast:
    """Forecast a study's final totals from what it has run so far.

    Args:
        source: an ``optuna.Study`` (live: its storage's trials now, its sampler and pruner),
            a :class:`~tunecost.live.StudySoFar`, or finished trials' records (with
            ``strategy`` in the settings for the remaining trials' search).
        n_trials: trials the study runs in all (or in ``settings``).
        settings: all options at once; else ``options`` are
            :class:`~tunecost.live.ForecastSettings` fields.
        now_s: the moment, POSIX s (default: now for a live study, else the last trial's
            end).
        previous: the study's last forecast: its refit's learning-curve hyperparameters are
            reused until the study has twice the trials they were chosen on (a refit then
            costs solves, not an optimisation: what keeps a callback's update short).

    Returns:
        The :class:`Forecast`.

    Raises:
        ConfigError: a setting breaks its rule, records without a ``strategy``, a prior that
            does not load.
        pydantic.ValidationError: a settings field breaks its rule.

    Example:
        >>> import optuna, tunecost
        >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
        >>> study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        >>> f = tunecost.forecast(study, n_trials=20)
        >>> f.basis, f.spent["trials"]
        ('none', 0.0)
    """
    t0 = time.perf_counter()
    if settings is None:
        settings = ForecastSettings(n_trials=n_trials, **options)
    elif n_trials is not None or options:  # validated again: a copy would not check them
        settings = ForecastSettings.model_validate(
            {**settings.model_dump(), **options,
             "n_trials": n_trials if n_trials is not None else settings.n_trials})
    so_far = _so_far(source, now_s)
    records = list(so_far.records)
    scope = energy_scope(records)
    done, unmeasured = spent(records, settings, elapsed_s=so_far.elapsed_s, scope=scope)
    notes: list[str] = []
    if unmeasured:
        notes.append(f"{unmeasured} finished trial(s) have no energy reading and count 0 J: "
                     "wrap the objective in tunecost.calibrate.measured")
    base = {"study": so_far.name, "n_trials": settings.n_trials, "n_finished": len(records),
            "n_running": len(so_far.running), "now_s": so_far.now_s, "spent": done}
    remaining = settings.n_trials - len(records)
    if remaining <= 0:
        final = dict(done)
        return Forecast(basis="finished", p5=final, p50=final, p95=final,
                        completion_s={q: so_far.now_s for q in ("p5", "p50", "p95")},
                        compute_s=time.perf_counter() - t0, notes=tuple(notes), **base)
    with tempfile.TemporaryDirectory(prefix="tunecost-forecast-") as tmp:
        basis, cal, theta_trials = _calibration(so_far, settings, notes, previous)
        if cal is None:
            return Forecast(basis="none", compute_s=time.perf_counter() - t0,
                            notes=tuple(notes), **base)
        if basis == "prior":
            cal_path = Path(str(settings.prior))  # replayed from the user's file as it is
        else:
            cal_path = Path(tmp) / "calibration.json"
            cal.save(cal_path)
        result = _replay(so_far, settings, cal_path, remaining)
    m = result.metrics
    trial_kwh = m["energy_kwh"] - m["waiting_energy_kwh"] - m["overhead_energy_kwh"]
    final = priced({
        "trials": done["trials"] + m["n_trials"],
        "device_hours": done["device_hours"] + m["gpu_hours"],
        "wall_clock_h": done["wall_clock_h"] + m["wall_clock_h"],
        "energy_kwh": done["energy_kwh"] + trial_kwh,
    }, settings)
    bad = [k for k, v in final.items() if not np.all(np.isfinite(v))]
    if bad:  # never a NaN or infinite total: say so, the callers keep counting what is spent
        raise ConfigError(f"the replay of the remaining trials gave non-finite {bad[0]} "
                          f"(basis {basis}, {len(records)} finished trials); give a prior "
                          "calibration or wait for more trials")
    q = {k: np.percentile(v, [5, 50, 95]) for k, v in final.items()}
    ends = so_far.now_s + np.percentile(m["wall_clock_h"], [5, 50, 95]) * S_PER_H
    return Forecast(
        basis=basis,
        p5={k: float(v[0]) for k, v in q.items()},
        p50={k: float(v[1]) for k, v in q.items()},
        p95={k: float(v[2]) for k, v in q.items()},
        completion_s=dict(zip(("p5", "p50", "p95"), map(float, ends), strict=True)),
        replicates=settings.replicates, compute_s=time.perf_counter() - t0,
        notes=tuple(notes), calibration=cal, theta_trials=theta_trials, **base)


def _so_far(source: Any, now_s: float | None) -> StudySoFar:
    if isinstance(source, StudySoFar):
        return source
    if isinstance(source, Sequence) and all(isinstance(r, TrialRecord) for r in source):
        return StudySoFar.from_records(source, now_s=now_s)
    if hasattr(source, "study_name") and hasattr(source, "get_trials"):
        return StudySoFar.from_optuna(source, now_s=now_s)
    raise ConfigError(f"forecast takes an optuna.Study, a StudySoFar or a list of "
                      f"TrialRecord, but got {type(source).__name__}")


def space_of(distributions: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """A calibration search space (``fit_calibration(space=...)``) from Optuna
    distributions, so the fit knows the whole space the study asks, not only the part its
    first trials saw."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out: dict[str, dict[str, Any]] = {}
    for name, d in distributions.items():
        if isinstance(d, CategoricalDistribution):
            out[name] = {"type": "categorical", "choices": list(d.choices)}
        elif isinstance(d, IntDistribution):
            out[name] = {"type": "int", "low": d.low, "high": d.high, "log": d.log,
                         **({} if d.log or d.step == 1 else {"step": d.step})}
        elif isinstance(d, FloatDistribution):
            out[name] = {"type": "float", "low": d.low, "high": d.high, "log": d.log}
    return out


def _calibration(so_far: StudySoFar, settings: ForecastSettings, notes: list[str],
                 previous: Forecast | None) -> tuple[Basis, Calibration | None, int]:
    """The calibration to replay from, its basis, and the trials its curve hyperparameters
    were chosen on; ``("none", None, 0)`` without one.

    The study is refitted on its measured trials once it has
    :attr:`~tunecost.live.ForecastSettings.trials_to_refit` of them; before that (or if the
    refit fails) the prior is used.
    """
    from tunecost.calibrate import fit_calibration

    fit_on = [r for r in so_far.records if r.state in ("COMPLETE", "PRUNED")]
    need = settings.trials_to_refit
    if settings.calibration == "auto" and len(fit_on) >= need:
        theta, theta_trials = None, len(fit_on)
        if (previous is not None and previous.basis == "recalibrated"
                and previous.calibration is not None
                and previous.calibration.curve_model is not None
                and len(fit_on) < 2 * previous.theta_trials):
            theta, theta_trials = previous.calibration.curve_model.theta, previous.theta_trials
        try:
            refit = fit_calibration(
                fit_on, accelerator=_accelerator_for_fit(fit_on, settings),
                n_folds=min(5, len(fit_on)), space=_space(so_far, settings),
                direction=so_far.direction, rng=settings.seed, curve_theta=theta)
        except ConfigError as exc:
            notes.append(f"recalibration on {len(fit_on)} trials failed: {exc}")
        else:
            return "recalibrated", refit, theta_trials
    elif settings.calibration == "auto":
        notes.append(f"{len(fit_on)} of the {need} finished trials needed to recalibrate")
    if settings.prior is not None:
        return "prior", Calibration.load(settings.prior), 0  # a bad prior fails in one line
    notes.append("no prior calibration given (prior=...): no forecast until then")
    return "none", None, 0


def _space(so_far: StudySoFar, settings: ForecastSettings) -> dict[str, Any] | None:
    """The space the study searches: the settings', else the live study's distributions."""
    if settings.space is not None:
        return settings.space
    return space_of(so_far.distributions) if so_far.distributions else None


def _accelerator_for_fit(records: Sequence[TrialRecord],
                         settings: ForecastSettings) -> str | None:
    if settings.accelerator not in (None, "cpu"):
        return settings.accelerator
    return next((r.accelerator for r in records if r.accelerator), None)


def _replay(so_far: StudySoFar, settings: ForecastSettings, cal_path: Path,
            remaining: int) -> Any:
    """Replay the remaining trials ``settings.replicates`` times, continuing the study."""
    from tunecost.config import CampaignConfig
    from tunecost.simulate.events import Continuation, policy_class, run_events

    accelerator = (settings.accelerator
                   or next((r.accelerator for r in so_far.records if r.accelerator), None)
                   or "cpu")
    workers = settings.workers or so_far.workers_seen
    continuation = None
    if so_far.sampler is not None:
        # The real sampler replaces the config's; the config asks for SciPy's log_ndtr in
        # TPE (proposals equal to 1e-12, half the ask time).
        strategy: dict[str, Any] = {"kind": "optuna", "n_trials": remaining,
                                    "sampler": {"name": "TPESampler", "fast_log_ndtr": True},
                                    "objective": {"direction": so_far.direction}}
        continuation = Continuation(
            study_name=so_far.name, trials=list(so_far.frozen), sampler=so_far.sampler,
            pruner=so_far.pruner, distributions=so_far.distributions,
            running=list(so_far.running)[:remaining], horizon=settings.horizon)
    elif settings.strategy is not None:
        strategy = {**settings.strategy, "n_trials": remaining}
    else:
        raise ConfigError("a forecast from records needs the remaining trials' search: give "
                          "strategy={'kind': 'ray_tune', 'scheduler': {...}} or a live "
                          "optuna.Study")
    cfg = CampaignConfig.model_validate({
        "name": f"forecast-{so_far.name}", "workers": workers, "pue": settings.pue,
        "carbon": {"g_co2e_per_kwh": settings.g_co2e_per_kwh or 0.0},
        "studies": [{"name": so_far.name, "strategy": strategy,
                     "hardware": {"accelerator": accelerator},
                     "host_power_w": settings.host_power_w,
                     "calibration": {"path": str(cal_path),
                                     "search_space": _space(so_far, settings)}}]})
    if continuation is None and policy_class(cfg.studies[0].strategy.build()).continues:
        # A scheduler continues from the finished trials' curves (ASHA's rungs).
        continuation = Continuation(study_name=so_far.name, curves=[
            [p.value for p in r.curve] for r in so_far.records if r.curve])
    return run_events(cfg, replicates=settings.replicates, root=root_sequence(settings.seed),
                      backend=settings.backend,
                      continuations=None if continuation is None
                      else {so_far.name: continuation})


