"""The calibration: a study's fitted cost models, search space and curves, and its file.

:class:`Calibration` is what :func:`~tunecost.calibrate.fit.fit_calibration` returns and the
simulator reads: it validates itself on load (finite positive costs over its own space),
predicts and samples per-trial costs, draws configurations, and saves/loads as JSON.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from tunecost._atomic import atomic_open
from tunecost._errors import one_line
from tunecost._rng import RngLike, as_generator
from tunecost._text import read_user_text
from tunecost.calibrate.cost_models import PowerModel
from tunecost.calibrate.curves import CurveModel
from tunecost.calibrate.features import FeatureSpec, _design
from tunecost.calibrate.learning_curve import LearningCurve
from tunecost.calibrate.repeat_noise import SeedNoise
from tunecost.calibrate.space import ParamSpace, sample_space
from tunecost.calibrate.target_model import TargetModel
from tunecost.calibrate.timing import SetupTime, TrialOverhead
from tunecost.exceptions import ConfigError
from tunecost.report_schedule import ReportSchedule

__all__ = ["Calibration"]


class Calibration(BaseModel):
    """Per-trial cost models, search space and learning curves fitted on a real study.

    Build one with :func:`~tunecost.calibrate.fit.fit_calibration`. Parameter arrays passed
    to the methods may have any common shape ``S`` (``(n,)``, ``(n_reps, n_trials)``);
    outputs have shape ``S``.
    Predictions are medians: sampled costs multiply them by a measured trial's out-of-fold
    residual factor (``exp(N(0, sigma_log))`` in files without residuals).

    Attributes:
        schema_version: version of this file's layout (files without it are version 1).
        study: study name of the records.
        accelerator: catalog accelerator whose idle/TDP bound the power model, if given.
        power_low_w, power_high_w: those bounds, W (observed-range fallback without one;
            ``power_high_w`` is ``None`` in a duration-only calibration).
        n_records: trials fitted.
        n_pruned: of which pruned (fitted at the resource they reached).
        resource_param: parameter equal to the trial's fidelity (e.g. ``steps``), if any.
        direction: the objective's direction the curves were fitted with (``None`` in files
            written before it was stored).
        features: how parameters enter the design matrix.
        space: the search space (inferred, then overridden by the user's), with the
            conditions of a conditional space.
        duration, energy: the chosen models; ``energy`` is ``None`` in a duration-only
            calibration (no usable energy readings): a simulation then takes power from the
            study's power model or the catalog, and says it is estimated.
        energy_scope: what ``energy`` models: ``accelerator`` energy where every trial has
            it, else ``host`` (CPU + DRAM) energy, e.g. for a CPU-only study.
        energy_estimated: whether any fitted energy figure was an estimate, not a reading.
        energy_sources: where the fitted energy readings came from (``nvml``, ``rapl``,
            ``codecarbon``, ``estimated``), sorted; empty without an energy model.
        log_residual_corr: correlation of duration and energy out-of-fold log residuals.
        learning_curve: how early values rank trials against final ones (a summary), if the
            records have curves.
        curve_model: the objective as a function of the configuration and the step (what a
            replay's pruners and samplers see), if >= 4 trials have curves.
        report_schedule: the step numbers the objective reports at, inferred from the curves.
        setup: time (and energy) a trial spends before its first step.
        trial_overhead: the framework's per-trial overhead between trials, from the records'
            timestamps.
        seed_noise: run-to-run noise, if configurations were repeated.
        notes: what the fit left out or estimated (trials, readings), one line each.

    Example:
        >>> from tunecost.calibrate import TrialRecord, fit_calibration
        >>> recs = [TrialRecord(number=i, state="COMPLETE", params={"steps": s},
        ...                     duration_s=1 + 0.01 * s, energy_j=150 * (1 + 0.01 * s))
        ...         for i, s in enumerate([50, 100, 200, 400, 800, 1600])]
        >>> cal = fit_calibration(recs, n_folds=3)
        >>> round(float(cal.predict_duration_s({"steps": np.array([300])})[0]), 2)
        4.0
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Design rows of single configurations, by their values: the replay draws one trial at a
    # time and a forecast's repeated configurations recur (the fields are frozen).
    _rows: dict[tuple[Any, ...], np.ndarray] = PrivateAttr(default_factory=dict)

    schema_version: Literal[1] = 1
    study: str
    accelerator: str | None
    power_low_w: float
    power_high_w: float | None
    n_records: int
    n_pruned: int = 0
    resource_param: str | None
    direction: Literal["minimize", "maximize"] | None = None
    features: list[FeatureSpec]
    space: dict[str, ParamSpace]
    duration: TargetModel
    energy: TargetModel | None
    energy_scope: Literal["accelerator", "host"] = "accelerator"
    energy_estimated: bool = False
    energy_sources: list[str] = Field(default_factory=list)
    log_residual_corr: float | None
    learning_curve: LearningCurve | None = None
    curve_model: CurveModel | None = None
    report_schedule: ReportSchedule | None = None
    setup: SetupTime | None = None
    trial_overhead: TrialOverhead | None = None
    seed_noise: SeedNoise | None = None
    notes: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _predicts_finitely(self) -> Calibration:
        # A file is loaded only if its models give finite positive costs over its own space
        # (a hand-edited coefficient would otherwise turn into an inf or NaN total later).
        try:
            probe = self.sample_params(64, rng=0)
            with np.errstate(over="ignore", invalid="ignore"):
                checks = [("duration", self.predict_duration_s(probe))]
                if self.energy is not None:
                    checks.append(("energy", self.predict_energy_j(probe)))
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ValueError(f"the cost models do not fit the features and space: "
                             f"{str(exc).splitlines()[0]}") from None
        for name, pred in checks:
            pred = np.asarray(pred, dtype=float)
            if not np.all(np.isfinite(pred) & (pred > 0)):
                bad = pred[~(np.isfinite(pred) & (pred > 0))][0]
                raise ValueError(f"{name} predictions over the search space must be finite "
                                 f"and > 0, but the model gives {bad}")
        return self

    def design(self, params: Mapping[str, Any]) -> np.ndarray:
        """Design matrix, shape ``S + (n_features,)``, for parameter arrays of shape ``S``.

        A conditional parameter is inactive where its condition does not hold, whatever its
        value (a sampler that draws every dimension gets the branch's cost), and where it is
        NaN / ``None`` or missing from ``params``.
        """
        key = _one_configuration(params)
        if key is None:
            return _design(self.features, params, self.space)
        row = self._rows.get(key)
        if row is None:
            if len(self._rows) >= _ROWS_KEPT:
                self._rows.clear()
            row = _design(self.features, params, self.space)
            row.setflags(write=False)
            self._rows[key] = row
        return row

    def predict_duration_s(self, params: Mapping[str, Any]) -> np.ndarray:
        """Median trial wall time, s, shape ``S``."""
        return self.duration.model().predict(self.design(params))

    def predict_energy_j(self, params: Mapping[str, Any]) -> np.ndarray:
        """Median trial accelerator energy, J, shape ``S``."""
        return self._energy_model().predict(self.design(params))

    def predict_power_w(self, params: Mapping[str, Any]) -> np.ndarray:
        """Mean accelerator power of a trial, W, shape ``S``.

        The bounded power of ``power_model`` when that is the energy form, else predicted
        energy over predicted duration.
        """
        model = self._energy_model()
        X = self.design(params)
        if isinstance(model, PowerModel):
            return model.predict_power_w(X)
        return model.predict(X) / self.duration.model().predict(X)

    def sample_costs(
        self, params: Mapping[str, Any], *, rng: RngLike = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Duration, s, and energy, J, with correlated per-trial noise, each shape ``S``.

        Log noise is bivariate normal with the cross-validated spreads and correlation, so a
        trial that runs long also uses more energy (``None`` energy without an energy model).
        """
        gen = as_generator(rng)
        X = self.design(params)
        shape = X.shape[:-1]
        idx = (gen.integers(len(self.duration.residuals_log), size=shape)
               if self.duration.residuals_log else None)
        z = gen.standard_normal((2, *shape))
        duration_s = (self.duration.model().predict(X)
                      * np.exp(self.duration.log_noise(idx, z[0])))
        if self.energy is None:
            return duration_s, None
        if idx is not None and len(self.energy.residuals_log) == len(self.duration.residuals_log):
            # The same measured trial's pair of residuals: their correlation is kept as is.
            ze = self.energy.log_noise(idx, z[1])
        else:
            rho = self.log_residual_corr or 0.0
            ze = self.energy.log_noise(
                None, rho * z[0] + math.sqrt(max(1.0 - rho * rho, 0.0)) * z[1])
        return duration_s, self._energy_model().predict(X) * np.exp(ze)

    def sample_duration_s(self, params: Mapping[str, Any], *, rng: RngLike = None) -> np.ndarray:
        """Trial wall times with per-trial noise, s, shape ``S``."""
        return self._sample(self.duration, self.predict_duration_s(params), as_generator(rng))

    def sample_energy_j(self, params: Mapping[str, Any], *, rng: RngLike = None) -> np.ndarray:
        """Trial energies with per-trial noise, J, shape ``S`` (independent of durations;
        use :meth:`sample_costs` for both, correlated)."""
        assert self.energy is not None
        return self._sample(self.energy, self.predict_energy_j(params), as_generator(rng))

    @staticmethod
    def _sample(target: TargetModel, mu: np.ndarray, gen: np.random.Generator) -> np.ndarray:
        idx = (gen.integers(len(target.residuals_log), size=mu.shape)
               if target.residuals_log else None)
        return mu * np.exp(target.log_noise(idx, gen.standard_normal(mu.shape)))

    def sample_params(self, n_shape: int | tuple[int, ...], *, rng: RngLike = None
                      ) -> dict[str, np.ndarray]:
        """Draw hyperparameters uniformly (log-uniformly where ``log``) from :attr:`space`,
        each conditional one only where its condition holds (:func:`sample_space`).

        Args:
            n_shape: output shape ``S``, e.g. ``(n_reps, n_trials)``.
            rng: seed or generator.

        Returns:
            ``{name: array of shape S}``; ints as int64 (a conditional one: float, NaN where
            inactive; a conditional category: ``None`` there).
        """
        gen = as_generator(rng)
        shape = (n_shape,) if isinstance(n_shape, int) else tuple(n_shape)
        return sample_space(self.space, shape, gen)

    def save(self, path: str | Path) -> None:
        """Write as JSON, atomically (a temporary file, then a rename)."""
        with atomic_open(path) as fh:
            fh.write(self.model_dump_json(indent=1))

    @classmethod
    def load(cls, path: str | Path) -> Calibration:
        """Read a calibration written by :meth:`save` (any version: fields added later take
        their defaults).

        Raises:
            ConfigError: the file cannot be read, or is not a calibration (one line).
        """
        text = read_user_text(path, what="a calibration")
        try:
            return cls.model_validate_json(text)
        except (ValidationError, ConfigError) as exc:
            raise ConfigError(f"{path}: not a calibration file ({one_line(exc)})") from None

    def _energy_model(self) -> Any:
        if self.energy is None:
            raise ConfigError("this calibration has no energy model: its records had no energy_j")
        return self.energy.model()


_ROWS_KEPT = 4096
"""Single-configuration design rows a calibration keeps (:meth:`Calibration.design`)."""


def _one_configuration(params: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """A hashable key of ``params`` when it holds one configuration (arrays of shape
    ``(1,)``), else ``None``."""
    key = []
    for name, value in params.items():
        arr = np.asarray(value)
        if arr.shape != (1,) or arr.dtype == object:
            return None
        key.append((name, arr.dtype.str, arr.item()))
    return tuple(sorted(key))
