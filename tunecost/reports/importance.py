"""What drives the objective and the per-trial cost: parameter importances and seed variance.

Importances come from Optuna's evaluators over an in-memory study rebuilt from the measured
trials, one study per target (the objective, duration, energy): PED-ANOVA always, fANOVA
where scikit-learn is importable (Optuna's fANOVA needs it). Seed variance comes from
repeated configurations (:func:`tunecost.calibrate.seed_noise`), set against the spread of the
same quantity across the search: when seeds move the loss as much as hyperparameters do,
single-seed comparisons mean little.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tunecost.calibrate import ParamSpace, TrialRecord, infer_space, seed_noise
from tunecost.exceptions import ConfigError

__all__ = [
    "ImportanceResult",
    "SeedVariance",
    "TARGETS",
    "fanova_available",
    "param_importances",
    "seed_variance",
]

TARGETS = {
    "objective": "objective (final value)",
    "duration_s": "duration (s)",
    "energy_j": "energy (J)",
}
"""Targets whose importances are reported: the objective and per-trial cost."""


def fanova_available() -> bool:
    """Whether Optuna's fANOVA can run (it needs scikit-learn)."""
    return importlib.util.find_spec("sklearn") is not None


def _distribution(dim: ParamSpace) -> Any:
    import optuna.distributions as od

    if dim.type == "categorical":
        return od.CategoricalDistribution(list(dim.choices or []))
    if dim.type == "int":
        step = 1 if dim.log or dim.step is None else int(dim.step)
        return od.IntDistribution(int(dim.low), int(dim.high), log=dim.log, step=step)
    return od.FloatDistribution(float(dim.low), float(dim.high), log=dim.log)


def _target_value(r: TrialRecord, target: str) -> float | None:
    if target == "objective":
        return r.value
    if target == "energy_j" and r.energy_j is None:
        return r.host_energy_j  # a CPU-only study measures the host
    return getattr(r, target)


@dataclass(frozen=True, slots=True)
class ImportanceResult:
    """Normalised parameter importances.

    Attributes:
        importances: evaluator → target → parameter → importance (each target's sum to 1).
        params: the parameters, in the search space's order.
        n_trials: trials used per target.
        notes: what was left out and why (e.g. fANOVA without scikit-learn).
    """

    importances: dict[str, dict[str, dict[str, float]]]
    params: list[str]
    n_trials: dict[str, int]
    notes: list[str] = field(default_factory=list)

    def top(self, target: str, evaluator: str | None = None) -> str | None:
        """The most important parameter for ``target`` (first evaluator by default)."""
        ev = evaluator or next(iter(self.importances), None)
        imp = self.importances.get(ev or "", {}).get(target)
        return max(imp, key=lambda p: imp[p]) if imp else None

    def to_rows(self) -> list[dict[str, Any]]:
        return [
            {"evaluator": ev, "target": t, "param": p, "importance": v}
            for ev, by_t in self.importances.items()
            for t, by_p in by_t.items()
            for p, v in by_p.items()
        ]


def param_importances(
    records: Sequence[TrialRecord],
    *,
    space: Mapping[str, ParamSpace] | None = None,
    direction: str = "minimize",
    fanova: bool | None = None,
    seed: int = 0,
) -> ImportanceResult:
    """Importances of every parameter for the objective, duration and energy.

    Args:
        records: measured trials; COMPLETE ones with the target are used.
        space: the search space (default: inferred from the records).
        direction: the objective's direction; cost targets are always minimised.
        fanova: run fANOVA too (default: where scikit-learn is importable).
        seed: fANOVA's forest seed.
    """
    import optuna
    from optuna.importance import (
        FanovaImportanceEvaluator,
        PedAnovaImportanceEvaluator,
        get_param_importances,
    )

    complete = [r for r in records if r.state == "COMPLETE"]
    if len(complete) < 2:
        raise ConfigError(f"importances need at least 2 complete trials, got {len(complete)}")
    space = dict(space) if space is not None else infer_space(complete)
    params = [p for p in space if all(p in r.params for r in complete)]
    # A parameter that never varies has no importance to measure.
    params = [p for p in params if len({r.params[p] for r in complete}) > 1]
    dists = {p: _distribution(space[p]) for p in params}
    notes = []
    branch = [p for p in space if any(p in r.params for r in complete)
              and not all(p in r.params for r in complete)]
    if branch:
        notes.append("left out of the importances, set only in some trials (a conditional "
                     f"branch; Optuna's evaluators need every trial to have them): "
                     f"{', '.join(branch)}")
    use_fanova = fanova_available() if fanova is None else fanova
    if not use_fanova:
        notes.append("fANOVA left out: scikit-learn is not installed (pip install scikit-learn)")
    evaluators: dict[str, Any] = {"ped_anova": PedAnovaImportanceEvaluator()}
    if use_fanova:
        evaluators["fanova"] = FanovaImportanceEvaluator(seed=seed)
    out: dict[str, dict[str, dict[str, float]]] = {ev: {} for ev in evaluators}
    n_trials = {}
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(logging.ERROR)
    try:
        for target in TARGETS:
            rows = [(r, _target_value(r, target)) for r in complete]
            rows = [(r, v) for r, v in rows if v is not None and math.isfinite(v)]
            if len(rows) < 2:
                notes.append(f"{target}: fewer than 2 trials measure it")
                continue
            d = direction if target == "objective" else "minimize"
            study = optuna.create_study(direction=d)
            for r, v in rows:
                values = {p: _in_space(r.params[p], dists[p]) for p in params}
                study.add_trial(optuna.trial.create_trial(
                    params=values, distributions=dists, value=float(v)))
            n_trials[target] = len(rows)
            for name, ev in evaluators.items():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    imp = get_param_importances(study, evaluator=ev, params=params)
                out[name][target] = {p: float(imp.get(p, 0.0)) for p in params}
    finally:
        optuna.logging.set_verbosity(level)
    return ImportanceResult(out, params, n_trials, notes)


def _in_space(value: Any, dist: Any) -> Any:
    """Clip a value into its distribution (an inferred space spans the data; a given one may
    not), and cast ints."""
    import optuna.distributions as od

    if isinstance(dist, od.IntDistribution):
        return int(min(max(int(round(float(value))), dist.low), dist.high))
    if isinstance(dist, od.FloatDistribution):
        return float(min(max(float(value), dist.low), dist.high))
    return value


@dataclass(frozen=True, slots=True)
class SeedVariance:
    """Run-to-run noise of repeated configurations, against the search's spread.

    Attributes:
        configs: one dict per repeated configuration: ``params``, ``n``, means, standard
            deviations and CVs of value, duration and energy, and the raw values.
        value_std_seed: median over configurations of the objective's std across seeds.
        value_std_search: std of the objective across the search's trials (``None`` without
            search records).
        duration_cv, energy_cv: medians over configurations.
    """

    configs: list[dict[str, Any]]
    value_std_seed: float | None
    value_std_search: float | None
    duration_cv: float
    energy_cv: float | None

    @property
    def seed_share(self) -> float | None:
        """Seed std over the search's std of the objective (1 = seeds move it as much)."""
        if not self.value_std_seed or not self.value_std_search:
            return None
        return self.value_std_seed / self.value_std_search

    def to_rows(self) -> list[dict[str, Any]]:
        """One row per run of a repeated configuration."""
        rows = []
        for i, c in enumerate(self.configs):
            for k in range(c["n"]):
                rows.append({
                    "config": i,
                    "run": k,
                    "value": c["values"][k],
                    "duration_s": c["durations_s"][k],
                    "energy_j": c["energies_j"][k],
                })
        return rows


def seed_variance(
    repeats: Sequence[TrialRecord], search: Sequence[TrialRecord] = ()
) -> SeedVariance | None:
    """Seed variance from ``repeats`` (records sharing identical params), or ``None``."""
    noise = seed_noise(repeats)
    if noise is None:
        return None
    configs = []
    for c in noise.configs:
        runs = [r for r in repeats if r.params == c.params and r.state == "COMPLETE"]
        configs.append({
            "params": dict(c.params),
            "n": c.n,
            "value_mean": float(np.mean([r.value for r in runs])) if c.value_std is not None
            else None,
            "value_std": c.value_std,
            "duration_mean_s": c.duration_mean_s,
            "duration_cv": c.duration_cv,
            "energy_mean_j": c.energy_mean_j,
            "energy_cv": c.energy_cv,
            "values": [r.value for r in runs],
            "durations_s": [r.duration_s for r in runs],
            "energies_j": [r.energy_j for r in runs],
        })
    values = [r.value for r in search if r.state == "COMPLETE" and r.value is not None]
    search_std = float(np.std(values, ddof=1)) if len(values) > 1 else None
    return SeedVariance(configs, noise.value_std, search_std, noise.duration_cv, noise.energy_cv)
