"""Ray Tune trial schedulers, replayed on a simulated clock (replay engine only).

Configurations are drawn at random from the search space (Ray Tune's default
``BasicVariantGenerator``); the scheduler decides, from the reported values, which trials
stop, pause or continue. Parameters mirror ``ray.tune.schedulers`` with
``time_attr="training_iteration"``: iteration ``k`` is a trial's ``k``-th report, at the step
its report schedule gives (``report: {every: 1}`` for a trainable reporting each epoch, or
the calibration's measured schedule), so ``grace_period`` and ``max_t`` are in the
trainable's own iterations.

Example:
    >>> cfg = RayTuneConfig.model_validate({"kind": "ray_tune", "n_trials": 64,
    ...     "n_evaluations": 16, "scheduler": {"name": "asha", "reduction_factor": 4}})
    >>> cfg.build().scheduler.grace_period
    1
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from tunecost.report_schedule import ReportSchedule
from tunecost.strategies._replay import ObjectiveConfig, ReplayConfig, ReplayOnly

__all__ = [
    "ASHASchedulerConfig",
    "HyperBandSchedulerConfig",
    "MedianStoppingConfig",
    "PBTConfig",
    "RayTuneConfig",
    "RayTuneSearch",
    "SchedulerConfig",
]


class _Sched(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ASHASchedulerConfig(_Sched):
    """``AsyncHyperBandScheduler``: a trial stops at a rung when its value is below the
    ``1 - 1/reduction_factor`` quantile of the values recorded there; nobody waits.

    Attributes:
        grace_period: first rung, iterations.
        max_t: a trial stops at this iteration (default: its last report).
        reduction_factor: rung spacing and kept fraction, > 1.
        brackets: brackets, each trial drawn into one (Ray's weights, our generator).
    """

    name: Literal["asha"] = "asha"
    grace_period: Annotated[int, Field(ge=1, le=10**9)] = 1
    max_t: Annotated[int, Field(ge=1, le=10**9)] | None = None
    reduction_factor: Annotated[float, Field(gt=1)] = 4.0
    brackets: Annotated[int, Field(ge=1, le=10**9)] = 1


class HyperBandSchedulerConfig(_Sched):
    """``HyperBandScheduler`` (synchronous): trials pause at each rung until every live trial
    of their bracket has reached it; the best ``1/reduction_factor`` then resume.

    Attributes:
        reduction_factor: ``eta`` > 1.
        max_t: iterations of a full trial (default, and at most: its reports).
    """

    name: Literal["hyperband"] = "hyperband"
    max_t: Annotated[int, Field(ge=1, le=10**9)] | None = None
    reduction_factor: Annotated[float, Field(gt=1)] = 3.0


class MedianStoppingConfig(_Sched):
    """``MedianStoppingRule`` with ``hard_stop=True``: a trial stops when its best value so
    far is worse than the median of the other trials' running means up to the same
    iteration.

    Attributes:
        grace_period: no stopping before this iteration.
        min_samples_required: other trials needed for a median.
    """

    name: Literal["median_stopping"] = "median_stopping"
    grace_period: Annotated[int, Field(ge=1, le=10**9)] = 1
    min_samples_required: Annotated[int, Field(ge=1, le=10**9)] = 3


class PBTConfig(_Sched):
    """``PopulationBasedTraining`` (asynchronous): every ``perturbation_interval`` iterations
    a trial in the bottom ``quantile_fraction`` copies a top trial's checkpoint and perturbs
    its hyperparameters (resampling each with ``resample_probability``, else scaling numeric
    ones by 0.8 or 1.2).

    Attributes:
        perturbation_interval: iterations between perturbations.
        quantile_fraction: share of the population in each of the top and bottom groups.
        resample_probability: chance a perturbed hyperparameter is drawn afresh.
    """

    name: Literal["pbt"] = "pbt"
    perturbation_interval: Annotated[int, Field(ge=1, le=10**9)] = 2
    quantile_fraction: Annotated[float, Field(gt=0, le=0.5)] = 0.25
    resample_probability: Annotated[float, Field(ge=0, le=1)] = 0.25


SchedulerConfig = Annotated[
    ASHASchedulerConfig | HyperBandSchedulerConfig | MedianStoppingConfig | PBTConfig,
    Field(discriminator="name"),
]


@dataclass(frozen=True)
class RayTuneSearch(ReplayOnly):
    """``n_trials`` random configurations under a Ray Tune scheduler.

    Attributes:
        n_trials: trials (``num_samples``), int >= 1.
        n_evaluations: ``count`` of evenly spaced reports (``report: {count: n}``), or
            ``None``.
        report: the step numbers trials report at, or ``None``: then ``n_evaluations``,
            else the calibration's measured schedule, else 16 reports.
        scheduler: the scheduler's configuration.
        objective: where the surrogate's values come from.
    """

    name: ClassVar[str] = "ray_tune"
    default_reports: ClassVar[int] = 16

    n_trials: int
    n_evaluations: int | None
    report: ReportSchedule | None
    scheduler: ASHASchedulerConfig | HyperBandSchedulerConfig | MedianStoppingConfig | PBTConfig
    objective: ObjectiveConfig


class RayTuneConfig(ReplayConfig):
    """``{"kind": "ray_tune", "n_trials": 100, "report": {"every": 1},
    "scheduler": {"name": "asha", "grace_period": 1, "max_t": 12}}``; ``n_evaluations: n``
    is short for ``report: {count: n}``."""

    kind: Literal["ray_tune"] = "ray_tune"
    size_field: ClassVar[str | None] = "n_trials"
    n_trials: Annotated[int, Field(gt=0, le=10_000_000)]
    scheduler: SchedulerConfig = ASHASchedulerConfig()

    def build(self) -> RayTuneSearch:
        """Build the :class:`RayTuneSearch`."""
        return RayTuneSearch(self.n_trials, self.n_evaluations, self.report, self.scheduler,
                             self.objective)
