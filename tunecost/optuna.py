"""Optuna integration of the live forecast: a cost budget a study stops at.

:class:`CostBudget` is a ``study.optimize`` callback: after each trial it reads the study's
trials from its storage (every worker process's, on an RDB or journal storage: the budget is
the study's, not the process's), sums what they spent, updates the forecast every ``every``
finished trials (:func:`tunecost.forecast`), stores both as flat study user attributes
(optuna-dashboard shows them), logs one line per update on the ``tunecost`` logger, and calls
``study.stop()`` when :meth:`~tunecost.live.Budget.verdict` fires. The stop is stored too
(``tunecost:budget_stop``), so the other workers stop after their running trial.
:class:`BudgetPruner` wraps a pruner and also prunes a trial whose expected cost to finish
exceeds what is left of the budget, or every trial once the budget has stopped the study.

Example::

    budget = tunecost.optuna.CostBudget(budget_kwh=0.5, n_trials=200, every=5,
                                        stop_when="forecast_p95")
    study = optuna.create_study(storage="sqlite:///s.db", study_name="s",
                                pruner=tunecost.optuna.BudgetPruner(MedianPruner(), budget))
    study.optimize(tunecost.calibrate.measured(objective), n_trials=200, callbacks=[budget])
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import optuna

from tunecost.calibrate.shared import N_TRIALS_ATTR
from tunecost.exceptions import ConfigError
from tunecost.live import (
    ATTR,
    STOP_ATTR,
    Budget,
    Forecast,
    ForecastSettings,
    StopWhen,
    StudySoFar,
    spent,
)
from tunecost.live import forecast as run_forecast
from tunecost.live.totals import energy_scope

__all__ = ["STOP_ATTR", "BudgetPruner", "CostBudget"]

logger = logging.getLogger("tunecost")



class CostBudget:
    """A ``study.optimize`` callback that stops the study at a kWh, kgCO2e or $ budget.

    Args:
        budget_kwh, budget_kgco2e, budget_usd: the budget; exactly one.
        n_trials: trials the study runs in all (what the forecast forecasts to).
        stop_when: ``spent`` (once the finished trials have spent it), ``forecast_p95`` or
            ``forecast_p50`` (as soon as that percentile of the final total exceeds it).
        every: update the forecast every ``every`` finished trials (``None``: never; the
            ``spent`` rule then needs no forecast).
        replicates, horizon: the forecast's replays and the trials each asks of the real
            sampler (:class:`~tunecost.live.ForecastSettings`); smaller than
            :func:`tunecost.forecast`'s defaults (32, 50) so an update of a 200-trial study
            with 50 done takes about 1.5 s on one core (``benchmarks/bench_forecast.py``),
            at the price of a coarser band.
        **settings: :class:`~tunecost.live.ForecastSettings` fields (``prior``,
            ``g_co2e_per_kwh``, ``usd_per_kwh``, ``replicates``, ...).

    Attributes:
        last: the latest forecast (``None`` before the first).
        stop_reason: why the study was stopped (``None`` while it runs).
        update_s: seconds each update took (reading the storage and forecasting).

    Raises:
        ConfigError: not exactly one budget, a kgCO2e budget without ``g_co2e_per_kwh``, a $
            budget without a price, ``every < 1``.
        pydantic.ValidationError: a settings field breaks its rule.
    """

    def __init__(self, *, n_trials: int, budget_kwh: float | None = None,
                 budget_kgco2e: float | None = None, budget_usd: float | None = None,
                 stop_when: StopWhen = "spent", every: int | None = 5,
                 replicates: int = 6, horizon: int | None = 20, **settings: Any) -> None:
        self.budget = Budget.of(budget_kwh=budget_kwh, budget_kgco2e=budget_kgco2e,
                                budget_usd=budget_usd, stop_when=stop_when)
        self.settings = ForecastSettings(n_trials=n_trials, replicates=replicates,
                                         horizon=horizon, **settings)
        if self.budget.metric == "co2e_kg" and self.settings.g_co2e_per_kwh is None:
            raise ConfigError("a budget_kgco2e needs the grid intensity: g_co2e_per_kwh=...")
        if self.budget.metric == "usd" and (self.settings.usd_per_kwh is None
                                            and self.settings.usd_per_device_hour is None):
            raise ConfigError("a budget_usd needs a price: usd_per_kwh=... or "
                              "usd_per_device_hour=...")
        if every is not None and (isinstance(every, bool) or every < 1):
            raise ConfigError(f"`every >= 1` must hold (or None: no forecast), but got "
                              f"every={every!r}")
        if every is None and stop_when != "spent":
            raise ConfigError(f"stop_when={stop_when!r} needs forecasts: give every=k")
        self.every = every
        self.last: Forecast | None = None
        self.stop_reason: str | None = None
        self.update_s: list[float] = []
        self._next_forecast_at = 0

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        t0 = time.perf_counter()
        so_far = StudySoFar.from_optuna(study)
        done, _ = spent(so_far.records, self.settings, elapsed_s=so_far.elapsed_s)
        attrs: dict[str, Any] = {f"{ATTR}spent_{k}": v for k, v in done.items()}
        attrs.update(self._trial_means(so_far))
        attrs[N_TRIALS_ATTR] = self.settings.n_trials
        attrs[f"{ATTR}budget_{self.budget.metric}"] = self.budget.limit
        n = len(so_far.records)
        if self.every is not None and n >= self._next_forecast_at:
            self._next_forecast_at = n + self.every
            try:
                self.last = run_forecast(so_far, settings=self.settings, previous=self.last)
            except ConfigError as exc:
                # The study goes on: a forecast that cannot be made (a space the replay
                # cannot model) must not fail the user's trial; what is spent still counts.
                logger.warning("tunecost forecast %r failed, the budget counts what is "
                               "spent: %s", study.study_name, exc)
            else:
                attrs.update(self.last.attrs())
                logger.info("%s", self.last.line(self.budget.metric))
        stored = study.user_attrs
        reason = stored.get(STOP_ATTR) or self.budget.verdict(done, self.last)
        # Another worker may have written totals of more trials since this one read them:
        # the attributes keep the newest view.
        if stored.get(f"{ATTR}spent_trials", -1) <= done["trials"]:
            for key, value in attrs.items():
                if isinstance(value, float) and not math.isfinite(value):
                    continue  # a storage holds JSON: no NaN
                study.set_user_attr(key, value)
        self.update_s.append(time.perf_counter() - t0)
        if reason is not None:
            if self.stop_reason is None:
                logger.warning("tunecost budget: stopping study %r: %s", study.study_name,
                               reason)
            self.stop_reason = reason
            study.set_user_attr(STOP_ATTR, reason)
            study.stop()

    def _trial_means(self, so_far: StudySoFar) -> dict[str, float]:
        """Mean cost of one complete trial in the budget's metric, and its last step (what
        :class:`BudgetPruner` reads)."""
        complete = [r for r in so_far.records if r.state == "COMPLETE"]
        if not complete:
            return {}
        scope = energy_scope(so_far.records)
        total, _ = spent(complete, self.settings, elapsed_s=0.0, scope=scope)
        out = {f"{ATTR}trial_{self.budget.metric}_mean":
               total[self.budget.metric] / len(complete)}
        steps = [r.curve[-1].step for r in complete if r.curve]
        if steps:
            out[f"{ATTR}trial_last_step"] = float(max(steps))
        return out


class BudgetPruner(optuna.pruners.BasePruner):
    """A pruner that also stops trials the budget cannot pay to finish.

    A trial at step ``s`` of a budget of ``S`` steps is expected to cost ``(1 − s/S)`` times
    a complete trial's mean cost to finish (both stored by the :class:`CostBudget`
    callback); it is pruned when that exceeds what is left of the budget, and every trial is
    pruned once the budget has stopped the study. Otherwise ``pruner`` decides.

    Args:
        pruner: the study's pruner (``None``: only the budget prunes).
        budget: the study's :class:`CostBudget` callback.
    """

    def __init__(self, pruner: optuna.pruners.BasePruner | None, budget: CostBudget) -> None:
        self.pruner = pruner
        self.budget = budget

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        if self.pruner is not None and self.pruner.prune(study, trial):
            return True
        return _over_budget(study.user_attrs, trial, self.budget.budget)


def _over_budget(attrs: dict[str, Any], trial: Any, budget: Budget) -> bool:
    """Whether the budget must stop ``trial`` at its last reported step."""
    if attrs.get(STOP_ATTR):
        return True
    mean = attrs.get(f"{ATTR}trial_{budget.metric}_mean")
    last = attrs.get(f"{ATTR}trial_last_step")
    step = trial.last_step
    if mean is None or last is None or step is None or last <= 0:
        return False
    to_finish = mean * max(0.0, 1.0 - step / last)
    left = budget.limit - attrs.get(f"{ATTR}spent_{budget.metric}", 0.0)
    return bool(to_finish > left)
