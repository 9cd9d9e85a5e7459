"""Ray Tune: stop an experiment at a cost budget, and watch its forecast.

Measure the trainable (:func:`tunecost.calibrate.measured_trainable` and
:func:`tunecost.calibrate.ray.report`), then give Tune a :class:`CostStopper` and its
callback::

    stopper = CostStopper(budget_kwh=0.5, n_trials=64, metric="val_loss",
                          stop_when="forecast_p95", prior="calibration.json",
                          strategy={"kind": "ray_tune", "scheduler": {"name": "asha",
                                    "grace_period": 1, "max_t": 12, "reduction_factor": 3}})
    tune.Tuner(trainable, ..., run_config=tune.RunConfig(
        stop=stopper, callbacks=[stopper.callback()]))

The stopper ends the experiment when :meth:`tunecost.live.Budget.verdict` says so; the
callback tells it when a trial ends (a scheduler's stop is seen only by callbacks) and writes
``<experiment folder>/tunecost_forecast.json``. Both keep one
:class:`~tunecost.live.ray_ledger.RayLedger`. This module imports Ray; ``import tunecost``
does not import this module.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tunecost._atomic import atomic_open
from tunecost.exceptions import MissingExtraError
from tunecost.live.budget import StopWhen
from tunecost.live.ray_ledger import FORECAST_FILE, RayLedger, ledger_of

try:
    from ray.tune import Callback, Stopper
except ImportError:  # pragma: no cover - without the extra the module imports, and using it
    Callback = Stopper = object  # raises MissingExtraError
    _HAVE_RAY = False
else:
    _HAVE_RAY = True

__all__ = ["FORECAST_FILE", "CostCallback", "CostStopper", "RayLedger"]


class CostStopper(Stopper):  # type: ignore[misc]
    """A ``ray.tune.Stopper`` that ends the experiment at a cost budget.

    Each result's cumulative ``tunecost/*`` figures are kept per trial; what is spent is
    every trial's energy so far (running trials' partial energy included: it is spent);
    :meth:`stop_all` is true once :meth:`tunecost.live.Budget.verdict` gives a reason
    (logged once, logger ``tunecost``). For the forecast rules the forecast is refitted on
    the finished trials every ``every`` finished trials (one ``tunecost`` log line each).
    Alone, the stopper learns a trial has ended from its last result (``done``): a trial a
    scheduler such as ASHA stopped counts as running (its energy still counts); add
    :meth:`callback` to ``RunConfig(callbacks=...)`` so the forecast sees every end.

    Args:
        budget_kwh, budget_kgco2e, budget_usd: exactly one: the budget, kWh / kgCO2e / $.
        n_trials: trials the experiment runs in all (its ``num_samples``), >= 1.
        metric: the objective key the trainable reports; mode: ``min`` or ``max``.
        stop_when: ``spent``, ``forecast_p95`` or ``forecast_p50``
            (:class:`~tunecost.live.Budget`).
        every: finished trials between two forecasts, >= 1.
        **settings: :class:`~tunecost.live.ForecastSettings` fields (``strategy``,
            ``prior``, ``workers``, ``pue``, ``g_co2e_per_kwh``, prices, ``replicates``...).

    Raises:
        ConfigError: no budget or several, an unknown ``stop_when`` or setting, a forecast
            rule without ``strategy``.

    Example:
        >>> stopper = CostStopper(budget_kwh=1e-6, n_trials=4, metric="loss")
        >>> stopper("t0", {"training_iteration": 1, "loss": 0.5, "config": {"x": 1},
        ...     "tunecost/duration_s": 2.0, "tunecost/cpu_energy_j": 9.0,
        ...     "tunecost/cpu_energy_source": "estimated", "tunecost/t_start": 0.0})
        False
        >>> stopper.stop_all(), stopper.ledger.stop_reason
        (True, 'spent 2.5e-06 kWh of the 1e-06 kWh budget')
    """

    def __init__(self, *, budget_kwh: float | None = None, budget_kgco2e: float | None = None,
                 budget_usd: float | None = None, n_trials: int, metric: str,
                 mode: str = "min", stop_when: StopWhen = "spent", every: int = 1,
                 ledger: RayLedger | None = None, **settings: Any) -> None:
        if not _HAVE_RAY:
            raise MissingExtraError("ray", "ray")
        self.ledger = ledger or ledger_of(
            metric=metric, mode=mode, n_trials=n_trials, stop_when=stop_when, every=every,
            budget_kwh=budget_kwh, budget_kgco2e=budget_kgco2e, budget_usd=budget_usd,
            settings=settings)
        self._callback: CostCallback | None = None

    @classmethod
    def _of(cls, ledger: RayLedger) -> CostStopper:
        out = cls.__new__(cls)
        out.ledger, out._callback = ledger, None
        return out

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        """Keep the result and judge the budget on it (so the stop comes at the result that
        crossed it); never stops one trial (the budget is the experiment's)."""
        self.ledger.result(trial_id, result)
        self.ledger.check()
        return False

    def stop_all(self) -> bool:
        """True once the budget's verdict gives a reason to stop."""
        return self.ledger.check() is not None

    def callback(self, *, path: str | Path | None = None) -> CostCallback:
        """The :class:`CostCallback` that feeds this stopper's ledger (one per stopper)."""
        if self._callback is None:
            self._callback = CostCallback._of(self.ledger, path)
        return self._callback


class CostCallback(Callback):  # type: ignore[misc]
    """A ``ray.tune.Callback`` that keeps the experiment's cost and writes its forecast.

    The same bookkeeping as :class:`CostStopper` (one
    :class:`~tunecost.live.ray_ledger.RayLedger`), fed by ``on_trial_result`` and told of
    every trial's end by ``on_trial_complete`` / ``on_trial_error``. After each change it
    writes the ledger (:meth:`RayLedger.to_dict`: the latest ``Forecast.to_dict()``, what is
    spent, the budget, the stop reason) atomically to ``<experiment folder>/``
    :data:`FORECAST_FILE`, which ``tunecost watch --ray-results DIR`` reads. A callback
    cannot end a Tune experiment: alone it logs the stop reason; to act on it, give
    :meth:`stopper` as ``RunConfig(stop=...)``.

    Args:
        path: where to write the JSON (default: the experiment folder's
            :data:`FORECAST_FILE`).
        **kwargs: as :class:`CostStopper`.

    Example:
        >>> cb = CostCallback(budget_kwh=1.0, n_trials=8, metric="loss")
        >>> cb.stopper().ledger is cb.ledger
        True
    """

    def __init__(self, *, path: str | Path | None = None, **kwargs: Any) -> None:
        self.ledger = CostStopper(**kwargs).ledger
        self.path = None if path is None else Path(path)
        self._stopper: CostStopper | None = None
        self._written: tuple[Any, ...] | None = None

    @classmethod
    def _of(cls, ledger: RayLedger, path: str | Path | None) -> CostCallback:
        out = cls.__new__(cls)
        out.ledger, out.path, out._stopper, out._written = (
            ledger, None if path is None else Path(path), None, None)
        return out

    def stopper(self) -> CostStopper:
        """The :class:`CostStopper` on this callback's ledger (one per callback)."""
        if self._stopper is None:
            self._stopper = CostStopper._of(self.ledger)
            self._stopper._callback = self
        return self._stopper

    # Ray's hooks --------------------------------------------------------------------------

    def on_trial_result(self, iteration: int, trials: list[Any], trial: Any,
                        result: dict[str, Any], **info: Any) -> None:
        self._locate(trial)
        self.ledger.result(trial.trial_id, result, params=trial.config)
        self.ledger.check()
        self._write()

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any,
                          **info: Any) -> None:
        self._locate(trial)
        self.ledger.finish(trial.trial_id)
        self.ledger.check()
        self._write()

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any,
                       **info: Any) -> None:
        self._locate(trial)
        self.ledger.finish(trial.trial_id, failed=True)
        self.ledger.check()
        self._write()

    def on_experiment_end(self, trials: list[Any], **info: Any) -> None:
        self._write(force=True)

    # ------------------------------------------------------------------------------ private

    def _locate(self, trial: Any) -> None:
        if self.path is not None:
            return
        storage = getattr(trial, "storage", None)
        if storage is not None and getattr(storage.storage_filesystem, "type_name",
                                           "") == "local":
            folder = Path(storage.experiment_fs_path)
        else:  # remote storage: Tune syncs the driver's staging folder up
            folder = Path(trial.local_experiment_path)
        self.path = folder / FORECAST_FILE
        self.ledger.name_from(folder.name)

    def _write(self, *, force: bool = False) -> None:
        # Written when a trial ends, a forecast is made or the verdict comes, not on every
        # result: each write maps every trial's results to records.
        ledger = self.ledger
        key = (ledger.n_finished, ledger.n_forecasts, ledger.stop_reason)
        if self.path is None or (key == self._written and not force):
            return
        with atomic_open(self.path) as fh:
            json.dump(ledger.to_dict(), fh, indent=1, default=float)
            fh.write("\n")
        self._written = key
