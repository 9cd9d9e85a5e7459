"""A cost budget and the one rule that says when a study must stop for it.

The Optuna callback, the Optuna pruner, the Ray Tune stopper and ``tunecost watch`` all ask
:meth:`Budget.verdict`, so a study stops for the same reason whichever way it runs.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tunecost.exceptions import ConfigError
from tunecost.live._forecast import Forecast

__all__ = ["STOP_ATTR", "Budget", "StopWhen"]

STOP_ATTR = "tunecost:budget_stop"
"""Study user attribute (an Optuna study's) holding why a budget stopped the study: every
worker's callback stops on it, ``tunecost watch`` reports it."""

StopWhen = Literal["spent", "forecast_p95", "forecast_p50"]

_UNITS = {"energy_kwh": "kWh", "co2e_kg": "kgCO2e", "usd": "$"}


class Budget(BaseModel):
    """A limit on one of a study's totals.

    Attributes:
        metric: ``energy_kwh``, ``co2e_kg`` or ``usd``.
        limit: the budget, in the metric's unit, > 0.
        stop_when: ``spent``: stop once the finished trials have spent it;
            ``forecast_p95`` / ``forecast_p50``: stop as soon as the forecast's P95 / P50 of
            the final total exceeds it (and once it is spent).

    Example:
        >>> b = Budget.of(budget_kwh=2.0, stop_when="forecast_p95")
        >>> b.verdict({"energy_kwh": 0.5}, None) is None
        True
        >>> b.verdict({"energy_kwh": 2.1}, None)
        'spent 2.1 kWh of the 2 kWh budget'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: Literal["energy_kwh", "co2e_kg", "usd"]
    limit: float = Field(gt=0, allow_inf_nan=False)
    stop_when: StopWhen = "spent"

    @classmethod
    def of(cls, *, budget_kwh: float | None = None, budget_kgco2e: float | None = None,
           budget_usd: float | None = None, stop_when: StopWhen = "spent") -> Budget:
        """The budget from exactly one of ``budget_kwh``, ``budget_kgco2e``, ``budget_usd``.

        Raises:
            ConfigError: none or several given.
        """
        given = {k: v for k, v in (("energy_kwh", budget_kwh), ("co2e_kg", budget_kgco2e),
                                   ("usd", budget_usd)) if v is not None}
        if len(given) != 1:
            raise ConfigError("give exactly one of budget_kwh, budget_kgco2e, budget_usd, but "
                              f"got {len(given)}")
        (metric, limit), = given.items()
        return cls(metric=metric, limit=limit, stop_when=stop_when)

    @property
    def unit(self) -> str:
        return _UNITS[self.metric]

    def left(self, spent: dict[str, float]) -> float:
        """What is left of the budget after ``spent`` (negative when overspent)."""
        return self.limit - spent.get(self.metric, 0.0)

    def verdict(self, spent: dict[str, float], forecast: Forecast | None) -> str | None:
        """Why the study must stop now, or ``None``.

        Args:
            spent: the totals so far (:func:`~tunecost.live.spent`).
            forecast: the latest forecast (``None``, or one without a band: only what is
                spent decides).
        """
        used = spent.get(self.metric)
        if used is None or math.isnan(used):
            raise ConfigError(f"the budget is in {self.metric}, which the study's totals do "
                              "not give (set g_co2e_per_kwh for kgCO2e, a price for usd)")
        if used >= self.limit:
            return f"spent {used:.4g} {self.unit} of the {self.limit:.4g} {self.unit} budget"
        if self.stop_when != "spent" and forecast is not None:
            q = self.stop_when.removeprefix("forecast_")
            final = getattr(forecast, q).get(self.metric)
            if final is not None and final > self.limit:
                return (f"forecast {q.upper()} of the final {self.metric} {final:.4g} "
                        f"{self.unit} exceeds the {self.limit:.4g} {self.unit} budget "
                        f"({used:.4g} spent, {forecast.n_finished}/{forecast.n_trials} "
                        "trials)")
        return None
