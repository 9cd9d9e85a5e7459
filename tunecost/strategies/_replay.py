"""What the replay-only strategy kinds (``optuna``, ``ray_tune``) share.

These kinds name a real search algorithm whose choices depend on results, so no plan can be
drawn ahead of the run: they have no :meth:`Strategy.plan` worth the name. Their ``plan``
raises a :class:`ConfigError` that says to use the event-driven replay
(:func:`tunecost.replay.replay`, ``tunecost simulate --engine replay``), which asks the
algorithm on a simulated clock instead.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from tunecost._paths import ConfigPath
from tunecost.exceptions import ConfigError

__all__ = ["ObjectiveConfig", "ReplayOnly"]


class ObjectiveConfig(BaseModel):
    """Where the surrogate objective's values come from.

    Attributes:
        records: JSON Lines trial records (``tunecost calibrate --records``) to fit the value
            model on: final objective value as a quadratic function of the standardised
            hyperparameters (see :class:`tunecost.replay.surrogate.ValueModel`). Relative to
            the config file. Without it, values are i.i.d. standard normal draws: costs are
            right, but no sampler can learn where the good configurations are.
        direction: ``minimize`` or ``maximize``; default: the calibration's learning-curve
            direction, else ``minimize``.
        search_resource: search the calibration's resource parameter (``steps``) like any
            hyperparameter; by default it is the trials' budget, fixed at its maximum.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    records: ConfigPath | None = None
    direction: Annotated[str, Field(pattern="^(minimize|maximize)$")] | None = None
    search_resource: bool = False


class ReplayOnly:
    """Mixin for strategies that only the event-driven replay can run."""

    name: str

    def plan(self, n_reps: int, *, rng: np.random.Generator) -> object:
        """Refuse: the plan of a result-driven search is only known by running it."""
        raise ConfigError(
            f"strategy kind {self.name!r} replays a real search algorithm on a simulated clock; "
            "the vectorised engine cannot plan it: use the replay engine "
            "(simulate(..., engine='replay') or tunecost simulate --engine replay)"
        )
