"""Live: what a running study will cost by its end, with a band, and budgets that act on it.

:func:`forecast` takes a live ``optuna.Study`` (or a Ray Tune experiment's records) and
returns a :class:`Forecast`: what is spent, the P5/P50/P95 of the final trials, device-hours,
wall clock, kWh, kgCO2e and $, and when the study ends. The budgets that act on it are
:class:`tunecost.optuna.CostBudget` and :class:`tunecost.ray.CostStopper`;
:func:`snapshot` is what ``tunecost watch`` shows of a running study.
"""

from tunecost.live._forecast import ATTR, Basis, Forecast, forecast, space_of
from tunecost.live.budget import STOP_ATTR, Budget, StopWhen
from tunecost.live.ray_ledger import FORECAST_FILE, RayLedger
from tunecost.live.settings import METRICS, ForecastSettings, Metric
from tunecost.live.so_far import StudySoFar, max_overlap
from tunecost.live.totals import energy_scope, priced, spent
from tunecost.live.watch import WatchSource, WatchState, snapshot

__all__ = ["ATTR", "FORECAST_FILE", "METRICS", "STOP_ATTR", "Basis", "Budget", "Forecast",
           "ForecastSettings", "Metric", "RayLedger", "StopWhen", "StudySoFar", "WatchSource",
           "WatchState", "energy_scope", "forecast", "max_overlap", "priced", "snapshot",
           "space_of", "spent"]
