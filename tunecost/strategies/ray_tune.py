"""Ray Tune trial schedulers, replayed on a simulated clock (replay engine only).

Configurations are drawn at random from the search space (Ray Tune's default
``BasicVariantGenerator``); the scheduler decides, from the reported values, which trials
stop, pause or continue. Parameters mirror ``ray.tune.schedulers`` with
``time_attr="training_iteration"`` (one iteration = one of ``n_evaluations`` evenly spaced
reports), so ``max_t`` is ``n_evaluations``.

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

from tunecost.strategies._base import _Config
from tunecost.strategies._replay import ObjectiveConfig, ReplayOnly

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
    model_config = ConfigDict(extra="forbid", frozen=True)


class ASHASchedulerConfig(_Sched):
    """``AsyncHyperBandScheduler``: a trial stops at a rung when its value is below the
    ``1 - 1/reduction_factor`` quantile of the values recorded there; nobody waits.

    Attributes:
        grace_period: first rung, iterations.
        reduction_factor: rung spacing and kept fraction, > 1.
        brackets: brackets, each trial drawn into one (Ray's weights, our generator).
    """

    name: Literal["asha"] = "asha"
    grace_period: Annotated[int, Field(ge=1)] = 1
    reduction_factor: Annotated[float, Field(gt=1)] = 4.0
    brackets: Annotated[int, Field(ge=1)] = 1


class HyperBandSchedulerConfig(_Sched):
    """``HyperBandScheduler`` (synchronous): trials pause at each rung until every live trial
    of their bracket has reached it; the best ``1/reduction_factor`` then resume.

    Attributes:
        reduction_factor: ``eta`` > 1.
    """

    name: Literal["hyperband"] = "hyperband"
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
    grace_period: Annotated[int, Field(ge=1)] = 1
    min_samples_required: Annotated[int, Field(ge=1)] = 3


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
    perturbation_interval: Annotated[int, Field(ge=1)] = 2
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
        n_evaluations: iterations of a full trial (``max_t``), int >= 1.
        scheduler: the scheduler's configuration.
        objective: where the surrogate's values come from.
    """

    name: ClassVar[str] = "ray_tune"

    n_trials: int
    n_evaluations: int
    scheduler: ASHASchedulerConfig | HyperBandSchedulerConfig | MedianStoppingConfig | PBTConfig
    objective: ObjectiveConfig


class RayTuneConfig(_Config):
    """``{"kind": "ray_tune", "n_trials": 100, "n_evaluations": 27,
    "scheduler": {"name": "hyperband", "reduction_factor": 3}}``."""

    kind: Literal["ray_tune"] = "ray_tune"
    n_trials: Annotated[int, Field(gt=0)]
    n_evaluations: Annotated[int, Field(gt=0)] = 16
    scheduler: SchedulerConfig = ASHASchedulerConfig()
    objective: ObjectiveConfig = ObjectiveConfig()

    def build(self) -> RayTuneSearch:
        """Build the :class:`RayTuneSearch`."""
        return RayTuneSearch(self.n_trials, self.n_evaluations, self.scheduler, self.objective)
