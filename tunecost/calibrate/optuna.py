"""Measure every trial of an Optuna study and store the measurement in the study.

:func:`measured` wraps an objective so that each trial runs inside a
:class:`~tunecost.calibrate.measure.TrialMeter`. The measurement is stored as flat trial user
attributes, for complete, pruned and failed trials alike (their cost is real), so the study's
own storage holds everything calibration needs, and optuna-dashboard shows each figure as its
own sortable column. Numbers are stored as numbers; a figure that is unknown (``None``) is
left out rather than stored as null::

    tunecost:duration_s          wall time of the trial, s
    tunecost:t_start, t_end      when the meter started / stopped, POSIX s
    tunecost:cpu_s               CPU time charged to the trial, s (tunecost.calibrate._cpu)
    tunecost:energy_j            accelerator energy, J
    tunecost:energy_source       "nvml", "estimated", "none"
    tunecost:cpu_energy_j        host CPU energy, J
    tunecost:dram_energy_j       host DRAM energy, J (RAPL only)
    tunecost:cpu_energy_source   "rapl", "estimated", "none"
    tunecost:power_mean_w, power_max_w, power_min_w, util_mean, n_samples, devices
    tunecost:accelerator         catalog name (only when given)
    tunecost:curve               {"step": [...], "t_s": [...], "energy_j": [...]}

``tunecost:curve`` holds one entry per ``trial.report(value, step)`` in parallel lists
(``energy_j`` left out when not measured); the values themselves are Optuna's own
intermediate values, joined back by step on import. ``t_s`` is rounded to 0.1 ms and
``energy_j`` to 1 mJ (NVML's resolution): 100 reports take about 2 kB. A curve longer than
:data:`CURVE_CHUNK` points continues in ``tunecost:curve.1``, ``tunecost:curve.2``, ... so
that no attribute exceeds MySQL's 64 kB ``TEXT`` (Optuna's RDB column type).

Studies written by older tunecost versions hold one JSON dict in the ``tunecost`` attribute;
:func:`tunecost.calibrate.importers.from_optuna` reads both.

Optuna is imported only by the caller: importing this module costs nothing.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunecost.calibrate.measure import Measurement, TrialMeter
from tunecost.calibrate.records import OPTUNA_USER_ATTR
from tunecost.exceptions import ConfigError

if TYPE_CHECKING:
    import optuna

__all__ = [
    "ATTR_PREFIX",
    "CURVE_ATTR",
    "CURVE_CHUNK",
    "USER_ATTR",
    "flat_attrs",
    "measured",
    "open_storage",
]

USER_ATTR = OPTUNA_USER_ATTR
"""Name of the single user attribute older versions stored the measurement in."""

ATTR_PREFIX = "tunecost:"
"""Prefix of the flat user attributes that hold a trial's measurement."""

CURVE_ATTR = ATTR_PREFIX + "curve"
"""User attribute holding the per-report curve (parallel lists); continued in ``.1``, ..."""

CURVE_CHUNK = 2000
"""Curve points per user attribute (about 40 kB of JSON at most)."""

# Measurement fields stored as attributes, in this order (``devices`` as a list).
_FIELDS = (
    "duration_s",
    "cpu_s",
    "energy_j",
    "energy_source",
    "cpu_energy_j",
    "dram_energy_j",
    "cpu_energy_source",
    "power_mean_w",
    "power_max_w",
    "power_min_w",
    "util_mean",
    "n_samples",
    "devices",
)


class _Curve:
    """The curve points of one trial: step, seconds and accelerator J since its start."""

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.t_s: list[float] = []
        self.energy_j: list[float | None] = []

    def add(self, step: int, t_s: float, energy_j: float | None) -> None:
        if step in self.steps:
            return  # Optuna ignores a second report of a step, so the curve does too
        self.steps.append(step)
        # Rounded down (0.1 ms, 1 mJ): a report never lands after the trial's end.
        self.t_s.append(math.floor(t_s * 1e4) / 1e4)
        self.energy_j.append(None if energy_j is None else math.floor(energy_j * 1e3) / 1e3)

    def chunks(self) -> list[dict[str, list[Any]]]:
        out = []
        for lo in range(0, max(1, len(self.steps)), CURVE_CHUNK):
            hi = lo + CURVE_CHUNK
            chunk: dict[str, list[Any]] = {"step": self.steps[lo:hi], "t_s": self.t_s[lo:hi]}
            energy = self.energy_j[lo:hi]
            if any(e is not None for e in energy):
                chunk["energy_j"] = energy
            out.append(chunk)
        return out


def flat_attrs(
    m: Measurement,
    *,
    t_start: float,
    curve: _Curve | None = None,
    accelerator: str | None = None,
) -> dict[str, Any]:
    """The user attributes that store measurement ``m`` (see the module docstring).

    Args:
        m: the trial's measurement.
        t_start: when the meter started, POSIX s (``t_end`` is ``t_start + duration_s``).
        curve: the trial's report points.
        accelerator: catalog name, stored when given.
    """
    out: dict[str, Any] = {
        ATTR_PREFIX + "t_start": t_start,
        ATTR_PREFIX + "t_end": t_start + m.duration_s,
    }
    for name in _FIELDS:
        value = getattr(m, name)
        if name == "devices":
            value = list(value) if value else None
        if value is not None:
            out[ATTR_PREFIX + name] = value
    if accelerator is not None:
        out[ATTR_PREFIX + "accelerator"] = accelerator
    for i, chunk in enumerate((curve or _Curve()).chunks()):
        out[CURVE_ATTR if i == 0 else f"{CURVE_ATTR}.{i}"] = chunk
    return out


def _record_reports(trial: Any, meter: TrialMeter, curve: _Curve) -> Callable[[], None]:
    """Make ``trial.report`` also add a curve point; returns the undo.

    The objective gets Optuna's own trial object, so ``isinstance(trial, optuna.Trial)``,
    ``optuna.artifacts.upload_artifact(study_or_trial=trial)`` and the ask-and-tell interface
    all work. Only this one object's ``report`` is shadowed, by an instance attribute that is
    removed when the objective ends. The alternatives are worse: a second ``optuna.Trial``
    built for the same trial id re-runs the sampler's relative sampling in its ``__init__``
    (side effects on TPE/CMA-ES state), and swapping ``trial.__class__`` changes what
    ``type(trial)`` says to Optuna's own code. A trial type whose instances take no
    attributes (``__slots__``) just gets no curve times.
    """
    original = trial.report  # the bound method, resolved before it is shadowed

    @functools.wraps(original)
    def report(value: float, step: int) -> None:
        original(value, step)  # Optuna's checks first: a rejected report adds no point
        t_s, energy_j = meter.snapshot()
        curve.add(int(step), t_s, energy_j)

    try:
        trial.report = report
    except AttributeError:
        return lambda: None

    def undo() -> None:
        trial.__dict__.pop("report", None)

    return undo


def measured(
    objective: Callable[[optuna.Trial], Any],
    *,
    accelerator: str | None = None,
    **meter_kwargs: Any,
) -> Callable[[optuna.Trial], Any]:
    """Wrap an Optuna objective so that each trial's cost is measured and stored.

    The objective runs inside a :class:`~tunecost.calibrate.measure.TrialMeter` and receives
    the real ``optuna.Trial``. When it returns, raises :class:`optuna.TrialPruned`, or raises
    anything else, the measurement is stored as the trial's ``tunecost:*`` user attributes
    (module docstring) and the outcome (value or exception) is passed on to Optuna unchanged,
    so pruned and failed trials keep their state and still carry their cost.

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
        An objective for ``study.optimize`` (or for ask-and-tell: ``wrapped(study.ask())``).

    Raises:
        ConfigError: a meter argument breaks its rule.
        CatalogKeyError: ``accelerator`` is not in the catalog.

    Example:
        >>> import optuna
        >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
        >>> def objective(trial):
        ...     assert isinstance(trial, optuna.Trial)
        ...     x = trial.suggest_float("x", -1.0, 1.0)
        ...     trial.report(x * x, step=0)
        ...     return x * x
        >>> study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        >>> study.optimize(measured(objective), n_trials=2)
        >>> attrs = study.trials[0].user_attrs
        >>> attrs["tunecost:duration_s"] > 0, attrs["tunecost:curve"]["step"]
        (True, [0])
    """

    if accelerator is not None:
        meter_kwargs["accelerator"] = accelerator
    TrialMeter(**meter_kwargs)  # bad arguments fail here rather than in every trial

    @functools.wraps(objective)
    def wrapped(trial: optuna.Trial) -> Any:
        curve = _Curve()
        meter = TrialMeter(**meter_kwargs)
        undo = _record_reports(trial, meter, curve)
        t_start = time.time()  # wall clock: compared with other trials' and CodeCarbon's
        try:
            with meter:
                return objective(trial)
        finally:
            # Runs for a returned value, TrialPruned and any other exception alike; the
            # exception (if any) then continues to Optuna, which sets the trial's state.
            undo()
            if meter._result is not None:  # None only if the meter itself failed to measure
                attrs = flat_attrs(
                    meter.result, t_start=t_start, curve=curve, accelerator=accelerator
                )
                for key, value in attrs.items():
                    trial.set_user_attr(key, value)

    return wrapped


_SQLITE_MAGIC = b"SQLite format 3\x00"
_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def open_storage(storage: str, *, create: bool = False) -> Any:
    """What ``optuna.load_study(storage=...)`` takes for a ``--optuna-storage`` value.

    * ``journal:///abs/path.log`` (or ``journal://rel/path.log``): an Optuna JournalStorage
      file, ``JournalStorage(JournalFileBackend(path))`` (the storage for several processes
      on one disk without a database server);
    * any other ``scheme://...``: an SQLAlchemy URL (``sqlite:///study.db``,
      ``postgresql+psycopg://...``), returned as is;
    * a bare file path: an SQLite database if the file starts with SQLite's header, else a
      journal file. A path that does not exist yet is, when ``create``, a new SQLite database
      if it ends in ``.db``/``.sqlite``/``.sqlite3`` and a new journal file otherwise.

    Args:
        storage: the URL or path.
        create: whether a missing file may be created (a worker starting a study), not an
            error (calibrating one).

    Returns:
        A URL string or an ``optuna.storages.JournalStorage``.

    Raises:
        ConfigError: the file is missing (and not ``create``), is a folder, or a journal
            file cannot be opened.
    """
    if "://" in storage and not storage.startswith("journal://"):
        return storage
    if storage.startswith("journal://"):
        path, journal = Path(storage.removeprefix("journal://")), True
    else:
        path, journal = Path(storage), None
    if path.is_dir():
        raise ConfigError(f"Optuna storage {storage!r}: {str(path)!r} is a folder, not a file")
    if not path.is_file():
        if not create:
            raise ConfigError(f"Optuna storage {storage!r}: no such file {str(path)!r}")
        if journal is None:
            journal = path.suffix.lower() not in _SQLITE_SUFFIXES
    elif journal is None:
        with path.open("rb") as fh:
            journal = fh.read(len(_SQLITE_MAGIC)) != _SQLITE_MAGIC
    if not journal:
        return f"sqlite:///{path}"
    import optuna
    from optuna.storages.journal import JournalFileBackend

    try:
        return optuna.storages.JournalStorage(JournalFileBackend(str(path)))
    except (OSError, ValueError) as exc:  # ValueError: JSONDecodeError, a line not a log
        raise ConfigError(
            f"Optuna storage {storage!r}: not an Optuna journal file: "
            f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from None
