"""Measure every trial of an Optuna study and store the measurement in the study.

:func:`measured` wraps an objective so that each trial runs inside a
:class:`~tunecost.calibrate.measure.TrialMeter`. The measurement is stored as the trial's
``tunecost`` user attribute, for complete, pruned and failed trials alike (their cost is
real), so the study's own storage holds everything calibration needs::

    {**Measurement.to_dict(),
     "curve": [{"step": ..., "value": ..., "t_s": ..., "energy_j": ...}, ...],
     "accelerator": "<catalog name>"}        # only when given

Curve points are recorded when the objective calls ``trial.report(value, step)``: the objective
receives a thin proxy of the trial whose ``report`` also takes a meter snapshot; every other
attribute is the real trial's.

Optuna is imported only by the caller: importing this module costs nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tunecost.calibrate.measure import TrialMeter
from tunecost.calibrate.records import OPTUNA_USER_ATTR

if TYPE_CHECKING:
    import optuna

__all__ = ["USER_ATTR", "measured"]

USER_ATTR = OPTUNA_USER_ATTR
"""Name of the trial user attribute that holds the measurement."""


class _MeasuredTrial:
    """The trial as the objective sees it: ``report`` also records a curve point."""

    __slots__ = ("_curve", "_meter", "_trial")

    def __init__(self, trial: optuna.Trial, meter: TrialMeter, curve: list[dict[str, Any]]):
        self._trial = trial
        self._meter = meter
        self._curve = curve

    def report(self, value: float, step: int) -> None:
        self._trial.report(value, step)
        t_s, energy_j = self._meter.snapshot()
        self._curve.append({"step": step, "value": float(value), "t_s": t_s, "energy_j": energy_j})

    def __getattr__(self, name: str) -> Any:
        return getattr(self._trial, name)

    def __repr__(self) -> str:
        return f"measured({self._trial!r})"


def measured(
    objective: Callable[[optuna.Trial], Any],
    *,
    accelerator: str | None = None,
    **meter_kwargs: Any,
) -> Callable[[optuna.Trial], Any]:
    """Wrap an Optuna objective so that each trial's cost is measured and stored.

    The objective runs inside a :class:`~tunecost.calibrate.measure.TrialMeter`. When it
    returns, raises :class:`optuna.TrialPruned`, or raises anything else, the measurement is
    stored as the trial's ``tunecost`` user attribute and the outcome (value or exception) is
    passed on to Optuna unchanged, so pruned and failed trials keep their state and still carry
    their cost.

    Args:
        objective: the study's objective, ``objective(trial) -> value``. It may call
            ``trial.report(value, step)``; each call adds a curve point with the seconds and
            accelerator energy (J) since the trial started.
        accelerator: catalog name of the accelerator the trials run on (e.g. ``"h100-sxm"``),
            stored with the measurement (omitted when ``None``) and passed to the meter, which
            then estimates the accelerator's energy (marked ``"estimated"``) where NVML cannot
            measure it.
        **meter_kwargs: passed to :class:`~tunecost.calibrate.measure.TrialMeter`.

    Returns:
        An objective for ``study.optimize``.

    Raises:
        ConfigError: a meter argument breaks its rule.
        CatalogKeyError: ``accelerator`` is not in the catalog.

    Example:
        >>> import optuna
        >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
        >>> def objective(trial):
        ...     x = trial.suggest_float("x", -1.0, 1.0)
        ...     trial.report(x * x, step=0)
        ...     return x * x
        >>> study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        >>> study.optimize(measured(objective), n_trials=2)
        >>> attr = study.trials[0].user_attrs["tunecost"]
        >>> attr["duration_s"] > 0, len(attr["curve"])
        (True, 1)
    """

    if accelerator is not None:
        meter_kwargs["accelerator"] = accelerator
    TrialMeter(**meter_kwargs)  # bad arguments fail here rather than in every trial

    @functools.wraps(objective)
    def wrapped(trial: optuna.Trial) -> Any:
        curve: list[dict[str, Any]] = []
        meter = TrialMeter(**meter_kwargs)
        try:
            with meter:
                return objective(_MeasuredTrial(trial, meter, curve))  # type: ignore[arg-type]
        finally:
            # Runs for a returned value, TrialPruned and any other exception alike; the
            # exception (if any) then continues to Optuna, which sets the trial's state.
            attr: dict[str, Any] = {**meter.result.to_dict(), "curve": curve}
            if accelerator is not None:
                attr["accelerator"] = accelerator
            trial.set_user_attr(USER_ATTR, attr)

    return wrapped
