"""The surrogate objective: what a configuration costs, when it reports, and what it reports.

For each configuration the surrogate gives a full-budget duration, s, its power, W, the steps
it reports at, in the objective's own units, the time of each report, the values reported,
and the framework's overhead before it, all drawn from a real study's calibration
(:class:`~tunecost.calibrate.Calibration`):

- **cost**: ``Calibration.sample_costs`` (fitted duration and energy with their correlated
  cross-validated residual noise);
- **report steps**: the study's :class:`~tunecost.report_schedule.ReportSchedule` applied to
  the trial's budget (the resource parameter's value, or the schedule's ``resource``), so
  ``trial.report(value, step)`` gets the numbers the real objective used and every pruner
  argument in resource units means what it means in the real study;
- **report times**: the set-up time first (:class:`~tunecost.calibrate.timing.SetupTime`),
  then training progresses linearly in steps: the report at step ``s`` of budget ``R`` is at
  ``a + (D − a)·s/R``; the set-up draws its own measured energy, training the rest;
- **values**: the calibration's :class:`~tunecost.calibrate.curves.CurveModel` at the trial's
  configuration and steps, plus a calibration trial's held-out residual curve;
- **overhead**: a measured per-trial overhead (:class:`~tunecost.calibrate.timing.TrialOverhead`),
  or the study's ``trial_overhead_s``, spent before the trial at the worker's idle power;
- **the resource**: when the calibration has a resource parameter (``steps``: the parameter
  equal to a trial's fidelity), it is the trial's budget, not a hyperparameter: every trial
  is configured to its maximum (``search_resource=True`` searches it like the others).

``recorded=True`` replays the calibration's measured trials instead, as they ran: trial ``i``
is record ``i`` (cycling), with its parameters, report steps and times, values and energy, so
a pruner's decisions on real curves and their real cost can be replayed exactly.

Without a calibration (a study with a duration model and a power model), durations come from
the duration model, power from the power model (the engine's business), and values are i.i.d.
standard normal with a synthetic curve ``v(f) = v + c·(1/f − 1)``, ``c = exp(0.5·z)``: the
costs are right and rung decisions are made, but no sampler can learn anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from tunecost.calibrate.calibration import Calibration
from tunecost.calibrate.curves import CurveModel
from tunecost.calibrate.fit import fit_curve_model
from tunecost.calibrate.records import TrialRecord, read_records
from tunecost.calibrate.space import ParamSpace, sample_space, suggest_space
from tunecost.calibrate.timing import TrialOverhead
from tunecost.durations import DurationModel
from tunecost.exceptions import ConfigError
from tunecost.report_schedule import ReportSchedule

if TYPE_CHECKING:
    from tunecost.simulate._resolve import ResolvedStudy

__all__ = ["Draws", "Surrogate", "report_schedule", "surrogate_for"]


@dataclass(frozen=True, slots=True)
class Draws:
    """What ``n`` trials cost and report, one entry each.

    Attributes:
        duration_s: running time of the full budget, s, (n,).
        accel_w: mean accelerator power over the whole trial, W, (n,); NaN without a
            calibration (the study's power model applies).
        steps: report steps in the objective's units, one array per trial, ascending; the
            last is the budget.
        times_s: seconds from the trial's start to each report, like ``steps``; the last is
            ``duration_s``.
        energy_j: accelerator energy from the start to each report, J, like ``steps`` (NaN
            without a calibration).
        values: objective at each report, like ``steps``; the last is the final value.
        setup_s: time before the first training step (what a resumed trial pays again),
            s, (n,).
        setup_j: accelerator energy over ``setup_s``, J, (n,) (NaN without a calibration).
        overhead_s: framework time spent before the trial starts, s, (n,).
    """

    duration_s: np.ndarray
    accel_w: np.ndarray
    steps: list[np.ndarray]
    times_s: list[np.ndarray]
    energy_j: list[np.ndarray]
    values: list[np.ndarray]
    setup_s: np.ndarray
    setup_j: np.ndarray
    overhead_s: np.ndarray


class Surrogate:
    """Draws trials' cost, report schedule and learning curves for given hyperparameters.

    Args:
        schedule: when trials report (steps in the objective's units).
        calibration: fitted models (cost, curve, set-up, overhead), or ``None``.
        duration: full-budget duration model when there is no calibration.
        curve: the learning-curve model (default: the calibration's); ``None`` without one
            gives i.i.d. synthetic values.
        direction: ``minimize`` or ``maximize``.
        search_resource: search the calibration's resource parameter like the others instead
            of fixing it at its maximum.
        overhead: per-trial overhead: measured samples, a fixed number of seconds, or
            ``None`` (the calibration's, else none).
        recorded: replay these measured trials (in order, cycling) instead of drawing.
    """

    def __init__(self, schedule: ReportSchedule, *, calibration: Calibration | None,
                 duration: DurationModel | None, curve: CurveModel | None = None,
                 direction: Literal["minimize", "maximize"] = "minimize",
                 search_resource: bool = False,
                 overhead: TrialOverhead | float | None = None,
                 recorded: Sequence[TrialRecord] | None = None) -> None:
        if calibration is None and duration is None:
            raise ConfigError("a surrogate needs a calibration or a duration model, got neither")
        self.schedule = schedule
        self.calibration = calibration
        self.duration = duration
        self.direction = direction
        self.sign = 1.0 if direction == "minimize" else -1.0
        self.curve = curve if curve is not None else (
            calibration.curve_model if calibration is not None else None)
        if self.curve is not None and calibration is None:
            raise ConfigError("a learning-curve model needs the calibration whose features it "
                              "uses")
        self.fixed: dict[str, float] = {}
        self.resource = calibration.resource_param if calibration is not None else None
        if (self.resource is not None and not search_resource
                and self.resource in calibration.space):  # type: ignore[union-attr]
            high = calibration.space[self.resource].high  # type: ignore[union-attr]
            self.fixed[self.resource] = float(high) if high is not None else 1.0
        if overhead is None and calibration is not None:
            overhead = calibration.trial_overhead
        self.overhead = overhead
        self.recorded = None if recorded is None else _usable(recorded)
        setup = calibration.setup if calibration is not None else None
        self.setup_s = setup.duration_s if setup is not None else 0.0
        self.setup_j = setup.energy_j if setup is not None else None

    @property
    def space(self) -> Mapping[str, ParamSpace]:
        """The searched space: the calibration's, less a fixed resource (``{}`` without a
        calibration)."""
        if self.calibration is None:
            return {}
        return {k: v for k, v in self.calibration.space.items() if k not in self.fixed}

    def sample_params(self, n: int, *, rng: np.random.Generator) -> dict[str, np.ndarray] | None:
        """Random configurations from :attr:`space`, shape (n,) each (``None`` without a
        calibration)."""
        if self.calibration is None:
            return None
        return sample_space(self.space, (n,), rng)

    def ask(self, study: Any, distributions: Mapping[str, Any]) -> Any:
        """``study.ask`` a trial of :attr:`space`: with ``distributions`` (Optuna's, of the
        space) in one call where the space has no conditions, else define-by-run, so the
        sampler is asked only the parameters active under the trial's own choices
        (:func:`~tunecost.calibrate.suggest_space`)."""
        space = self.space
        if not any(d.condition is not None for d in space.values()):
            return study.ask(dict(distributions))
        trial = study.ask()
        suggest_space(trial, space)
        return trial

    def recorded_params(self, number: int) -> dict[str, Any] | None:
        """The parameters of the record trial ``number`` replays (``None`` unless recorded),
        less a fixed resource."""
        if self.recorded is None:
            return None
        rec = self.recorded[number % len(self.recorded)]
        return {k: v for k, v in rec.params.items() if k not in self.fixed}

    def budget(self, params: Mapping[str, np.ndarray] | None, n: int) -> np.ndarray:
        """Each trial's budget in steps, (n,): its resource parameter, else the schedule's."""
        if self.resource is not None and params is not None and self.resource in params:
            return np.asarray(params[self.resource], dtype=float)
        if self.schedule.resource is None:
            raise ConfigError(
                "the trials' budget (steps of a full trial) is unknown: the calibration has no "
                "resource parameter, so give the strategy's report schedule a resource, e.g. "
                "report: {every: 1, resource: 12}")
        return np.full(n, float(self.schedule.resource))

    def draw(self, params: Mapping[str, np.ndarray] | None, n: int, *,
             rng: np.random.Generator, numbers: Sequence[int] | None = None) -> Draws:
        """Draw ``n`` trials; ``params`` maps each name to an array of shape (n,).

        Args:
            params: hyperparameters (needed with a calibration), arrays of shape ``(n,)``.
            n: number of trials.
            rng: the only source of randomness.
            numbers: trial numbers (which record each replays when recorded).
        """
        overhead = self._overhead(n, rng)
        if self.recorded is not None:
            return self._recorded(numbers if numbers is not None else range(n), overhead)
        cal = self.calibration
        if cal is None:
            assert self.duration is not None
            duration_s = np.asarray(self.duration.sample((n,), rng=rng), dtype=float)
            energy_total = np.full(n, np.nan)
            budget = self.budget(None, n)
        else:
            if params is None:
                raise ConfigError("a calibrated surrogate needs hyperparameters, got None")
            params = self._complete(params, n)
            duration_s, energy_j = cal.sample_costs(params, rng=rng)
            # A duration-only calibration: the study's busy power (estimated) applies, as
            # without a calibration.
            energy_total = np.full(n, np.nan) if energy_j is None else energy_j
            budget = self.budget(params, n)
        steps = [self.schedule.steps_for(b) for b in budget]
        # A noisy short draw keeps some training time after the set-up.
        setup_s = np.minimum(self.setup_s, 0.5 * duration_s)
        times = [a + (d - a) * s / b for a, d, s, b in zip(setup_s, duration_s, steps, budget,
                                                          strict=True)]
        for t, d in zip(times, duration_s, strict=True):
            t[-1] = d  # exactly at the end, not one rounding past it
        setup_j = np.array([
            min(self.setup_j * a / self.setup_s, 0.5 * e)
            if self.setup_j is not None and self.setup_s > 0 and np.isfinite(e) else e * a / d
            for a, d, e in zip(setup_s, duration_s, energy_total, strict=True)])
        energies = [e0 + (e - e0) * (t - a) / (d - a) for a, d, e, e0, t in
                    zip(setup_s, duration_s, energy_total, setup_j, times, strict=True)]
        values = self._values(params, steps, budget, rng)
        return Draws(duration_s, energy_total / duration_s, steps, times, energies, values,
                     setup_s, setup_j, overhead)

    # ------------------------------------------------------------------------------ helpers

    def _complete(self, params: Mapping[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
        out = dict(params)
        for name, value in self.fixed.items():
            out[name] = np.full(n, value)
        return out

    def _overhead(self, n: int, rng: np.random.Generator) -> np.ndarray:
        if isinstance(self.overhead, TrialOverhead):
            return self.overhead.sample(n, rng=rng)
        return np.full(n, float(self.overhead or 0.0))

    def _values(self, params: Mapping[str, np.ndarray] | None, steps: list[np.ndarray],
                budget: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
        if self.curve is None or self.calibration is None or params is None:
            final = rng.standard_normal(len(steps))
            c = np.exp(0.5 * rng.standard_normal(len(steps)))
            return [v + self.sign * ci * (b / s - 1.0)
                    for v, ci, s, b in zip(final, c, steps, budget, strict=True)]
        X = self.calibration.design(params)
        # The curve model was fitted on the steps the objective reported.
        reported = [self.schedule.reported(s) for s in steps]
        positions = [s / b if self.curve.axis == "fraction" else s
                     for s, b in zip(reported, budget, strict=True)]
        if all(len(p) == len(positions[0]) and np.array_equal(p, positions[0])
               for p in positions):
            out = self.curve.sample(X, positions[0], rng=rng)
            return list(out)
        return [self.curve.sample(X[[i]], p, rng=rng)[0] for i, p in enumerate(positions)]

    def _recorded(self, numbers: Sequence[int], overhead: np.ndarray) -> Draws:
        assert self.recorded is not None
        scope = self.calibration.energy_scope if self.calibration is not None else "accelerator"
        recs = [self.recorded[i % len(self.recorded)] for i in numbers]
        duration_s = np.array([r.duration_s for r in recs])
        total_j = np.array([_energy(r, scope) for r in recs])
        # Work steps: what the objective reported plus the schedule's offset (0-based loops).
        steps = [np.array([p.step for p in r.curve], dtype=float) + self.schedule.offset
                 for r in recs]
        times = [np.array([p.t_s for p in r.curve], dtype=float) for r in recs]
        for t, d in zip(times, duration_s, strict=True):
            t[-1] = d
        energies = []
        for r, t, e in zip(recs, times, total_j, strict=True):
            if scope == "accelerator" and all(p.energy_j is not None for p in r.curve):
                ej = np.array([p.energy_j for p in r.curve], dtype=float)
                ej[-1] = e
            else:
                ej = e * t / t[-1]
            energies.append(ej)
        values = [np.array([p.value for p in r.curve], dtype=float) for r in recs]
        # Set-up: where the report times extrapolate to step 0 (linear in steps).
        setup_s = np.array([float(np.clip(t[0] - s[0] * (t[1] - t[0]) / (s[1] - s[0]), 0, t[0]))
                            if len(t) > 1 and s[1] > s[0] else 0.0
                            for s, t in zip(steps, times, strict=True)])
        setup_j = np.array([e[0] * a / t[0] if t[0] > 0 else 0.0
                            for e, a, t in zip(energies, setup_s, times, strict=True)])
        return Draws(duration_s, total_j / duration_s, steps, times, energies, values,
                     setup_s, setup_j, overhead)


def _energy(record: TrialRecord, scope: str) -> float:
    if scope == "host":
        return float((record.cpu_energy_j or 0.0) + (record.dram_energy_j or 0.0))
    return float(record.energy_j or 0.0)


def _usable(records: Sequence[TrialRecord]) -> list[TrialRecord]:
    """COMPLETE records with a curve (a pruned one's curve ends before its budget)."""
    out = [r for r in records if r.state == "COMPLETE" and r.curve]
    if not out:
        raise ConfigError("recorded replay needs COMPLETE trial records with curves, got none")
    return out


def fit_curve(calibration: Calibration, records: Sequence[TrialRecord],
              direction: Literal["minimize", "maximize"]) -> CurveModel:
    """A curve model fitted on other ``records`` with the calibration's features (for a
    calibration written before curve models, or curves from another study of the same
    space).

    Raises:
        ConfigError: fewer than 4 records with curves.
    """
    model = fit_curve_model(records, calibration.features, calibration.resource_param,
                            direction)
    if model is None:
        raise ConfigError(f"a learning-curve model needs >= 4 trials with curves, but "
                          f"{len(records)} records have fewer")
    return model


def report_schedule(strategy: Any, calibration: Calibration | None) -> ReportSchedule:
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


def surrogate_for(study: ResolvedStudy, strategy: Any) -> Surrogate:
    """The surrogate objective of a study of a real search algorithm (an ``optuna`` or
    ``ray_tune`` strategy): its report schedule, its calibration, and a learning-curve model
    fitted on ``objective.records`` when given (the once-per-run cost), or those records
    themselves when ``objective.recorded``."""
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
