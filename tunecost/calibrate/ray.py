"""Measure every trial of a Ray Tune run and put the measurement in each reported result.

Wrap a function trainable with :func:`measured_trainable` and call :func:`report` (this
module's) instead of ``ray.tune.report``. The wrapper runs the trainable inside a
:class:`~tunecost.calibrate.measure.TrialMeter`; :func:`report` adds the meter's cumulative
figures since the trial started to every result, as flat keys::

    tunecost/duration_s         seconds
    tunecost/energy_j           accelerator energy, J (None without NVML)
    tunecost/energy_source      "nvml", "rapl", "estimated", "none", ...
    tunecost/cpu_energy_j       host CPU energy, J (None where neither measured nor estimated)
    tunecost/dram_energy_j      host DRAM energy, J
    tunecost/cpu_energy_source
    tunecost/power_mean_w       mean accelerator power so far, W
    tunecost/t_start            when the trial's function started, POSIX seconds (the gaps
                                between one trial's end and the next one's start are the
                                framework's per-trial overhead: actor start-up, scheduling)
    tunecost/accelerator        catalog name of the accelerator (only when given)

Ray writes them to each trial folder's ``result.json`` rows like any other metric, so the
experiment folder alone holds the cost of every trial, including those a scheduler stopped.

``ray`` is imported only when a trial reports: importing this module costs nothing, and
without Ray installed :func:`measured_trainable` raises
:class:`~tunecost.exceptions.MissingExtraError`.
"""

from __future__ import annotations

import contextvars
import functools
import importlib.util
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tunecost.calibrate.measure import Measurement, TrialMeter
from tunecost.calibrate.records import RAY_KEY_PREFIX
from tunecost.exceptions import MissingExtraError

if TYPE_CHECKING:
    from ray.tune import Checkpoint

__all__ = ["KEY_PREFIX", "measured_trainable", "report"]

KEY_PREFIX = RAY_KEY_PREFIX
"""Prefix of the keys :func:`report` adds to each result."""

# The measurement of the trial running in this thread: Tune runs a function trainable in its
# own thread of the trial actor, and the wrapper sets this in that thread.
_ACTIVE: contextvars.ContextVar[_Laps | None] = contextvars.ContextVar(
    "tunecost_active_trial", default=None
)


def _require_ray() -> None:
    if importlib.util.find_spec("ray") is None:
        raise MissingExtraError("ray", "ray")


def measured_trainable(
    fn: Callable[[dict[str, Any]], Any],
    *,
    accelerator: str | None = None,
    **meter_kwargs: Any,
) -> Callable[[dict[str, Any]], Any]:
    """Wrap a Ray Tune function trainable so that each trial is measured.

    A :class:`~tunecost.calibrate.measure.TrialMeter` is active while ``fn`` runs; inside it,
    :func:`report` adds the measurement since the trial started to each result. The meter also
    stops when Tune stops the trial early (a scheduler decision ends the trial's thread from
    inside ``report``).

    Args:
        fn: the trainable, ``fn(config)``; it calls :func:`report` where it would call
            ``ray.tune.report``.
        accelerator: catalog name of the accelerator each trial runs on (e.g. ``"h100-sxm"``);
            reported as ``tunecost/accelerator`` and passed to the meter, which then estimates
            the accelerator's energy (marked ``"estimated"``) where NVML cannot measure it.
        **meter_kwargs: passed to :class:`~tunecost.calibrate.measure.TrialMeter`.

    Returns:
        A function trainable for ``tune.Tuner`` (it keeps ``fn``'s name, which Tune uses for
        the trial names).

    Raises:
        MissingExtraError: Ray is not installed.

    Example:
        >>> def train(config):
        ...     for epoch in range(3):
        ...         report({"loss": 1.0 / (epoch + 1)})
        >>> trainable = measured_trainable(train)
        >>> trainable.__name__
        'train'
    """
    _require_ray()
    if accelerator is not None:
        meter_kwargs["accelerator"] = accelerator
    TrialMeter(**meter_kwargs)  # bad arguments fail here, not in every trial on the cluster

    @functools.wraps(fn)
    def wrapped(config: dict[str, Any]) -> Any:
        return _run_measured(fn, config, accelerator, meter_kwargs)

    return wrapped


def _run_measured(fn: Callable[[dict[str, Any]], Any], config: dict[str, Any],
                  accelerator: str | None, meter_kwargs: dict[str, Any]) -> Any:
    # A module-level function, so that cloudpickle ships the wrapper above by value but this
    # by reference: the worker then sets the same ``_ACTIVE`` that its ``report`` reads.
    laps = _Laps(TrialMeter(**meter_kwargs), accelerator)
    laps.meter.__enter__()
    token = _ACTIVE.set(laps)
    try:
        return fn(config)
    finally:
        _ACTIVE.reset(token)
        laps.meter.__exit__(*sys.exc_info())


class _Laps:
    """A trial measured as consecutive laps, one per report, summed into cumulative keys.

    ``TrialMeter.snapshot`` gives only time and accelerator energy; closing the meter at each
    report and reopening it at once gives every figure (host energy and sources included)
    through the meter's public API. The gap between two laps is a few microseconds.
    """

    def __init__(self, meter: TrialMeter, accelerator: str | None) -> None:
        self.meter = meter
        self.accelerator = accelerator
        self.laps: list[Measurement] = []
        self.t_start = time.time()  # wall-clock, not the meter's monotonic clock: it is
        # compared across trial processes to find the gaps between trials

    def lap(self) -> dict[str, Any]:
        """Close the current lap, open the next, and return the cumulative keys."""
        self.meter.__exit__(None, None, None)
        self.laps.append(self.meter.result)
        self.meter.__enter__()
        return self.keys()

    def keys(self) -> dict[str, Any]:
        laps = self.laps
        duration_s = sum(m.duration_s for m in laps)
        powered = [m for m in laps if m.power_mean_w is not None]
        powered_s = sum(m.duration_s for m in powered)
        out = {
            "duration_s": duration_s,
            "energy_j": _sum(m.energy_j for m in laps),
            "energy_source": _source(m.energy_source for m in laps),
            "cpu_energy_j": _sum(m.cpu_energy_j for m in laps),
            "dram_energy_j": _sum(m.dram_energy_j for m in laps),
            "cpu_energy_source": _source(m.cpu_energy_source for m in laps),
            "power_mean_w": (
                sum(m.power_mean_w * m.duration_s for m in powered) / powered_s  # type: ignore[operator]
                if powered and powered_s > 0 else None
            ),
            "t_start": self.t_start,
        }
        if self.accelerator is not None:
            out["accelerator"] = self.accelerator
        return {KEY_PREFIX + k: v for k, v in out.items()}


def _sum(values: Any) -> float | None:
    """Sum of the laps' figures; ``None`` if any lap lacks it (a partial sum would mislead)."""
    values = list(values)
    return None if any(v is None for v in values) else float(sum(values))


def _source(sources: Any) -> str:
    """The laps' common source; ``"estimated"`` if any lap was estimated."""
    sources = list(sources)
    return "estimated" if "estimated" in sources else sources[-1]


def report(metrics: dict[str, Any], *, checkpoint: Checkpoint | None = None) -> None:
    """Report metrics to Ray Tune with the trial's measurement so far.

    Call it from a trainable wrapped by :func:`measured_trainable`, exactly as
    ``ray.tune.report``: each call is one ``training_iteration``, and a checkpoint, if given,
    is persisted by Tune as usual. The ``tunecost/*`` figures cover the trial from its start
    to this call.

    Args:
        metrics: the trial's metrics (e.g. ``{"val_loss": 0.3, "epoch": 4}``); keys that start
            with ``tunecost/`` are overwritten.
        checkpoint: passed to ``ray.tune.report``.

    Raises:
        RuntimeError: called outside a trainable wrapped by :func:`measured_trainable`.
    """
    laps = _ACTIVE.get()
    if laps is None:
        raise RuntimeError(
            "tunecost.calibrate.ray.report() must be called from a trainable wrapped by "
            "measured_trainable(); outside one, call ray.tune.report()"
        )
    from ray import tune

    tune.report({**metrics, **laps.lap()}, checkpoint=checkpoint)
