"""A real Optuna sampler and pruner, replayed on a simulated clock (replay engine only).

Example:
    >>> cfg = OptunaSearchConfig.model_validate({
    ...     "kind": "optuna", "n_trials": 50, "report": {"every": 1, "resource": 12},
    ...     "sampler": {"name": "TPESampler", "kwargs": {"n_startup_trials": 10}},
    ...     "pruner": {"name": "MedianPruner", "kwargs": {"n_warmup_steps": 2}}})
    >>> search = cfg.build()
    >>> type(search.make_sampler(seed=0)).__name__, type(search.make_pruner()).__name__
    ('TPESampler', 'MedianPruner')
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tunecost.exceptions import ConfigError, MissingExtraError
from tunecost.report_schedule import ReportSchedule
from tunecost.strategies._replay import ObjectiveConfig, ReplayConfig, ReplayOnly

__all__ = ["SAMPLERS", "PRUNERS", "OptunaSearch", "OptunaSearchConfig", "PrunerSpec",
           "SamplerSpec"]

SAMPLERS = ("RandomSampler", "GridSampler", "TPESampler", "CmaEsSampler", "GPSampler",
            "NSGAIISampler", "NSGAIIISampler", "QMCSampler")
"""Optuna samplers the replay drives (names in ``optuna.samplers``)."""

PRUNERS = ("NopPruner", "MedianPruner", "PercentilePruner", "SuccessiveHalvingPruner",
           "HyperbandPruner", "ThresholdPruner", "PatientPruner", "WilcoxonPruner")
"""Optuna pruners the replay drives (names in ``optuna.pruners``)."""

# Samplers that construct without their extra package and then fail every trial with a logged
# warning (environment.md): checked up front instead. name -> (module, tunecost extra).
_NEEDS = {"CmaEsSampler": ("cmaes", "cmaes"), "GPSampler": ("torch", "gp")}


class SamplerSpec(BaseModel):
    """``{"name": "TPESampler", "kwargs": {...}}``; ``seed`` comes from the replicate."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: Literal[SAMPLERS]  # type: ignore[valid-type]
    kwargs: dict[str, Any] = Field(default_factory=dict)
    fast_log_ndtr: bool = False
    """Opt-in, replay only: TPE's ``log Φ`` by ``scipy.special.log_ndtr`` instead of Optuna's
    pure-Python ``_truncnorm._log_ndtr`` while the replay asks (proposals equal to float
    precision, not bit for bit; a TPE replicate 1.6-1.9x faster). Other samplers: no effect."""

    @model_validator(mode="after")
    def _no_seed(self) -> SamplerSpec:
        if "seed" in self.kwargs:
            raise ValueError(
                "sampler.kwargs must not set seed (each replicate seeds its sampler from its "
                f"own stream), but got seed={self.kwargs['seed']!r}"
            )
        if self.name == "GridSampler" and "search_space" not in self.kwargs:
            raise ValueError("GridSampler needs kwargs.search_space ({param: [values]}), "
                             f"but got kwargs={self.kwargs}")
        return self


class PrunerSpec(BaseModel):
    """``{"name": "MedianPruner", "kwargs": {...}}``; PatientPruner's ``kwargs.wrapped_pruner``
    is itself a ``{"name", "kwargs"}`` mapping (or null)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: Literal[PRUNERS]  # type: ignore[valid-type]
    kwargs: dict[str, Any] = Field(default_factory=dict)

    def build(self) -> Any:
        """The Optuna pruner object (a fresh one: pruners may keep per-study state)."""
        import optuna

        kwargs = dict(self.kwargs)
        if self.name == "PatientPruner" and isinstance(kwargs.get("wrapped_pruner"), dict):
            kwargs["wrapped_pruner"] = PrunerSpec.model_validate(kwargs["wrapped_pruner"]).build()
        try:
            return getattr(optuna.pruners, self.name)(**kwargs)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"pruner {self.name} rejects kwargs {self.kwargs}: {exc}") from None


@dataclass(frozen=True)
class OptunaSearch(ReplayOnly):
    """An Optuna study: ``n_trials`` asked and told, each reporting on a schedule.

    Attributes:
        n_trials: trials asked, int >= 1.
        n_evaluations: ``count`` of evenly spaced reports (``report: {count: n}``), or
            ``None``.
        report: the step numbers trials report at, in the objective's units, or ``None``:
            then ``n_evaluations``, else the calibration's measured schedule, else 8
            reports.
        sampler, pruner: the Optuna classes and their keyword arguments.
        objective: where the surrogate's values come from.
    """

    name: ClassVar[str] = "optuna"
    default_reports: ClassVar[int] = 8

    n_trials: int
    n_evaluations: int | None
    report: ReportSchedule | None
    sampler: SamplerSpec
    pruner: PrunerSpec
    objective: ObjectiveConfig

    def check_extras(self) -> None:
        """Raise :class:`MissingExtraError` when the sampler's extra package is missing.

        Optuna builds CmaEsSampler without ``cmaes`` and GPSampler without ``torch``, then
        fails every trial with a logged warning and never raises; a replay would report the
        cost of a study of failed trials. Checked before the first trial instead.
        """
        need = _NEEDS.get(self.sampler.name)
        if need is not None and importlib.util.find_spec(need[0]) is None:
            raise MissingExtraError(need[0], need[1])

    def make_sampler(self, *, seed: int) -> Any:
        """A fresh sampler seeded with ``seed`` (one per replicate)."""
        import optuna

        try:
            return getattr(optuna.samplers, self.sampler.name)(seed=seed, **self.sampler.kwargs)
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"sampler {self.sampler.name} rejects kwargs {self.sampler.kwargs}: {exc}"
            ) from None

    def make_pruner(self) -> Any:
        """A fresh pruner (one per replicate)."""
        return self.pruner.build()


class OptunaSearchConfig(ReplayConfig):
    """``{"kind": "optuna", "n_trials": 200, "sampler": {"name": "TPESampler"},
    "pruner": {"name": "MedianPruner"}, "report": {"every": 1}}``.

    ``report`` gives the step numbers trials report at (see :class:`ReplayConfig`). The
    sampler and pruner kwargs are checked by building them once when the config loads.
    """

    kind: Literal["optuna"] = "optuna"
    size_field: ClassVar[str | None] = "n_trials"
    n_trials: Annotated[int, Field(gt=0, le=10_000_000)]
    sampler: SamplerSpec = SamplerSpec(name="TPESampler")
    pruner: PrunerSpec = PrunerSpec(name="NopPruner")

    def build(self) -> OptunaSearch:
        """Build the :class:`OptunaSearch` (checking the sampler and pruner construct)."""
        search = OptunaSearch(self.n_trials, self.n_evaluations, self.report, self.sampler,
                              self.pruner, self.objective)
        search.make_sampler(seed=0)
        search.make_pruner()
        return search
