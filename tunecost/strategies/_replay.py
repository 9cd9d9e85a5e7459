"""What the replay-only strategy kinds (``optuna``, ``ray_tune``) share.

These kinds name a real search algorithm whose choices depend on results, so no plan can be
drawn ahead of the run: they have no :meth:`Strategy.plan` worth the name. Their ``plan``
raises a :class:`ConfigError` that says to use the event-driven replay
(``simulate(config, engine="replay")``, ``tunecost simulate --engine replay``), which asks the
algorithm on a simulated clock instead.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tunecost._paths import ConfigPath
from tunecost._rng import RngLike
from tunecost.exceptions import ConfigError
from tunecost.report_schedule import ReportSchedule
from tunecost.strategies._base import _Config

__all__ = ["ObjectiveConfig", "ReplayConfig", "ReplayOnly"]


class ObjectiveConfig(BaseModel):
    """Where the surrogate objective's values come from.

    Attributes:
        records: JSON Lines trial records (``tunecost calibrate --records``), relative to the
            config file: the learning-curve model is fitted on their curves instead of taken
            from the calibration (for a calibration without one, or curves measured
            elsewhere in the same space). Without either, values are i.i.d. standard normal
            draws: costs are right, but no sampler can learn where the good configurations
            are.
        recorded: replay the ``records`` themselves, in order (trial ``i`` is record ``i``,
            cycling): their parameters, report steps, times, values and energies, instead of
            drawing from the fitted models; what a pruner decides on real curves, exactly.
        direction: ``minimize`` or ``maximize``; default: the calibration's curve model's
            direction, else ``minimize``.
        search_resource: search the calibration's resource parameter (``steps``) like any
            hyperparameter; by default it is the trials' budget, fixed at its maximum.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    records: ConfigPath | None = None
    recorded: bool = False
    direction: Annotated[str, Field(pattern="^(minimize|maximize)$")] | None = None
    search_resource: bool = False

    @model_validator(mode="after")
    def _records_to_replay(self) -> ObjectiveConfig:
        if self.recorded and self.records is None:
            raise ValueError("objective.recorded replays objective.records, so records must "
                             "be given, but got records=None")
        return self


class ReplayOnly:
    """Mixin for strategies that only the event-driven replay can run."""

    name: str

    def plan(self, n_reps: int, *, rng: RngLike) -> object:
        """Refuse: the plan of a result-driven search is only known by running it."""
        raise ConfigError(
            f"strategy kind {self.name!r} replays a real search algorithm on a simulated clock; "
            "the vectorised engine cannot plan it: use the replay engine "
            "(simulate(..., engine='replay') or tunecost simulate --engine replay)"
        )


class ReplayConfig(_Config):
    """Fields every replay-only strategy config has: its trials' report schedule and where
    the surrogate's values come from.

    Attributes:
        n_evaluations: short for ``report: {count: n}``.
        report: the step numbers trials report at, in the real objective's units
            (``trial.report(loss, epoch)``: ``{every: 1}``; see
            :class:`~tunecost.report_schedule.ReportSchedule`); without it (and without
            ``n_evaluations``) the calibration's measured schedule.
        objective: where the surrogate's values come from.
    """

    replay_only: ClassVar[bool] = True

    n_evaluations: Annotated[int, Field(gt=0, le=100_000)] | None = None
    report: ReportSchedule | None = None
    objective: ObjectiveConfig = ObjectiveConfig()

    @model_validator(mode="after")
    def _one_schedule(self) -> ReplayConfig:
        if self.n_evaluations is not None and self.report is not None:
            raise ValueError(f"give report or n_evaluations, not both, but got "
                             f"n_evaluations={self.n_evaluations}, report={self.report}")
        return self
