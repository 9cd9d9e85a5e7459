"""Fit per-trial cost models, a search space and learning curves to a small real study.

:func:`fit_calibration` turns measured :class:`~tunecost.calibrate.records.TrialRecord` s into
a frozen :class:`Calibration`: duration and energy of a trial as functions of its
hyperparameters (the cost model form chosen per target by k-fold cross-validated median
absolute percentage error), the residual spread for drawing realistic per-trial noise, the
search space the study sampled from, a learning-curve model for replaying pruning, and
seed-to-seed noise where configurations were repeated. The simulator then extrapolates from it.

Real studies are fitted as they ran: a **conditional** space (Optuna's ``classifier`` with
branch-only ``svc_c`` / ``rf_max_depth``) gives each branch parameter columns that are 0
where it is inactive, plus a branch indicator where the parent's one-hot does not already
give one, and the space keeps each branch's :class:`~tunecost.calibrate.space.ParamCondition`;
**pruned** trials are fitted at the resource they reached; records without usable energy give
a duration-only calibration that loads and simulates with an estimated power.

This module is the driver; each step lives in its own module: the search space
(:mod:`~tunecost.calibrate.space`, inferred by :mod:`~tunecost.calibrate.space_inference`),
the design matrix (:mod:`~tunecost.calibrate.features`), the candidate forms
(:mod:`~tunecost.calibrate.cost_models`) and their choice (:mod:`~tunecost.calibrate.selection`),
energy targets (:mod:`~tunecost.calibrate.energy_targets`), pruned trials
(:mod:`~tunecost.calibrate.fidelity`), curves (:mod:`~tunecost.calibrate.learning_curve`,
:mod:`~tunecost.calibrate.curves`), seed noise (:mod:`~tunecost.calibrate.repeat_noise`), and
the result (:mod:`~tunecost.calibrate.calibration`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from tunecost._direction import normalize_direction
from tunecost._rng import RngLike, as_generator
from tunecost.calibrate.calibration import Calibration
from tunecost.calibrate.cost_models import DURATION_FORMS, ENERGY_FORMS, FitContext
from tunecost.calibrate.curves import CurveModel
from tunecost.calibrate.energy_targets import (
    _energy_estimated,
    _energy_source_label,
    _energy_targets,
)
from tunecost.calibrate.features import (
    REACHED_PARAM,
    FeatureSpec,
    _build_features,
    _design,
    _param_columns,
    _union_names,
)
from tunecost.calibrate.fidelity import _reached_shares, _resource_param, _step_offset
from tunecost.calibrate.learning_curve import _fit_learning_curve
from tunecost.calibrate.records import TrialRecord
from tunecost.calibrate.repeat_noise import seed_noise
from tunecost.calibrate.selection import _folds, _select
from tunecost.calibrate.space import ParamSpace, active_masks
from tunecost.calibrate.space_inference import check_records, infer_space
from tunecost.calibrate.timing import SetupTime, TrialOverhead
from tunecost.exceptions import ConfigError
from tunecost.report_schedule import ReportSchedule, infer_schedule

__all__ = ["fit_calibration", "fit_curve_model"]

_FIT_STATES = ("COMPLETE", "PRUNED")


def _direction_of(records: Sequence[TrialRecord], direction: str | None
                  ) -> Literal["minimize", "maximize"]:
    """The given direction, else the records' ``attrs["direction"]`` (Optuna's importer)
    or ``attrs["mode"]`` (Ray Tune's), else ``minimize``."""
    seen = {str(r.attrs.get("direction", r.attrs.get("mode"))) for r in records
            if r.attrs.get("direction", r.attrs.get("mode")) is not None}
    found = {normalize_direction(v, field='records\' attrs["direction"]') for v in seen}
    if direction is not None:
        given = normalize_direction(direction, field="direction")
        if found and found != {given}:
            warnings.warn(f"direction {direction!r} ({given}) overrides the direction the "
                          f"study recorded ({', '.join(sorted(found))})", stacklevel=3)
        return given
    if not found:
        return "minimize"
    if len(found) > 1:
        raise ConfigError(f'records\' attrs["direction"] must be one direction, but got '
                          f"{sorted(seen)}")
    return found.pop()


def fit_calibration(
    records: Sequence[TrialRecord],
    *,
    accelerator: str | None = None,
    n_folds: int = 5,
    space: Mapping[str, Mapping[str, Any] | ParamSpace] | None = None,
    duration_forms: Sequence[str] = DURATION_FORMS,
    energy_forms: Sequence[str] = ENERGY_FORMS,
    direction: str | None = None,
    repeats: Sequence[TrialRecord] = (),
    rng: RngLike = 0,
    curve_theta: Sequence[float] | None = None,
) -> Calibration:
    """Fit per-trial duration and energy models, search space and learning curves.

    COMPLETE and PRUNED records are fitted. A pruned trial ran only to its ``fidelity`` (the
    last step it reported). When a parameter equals the fidelity on every complete trial
    (``steps``), a pruned trial is fitted as a trial with that parameter set to its fidelity,
    so cost scales with the resource actually used. Otherwise (a fixed budget: Optuna's
    ``partial_fit`` loop over epochs) a pruned trial is fitted with its reached share of the
    complete trials' budget as a feature (:data:`REACHED_PARAM`), so per-step cost is learnt
    from every trial and full-run cost from the complete ones; predictions are of full runs.
    Only a pruned trial without any reported step is left out (a note says how many).

    A conditional search space (parameters absent from some trials) is fitted with each
    branch parameter's columns 0 where it is inactive and a branch indicator where the
    parent's one-hot does not already give one; the space stores the inferred conditions.

    Each target's form is chosen by ``n_folds``-fold cross-validated median absolute % error
    (the same shuffled folds for every candidate), then refitted on all trials. Without
    energy readings (or with too few positive ones) the calibration is duration-only
    (``energy`` ``None``): a simulation takes power from the study's power model or the
    catalog.

    Args:
        records: measured trials of one study.
        accelerator: catalog name; its idle and TDP power bound ``power_model``. Without it
            (and without a common ``record.accelerator``) the bounds are half the lowest and
            twice the highest observed mean power.
        n_folds: cross-validation folds, >= 2 (at most the number of trials).
        space: search-space dimensions overriding the inferred ones
            (``{"lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True}}``).
        duration_forms, energy_forms: candidate forms (keys of
            :data:`~tunecost.calibrate.cost_models.FORMS`).
        direction: whether the objective is minimised or maximised (for learning curves),
            any spelling :func:`~tunecost._direction.normalize_direction` takes; default:
            the records' ``attrs["direction"]`` (or Ray's ``attrs["mode"]``), else minimize.
        repeats: extra records with repeated configurations, used only for :attr:`seed_noise`.
        rng: seed or generator for the fold shuffle.
        curve_theta: the learning-curve model's hyperparameters from an earlier fit of the
            same study (``calibration.curve_model.theta``): reused instead of optimised (a
            live refit; a ``theta`` whose length no longer fits the features is optimised
            afresh).

    Returns:
        The frozen calibration; same inputs and seed give identical JSON.

    Raises:
        ConfigError: no records, a parameter of two types, too few usable trials, bad
            ``n_folds``, unknown form, direction or accelerator.
    """
    from tunecost import catalog  # local: the catalog loads CSVs, only needed here

    check_records(records)
    direction = _direction_of(records, direction)
    gen = as_generator(rng)
    notes: list[str] = []
    resource = _resource_param(records)
    # One offset for every use of the steps (shares, schedule): from every reported step, not
    # only the last ones (a study whose trials were pruned at step 1 still counted from 0).
    offset = _step_offset([*(r.fidelity for r in records if r.fidelity is not None),
                           *(p.step for r in records for p in r.curve)])
    shares = _reached_shares(records, offset) if resource is None else None
    used: list[TrialRecord] = []
    rows: list[dict[str, Any]] = []
    unplaced = 0
    for i, r in enumerate(records):
        if r.state not in _FIT_STATES or r.duration_s <= 0:
            continue
        params: dict[str, Any] = dict(r.params)
        if r.state == "PRUNED":
            if resource is not None and r.fidelity is not None and r.fidelity > 0:
                params[resource] = r.fidelity
            elif shares is not None and i in shares:
                params[REACHED_PARAM] = shares[i]
            else:
                unplaced += 1
                continue
        elif shares is not None:
            params[REACHED_PARAM] = 1.0
        used.append(r)
        rows.append(params)
    if unplaced:
        note = (f"{unplaced} pruned trial(s) left out: no reported step places them against "
                "the complete trials' budget")
        notes.append(note)
        warnings.warn(note, stacklevel=2)
    if not 2 <= n_folds <= len(used):
        raise ConfigError(
            f"2 <= n_folds <= usable trials must hold, but got (n_folds={n_folds}, "
            f"usable trials={len(used)})"
        )
    full_space = infer_space(used)
    for name, dim in (space or {}).items():
        full_space[name] = dim if isinstance(dim, ParamSpace) else ParamSpace(**dim)
    cols = _param_columns(rows, _union_names(rows))
    features = _build_features(cols, active_masks(full_space, cols))
    X = _design(features, cols, full_space)
    duration_s = np.array([r.duration_s for r in used])
    folds = _folds(len(used), n_folds, gen)

    accel_name = accelerator or _common([r.accelerator for r in used])
    scope, energy_j = _energy_targets(used, notes)
    if accel_name is not None and scope == "accelerator":
        spec = catalog.accelerator(accel_name)
        if spec.idle_w is None:
            raise ConfigError(
                f"power bounds need the accelerator's idle_w, but {spec.name} has none"
            )
        if spec.tdp_w <= 0:
            raise ConfigError(
                f"accelerator {spec.name!r} draws no power (a CPU-only row), but "
                f"{len(used)} trials carry accelerator energy: give the accelerator they "
                "ran on, or records with cpu_energy_j only")
        lo_w, hi_w, accel_name = float(spec.idle_w), float(spec.tdp_w), spec.name
    elif energy_j is not None:
        p = energy_j / duration_s
        lo_w, hi_w = 0.5 * float(p.min()), 2.0 * float(p.max())
    else:
        lo_w, hi_w = 0.0, math.inf

    duration, d_resid = _select(tuple(duration_forms), X, duration_s, folds, FitContext(),
                                 notes)
    energy = corr = None
    if energy_j is not None:
        ctx = FitContext(duration_s=duration_s, duration_form=duration.form,
                         power_low_w=lo_w, power_high_w=hi_w)
        forms = tuple(f for f in energy_forms if f != "power_model" or math.isfinite(hi_w))
        energy, e_resid = _select(forms, X, energy_j, folds, ctx, notes)
        if len(used) > 2 and np.std(d_resid) > 0 and np.std(e_resid) > 0:
            corr = float(np.corrcoef(d_resid, e_resid)[0, 1])
    return Calibration(
        study=_common([r.study for r in used]) or "mixed",
        accelerator=accel_name,
        power_low_w=lo_w,
        power_high_w=hi_w if math.isfinite(hi_w) else None,
        n_records=len(used),
        n_pruned=sum(r.state == "PRUNED" for r in used),
        resource_param=resource,
        direction=direction,
        features=features,
        space=full_space,
        duration=duration,
        energy=energy,
        energy_scope=scope or "accelerator",
        energy_estimated=energy is not None and any(_energy_estimated(r, scope) for r in used),
        energy_sources=[] if energy is None else sorted(
            {_energy_source_label(r, scope) for r in used}),
        log_residual_corr=corr,
        learning_curve=_fit_learning_curve(used, direction),
        curve_model=fit_curve_model(used, features, resource, direction,
                                    theta=curve_theta),
        report_schedule=_report_schedule(used, resource, offset, notes),
        setup=SetupTime.measure([r for r in used if r.state == "COMPLETE"]),
        trial_overhead=TrialOverhead.measure(records),
        seed_noise=seed_noise([*used, *repeats]),
        notes=notes,
    )


def fit_curve_model(records: Sequence[TrialRecord], features: Sequence[FeatureSpec],
                    resource: str | None, direction: Literal["minimize", "maximize"],
                    theta: Sequence[float] | None = None) -> CurveModel | None:
    """The learning-curve model of the records' curves (COMPLETE and PRUNED trials alike: a
    pruned trial's early reports are data too), or ``None`` with fewer than 4 curves.

    With a resource parameter the axis is the fraction ``step / budget`` and each trial's
    design row has its configured budget (not the fidelity it was pruned at: its schedule
    was set by the budget); without one the axis is the step itself.
    """
    recs = [r for r in records if r.state in _FIT_STATES and r.curve
            and (resource is None or float(r.params.get(resource, 0) or 0) > 0)]
    if len(recs) < 4:
        return None
    required = {f.param for f in features if not f.optional and f.param != REACHED_PARAM}
    for r in recs:
        if not required <= set(r.params):
            raise ConfigError(
                f"the curve model's records must have the calibration's parameters "
                f"{sorted(required)}, but trial {r.number} has {sorted(r.params)}")
    names = [n for n in dict.fromkeys(f.param for f in features) if n != REACHED_PARAM]
    X = _design(features, _param_columns(recs, names))
    steps = [np.array([p.step for p in r.curve], dtype=float) for r in recs]
    positions = (steps if resource is None
                 else [s / float(r.params[resource]) for s, r in zip(steps, recs, strict=True)])
    values = [np.array([p.value for p in r.curve], dtype=float) for r in recs]
    if any(np.any(np.diff(p) <= 0) for p in positions):
        return None  # steps that go back (a resumed trial reporting twice): not one curve
    if theta is not None and len(theta) != X.shape[1] + 1:
        theta = None  # the features changed (a new category seen): choose them afresh
    try:
        return CurveModel.fit(X, positions, values,
                              axis="step" if resource is None else "fraction",
                              direction=direction, theta=theta)
    except ConfigError:
        return None  # too few trials share a report position: no model, say nothing wrong


def _report_schedule(records: Sequence[TrialRecord], resource: str | None,
                     offset: float | None, notes: list[str]) -> ReportSchedule | None:
    """The schedule the complete trials reported on, in work steps; ``offset``
    (:func:`_step_offset`) maps them back to the numbers the objective reports (Optuna's
    ``range(n)`` loop reports the first epoch as step 0)."""
    complete = [r for r in records if r.state == "COMPLETE" and r.curve]
    if offset is not None and offset > 0 and resource is not None and any(
            r.curve[-1].step >= float(r.params[resource]) for r in complete):
        # A report at step 0 and one at the budget itself: 0 is an evaluation before any
        # work, not the first epoch; no schedule holds that.
        offset = None
    if offset is None:
        notes.append("report schedule not inferred: the curves report at negative steps, or "
                     "at step 0 and at the budget; give the strategy a report schedule")
        return None
    budgets = [float(r.params[resource]) if resource is not None
               else float(r.fidelity if r.fidelity is not None else r.curve[-1].step) + offset
               for r in complete]
    schedule = infer_schedule([[p.step + offset for p in r.curve] for r in complete], budgets)
    return None if schedule is None else schedule.model_copy(update={"offset": offset})


def _common(values: Sequence[str | None]) -> str | None:
    return values[0] if values and all(v == values[0] for v in values) else None
