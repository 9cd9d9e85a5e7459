"""A running Ray Tune experiment's cost, kept from its results as they arrive.

:class:`RayLedger` is the bookkeeping behind :class:`tunecost.ray.CostStopper` and
:class:`tunecost.ray.CostCallback` (both feed one ledger when paired). It keeps every trial's
results (the cumulative ``tunecost/*`` keys :func:`tunecost.calibrate.ray.report` adds) and
maps them to :class:`~tunecost.calibrate.TrialRecord` with
:func:`~tunecost.calibrate.importers.ray_record`, the mapping ``from_ray`` applies to a
finished experiment. What is spent is every trial's energy so far, running trials' partial
energy included (:func:`~tunecost.live.spent`); the forecast is refitted on the finished
trials every ``every`` finished trials (:func:`~tunecost.live.forecast`); the stop rule is
:meth:`~tunecost.live.Budget.verdict`. Nothing here imports Ray.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tunecost._errors import one_line
from tunecost.calibrate.importers import (
    flatten_ray_result,
    ray_iteration,
    ray_record,
)
from tunecost.calibrate.records import TrialRecord
from tunecost.exceptions import ConfigError
from tunecost.live._forecast import Forecast, forecast
from tunecost.live.budget import Budget, StopWhen
from tunecost.live.settings import ForecastSettings
from tunecost.live.so_far import StudySoFar
from tunecost.live.totals import spent

__all__ = ["FORECAST_FILE", "RayLedger"]

FORECAST_FILE = "tunecost_forecast.json"
"""Name of the file :class:`tunecost.ray.CostCallback` writes in the experiment folder."""

_log = logging.getLogger("tunecost")


@dataclass
class _Trial:
    number: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    params: dict[str, Any] | None = None
    finished: bool = False
    failed: bool = False
    cached: tuple[tuple[Any, ...], TrialRecord] | None = None


class RayLedger:
    """Every trial of one Ray Tune experiment: its results so far, what it spent, the
    forecast and the stop verdict.

    Args:
        budget: the budget and its stop rule.
        settings: the forecast's settings (``n_trials``: the experiment's ``num_samples``;
            ``strategy``: the remaining trials' search, needed by the forecast rules).
        metric: the objective key the trainable reports; mode: ``min`` or ``max``.
        every: refit the forecast after every ``every`` finished trials, >= 1.
        name: the study's name in records, logs and the JSON (the experiment folder's name
            once a callback sees it).

    Raises:
        ConfigError: a forecast rule without ``strategy``, ``every`` < 1, a kgCO2e budget
            without ``g_co2e_per_kwh`` or a $ budget without a price.

    Example:
        >>> ledger = RayLedger(budget=Budget.of(budget_kwh=1e-6), metric="loss",
        ...                    settings=ForecastSettings(n_trials=4))
        >>> ledger.result("t0", {"training_iteration": 1, "loss": 0.5, "config": {"x": 1},
        ...     "tunecost/duration_s": 2.0, "tunecost/cpu_energy_j": 9.0,
        ...     "tunecost/cpu_energy_source": "estimated", "tunecost/t_start": 0.0})
        >>> ledger.check()
        'spent 2.5e-06 kWh of the 1e-06 kWh budget'
    """

    def __init__(self, *, budget: Budget, settings: ForecastSettings, metric: str,
                 mode: str = "min", every: int = 1, name: str = "ray_tune") -> None:
        if every < 1:
            raise ConfigError(f"every must be >= 1 finished trial, but got {every}")
        if budget.stop_when != "spent" and settings.strategy is None:
            raise ConfigError(
                f"stop_when={budget.stop_when!r} forecasts the remaining trials: give "
                "strategy={'kind': 'ray_tune', 'scheduler': {...}} (the experiment's scheduler)")
        if budget.metric == "co2e_kg" and settings.g_co2e_per_kwh is None:
            raise ConfigError("a kgCO2e budget needs g_co2e_per_kwh (the grid's intensity)")
        if budget.metric == "usd" and settings.usd_per_kwh is None \
                and settings.usd_per_device_hour is None:
            raise ConfigError("a $ budget needs usd_per_kwh or usd_per_device_hour")
        self.budget = budget
        self.settings = settings
        self.metric = metric
        self.mode = mode
        self.every = every
        self.name = name
        self.trials: dict[str, _Trial] = {}
        self.forecast: Forecast | None = None
        self.stop_reason: str | None = None
        self.spent_at_stop: dict[str, float] | None = None
        self.n_forecasts = 0
        self._n_finished_at_forecast = 0
        self._spent: dict[str, float] | None = None

    # ---------------------------------------------------------------------------- feeding

    def result(self, trial_id: str, result: Mapping[str, Any], *,
               params: Mapping[str, Any] | None = None) -> None:
        """Keep one reported result of ``trial_id`` (a result with ``done`` also finishes
        it). A result with the ``training_iteration`` of the trial's last one replaces it:
        Ray re-sends a trial's last result when its function returns, and a paired stopper
        and callback both see each result; each is counted once."""
        trial = self.trials.get(trial_id)
        if trial is None:
            trial = self.trials[trial_id] = _Trial(number=len(self.trials))
        if params is not None:
            trial.params = dict(params)
        row = flatten_ray_result(result)
        if trial.rows and ray_iteration([row]) == ray_iteration(trial.rows):
            trial.rows[-1] = row
            trial.cached = None
        else:
            trial.rows.append(row)
        self._changed()
        if result.get("done"):
            self.finish(trial_id)

    def finish(self, trial_id: str, *, failed: bool = False) -> None:
        """Mark ``trial_id`` finished (``failed``: errored); refit the forecast when
        ``every`` more trials have finished since the last one."""
        trial = self.trials.get(trial_id)
        if trial is None:
            trial = self.trials[trial_id] = _Trial(number=len(self.trials))
        if trial.finished:
            trial.failed = trial.failed or failed
            return
        trial.finished, trial.failed = True, failed
        self._changed()
        n = self.n_finished
        if self.settings.strategy is not None and n - self._n_finished_at_forecast >= self.every:
            self.update_forecast()

    def name_from(self, name: str) -> None:
        """Use ``name`` (the experiment folder's) as the study's name."""
        if name != self.name:
            self.name = name
            for t in self.trials.values():
                t.cached = None

    def _changed(self) -> None:
        self._spent = None

    # ---------------------------------------------------------------------------- reading

    @property
    def n_finished(self) -> int:
        return sum(t.finished for t in self.trials.values())

    @property
    def n_running(self) -> int:
        return sum(not t.finished for t in self.trials.values())

    def records(self, *, finished_only: bool = False) -> list[TrialRecord]:
        """The trials as records (running ones: their figures so far), in the order Ray
        started them."""
        max_iter = max((ray_iteration(t.rows) for t in self.trials.values()), default=0)
        out = []
        for trial_id, t in self.trials.items():
            if not t.rows or (finished_only and not t.finished):
                continue
            key = (len(t.rows), t.finished, t.failed, max_iter)
            if t.cached is None or t.cached[0] != key:  # a record is mapped once per change
                t.cached = (key, ray_record(
                    t.rows, study=self.name, number=t.number, metric=self.metric,
                    mode=self.mode, max_iteration=max_iter, params=t.params, failed=t.failed,
                    error="errored" if t.failed else None, where=f"Ray Tune trial {trial_id}"))
            out.append(t.cached[1])
        return out

    def spent(self) -> dict[str, float]:
        """What the experiment has spent: every trial's figures so far (a running trial's
        partial energy is spent), through :func:`tunecost.live.spent`; ``trials`` counts the
        finished ones."""
        if self._spent is None:
            records = self.records()
            starts = [float(r.attrs["t_start"]) for r in records if "t_start" in r.attrs]
            now = time.time()
            totals, _ = spent(records, self.settings,
                              elapsed_s=now - min(starts, default=now))
            totals["trials"] = float(self.n_finished)
            self._spent = totals
        return self._spent

    def update_forecast(self) -> Forecast:
        """Refit the forecast on the finished trials now, and log its line."""
        finished = self.records(finished_only=True)
        running = [t.params or {} for t in self.trials.values() if not t.finished]
        so_far = StudySoFar.from_records(finished, now_s=time.time(), running=running,
                                         name=self.name)
        try:
            self.forecast = forecast(so_far, settings=self.settings, previous=self.forecast)
        except ConfigError as exc:
            _log.warning("tunecost: no forecast for %r: %s", self.name, one_line(exc))
            self.forecast = None
        else:
            _log.info(self.forecast.line(self.budget.metric))
        self._n_finished_at_forecast = self.n_finished
        self.n_forecasts += 1
        return self.forecast  # type: ignore[return-value]

    def check(self) -> str | None:
        """The stop reason (:meth:`Budget.verdict` on :meth:`spent` and the latest
        forecast), or ``None``. Once given it stays: the experiment is stopping."""
        if self.stop_reason is None and self.trials:
            now = self.spent()
            reason = self.budget.verdict(now, self.forecast)
            if reason is not None:
                self.stop_reason, self.spent_at_stop = reason, dict(now)
                _log.warning("tunecost: stopping Ray Tune experiment %r: %s", self.name,
                             reason)
        return self.stop_reason

    def to_dict(self) -> dict[str, Any]:
        """The ledger as JSON-ready data (``schema_version`` 1): ``spent`` (running trials'
        partial figures included), ``budget``, ``stop_reason``, ``spent_at_stop``, the
        trials started / finished / running, and ``forecast``
        (:meth:`Forecast.to_dict`, ``None`` before the first)."""
        return {
            "schema_version": 1, "source": "ray_tune", "experiment": self.name,
            "updated_s": time.time(), "spent": self.spent(),
            "budget": {"metric": self.budget.metric, "limit": self.budget.limit,
                       "unit": self.budget.unit, "stop_when": self.budget.stop_when},
            "stop_reason": self.stop_reason, "spent_at_stop": self.spent_at_stop,
            "n_trials": self.settings.n_trials, "n_started": len(self.trials),
            "n_finished": self.n_finished, "n_running": self.n_running,
            "forecast": None if self.forecast is None else self.forecast.to_dict(),
        }


def ledger_of(*, metric: str, mode: str, n_trials: int, stop_when: StopWhen, every: int,
              budget_kwh: float | None, budget_kgco2e: float | None, budget_usd: float | None,
              settings: Mapping[str, Any]) -> RayLedger:
    """A ledger from the user's keyword arguments, each bad one a one-line ConfigError."""
    from pydantic import ValidationError

    try:
        budget = Budget.of(budget_kwh=budget_kwh, budget_kgco2e=budget_kgco2e,
                           budget_usd=budget_usd, stop_when=stop_when)
        forecast_settings = ForecastSettings(n_trials=n_trials, **settings)
    except ValidationError as exc:
        raise ConfigError(one_line(exc)) from None
    return RayLedger(budget=budget, settings=forecast_settings, metric=metric, mode=mode,
                     every=every)

