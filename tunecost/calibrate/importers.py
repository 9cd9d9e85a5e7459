"""Read measured trials from any source into :class:`~tunecost.calibrate.records.TrialRecord`.

Four sources, one function each, and one dispatcher (:func:`load_records`) for the CLI:

- Optuna storage (:func:`from_optuna`): each trial's ``user_attrs["tunecost"]`` holds what the
  measuring callback recorded; trials without it still import, with energy unknown.
- Ray Tune experiment folder (:func:`from_ray`): every reported result carries cumulative
  ``tunecost/...`` keys beside the user's metric; one record per trial folder.
- JSON Lines (:func:`from_jsonl`): tunecost's own format and the shared H200 files.
- CodeCarbon ``emissions.csv`` (:func:`from_codecarbon`): one record per tracked run or task.

Nothing here imports Ray; Optuna is imported only when an Optuna storage is read.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_args

from pydantic import ValidationError

from tunecost._direction import normalize_direction
from tunecost._errors import one_line
from tunecost._text import read_user_text
from tunecost.calibrate.records import (
    OPTUNA_USER_ATTR,
    RAY_KEY_PREFIX,
    EnergySource,
    TrialRecord,
    iter_jsonl,
    read_records,
)
from tunecost.exceptions import ConfigError
from tunecost.units import J_PER_KWH

__all__ = [
    "OPTUNA_ATTR",
    "RAY_PREFIX",
    "from_codecarbon",
    "from_jsonl",
    "from_optuna",
    "flatten_ray_result",
    "from_ray",
    "join_codecarbon",
    "load_records",
    "open_study",
    "optuna_measurement",
    "optuna_record",
    "ray_iteration",
    "ray_record",
]

# The writers' keys, named once in records.py.
OPTUNA_ATTR = OPTUNA_USER_ATTR
RAY_PREFIX = RAY_KEY_PREFIX

_SOURCES = frozenset(get_args(EnergySource))

# Keys of the Optuna measurement dict that map to TrialRecord fields; the rest go to ``attrs``.
_OPTUNA_FIELDS = (
    "duration_s",
    "energy_j",
    "energy_source",
    "cpu_energy_j",
    "dram_energy_j",
    "cpu_energy_source",
    "power_mean_w",
    "accelerator",
    "curve",
)

# Result keys Ray Tune fills in itself: never the user's metric.
_RAY_AUTO_KEYS = frozenset(
    {
        "timestamp",
        "done",
        "training_iteration",
        "trial_id",
        "date",
        "time_this_iter_s",
        "time_total_s",
        "pid",
        "hostname",
        "node_ip",
        "time_since_restore",
        "iterations_since_restore",
        "checkpoint_dir_name",
        "episodes_total",
        "timesteps_total",
        "timesteps_since_restore",
        "experiment_tag",
        "should_checkpoint",
    }
)


def _record(fields: dict[str, Any], where: str) -> TrialRecord:
    """Validate ``fields`` into a record; a bad value names the trial it came from."""
    try:
        return TrialRecord.model_validate(fields)
    except ValidationError as exc:
        raise ConfigError(f"{where}: not a trial record: {one_line(exc)}") from None


def _source(value: Any, energy: Any, where: str, key: str) -> str:
    """Check an energy-source label; ``none`` where no energy was measured."""
    if value is None:
        if energy is not None:
            raise ConfigError(f"{where}: {key} is missing but its energy figure is {energy!r}")
        return "none"
    if value not in _SOURCES:
        raise ConfigError(
            f"{where}: {key} must be one of {', '.join(sorted(_SOURCES))}, but got {value!r}"
        )
    return str(value)


def _scalar_params(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested dicts with ``/`` and keep only scalar values (no lists, no None)."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_scalar_params(value, f"{name}/"))
        elif isinstance(value, bool | int | float | str):
            out[name] = value
    return out


# --------------------------------------------------------------------------------------------
# Optuna


def open_study(storage: str | Any, study_name: str | None = None) -> Any:
    """Load an Optuna study by the rule every command opens one: a missing SQLite file, a
    storage that does not open and a study that is not there are one-line errors.

    Args:
        storage: as :func:`from_optuna` takes it.
        study_name: the study; may be left out when the storage holds one study.

    Returns:
        The ``optuna.Study``.

    Raises:
        ConfigError: the storage file does not exist or does not open, or the study is not
            in it (the message lists the studies there).
    """
    import optuna  # lazy: importing optuna costs the CLI about a second

    from tunecost.calibrate.optuna import open_storage

    label = storage if isinstance(storage, str) else type(storage).__name__
    if isinstance(storage, str):
        if storage.startswith("sqlite:///"):
            db = storage.removeprefix("sqlite:///")
            # SQLAlchemy would silently create an empty database for a mistyped path.
            if db and db != ":memory:" and not Path(db).is_file():
                raise ConfigError(f"Optuna storage {storage!r}: no such file {db!r}")
        storage = open_storage(storage)
    try:
        names = optuna.get_all_study_names(storage=storage)
    except Exception as exc:  # SQLAlchemy and Optuna raise many kinds here
        raise ConfigError(f"cannot open Optuna storage {label!r}: {one_line(exc)}") from None
    if study_name is None:
        if len(names) != 1:
            raise ConfigError(
                f"Optuna storage {label!r} holds {len(names)} studies; name one with "
                f"study_name: {', '.join(names) or '(none)'}"
            )
        study_name = names[0]
    elif study_name not in names:
        raise ConfigError(
            f"no study {study_name!r} in Optuna storage {label!r}; "
            f"studies there: {', '.join(names) or '(none)'}"
        )
    return optuna.load_study(study_name=study_name, storage=storage)


def from_optuna(storage: str | Any, study_name: str | None = None) -> list[TrialRecord]:
    """Read the finished trials of an Optuna study.

    A trial measured by tunecost carries flat ``tunecost:*`` user attributes (see
    :mod:`tunecost.calibrate.optuna`): ``tunecost:duration_s``, ``tunecost:energy_j``,
    ``tunecost:energy_source``, ``tunecost:cpu_energy_j``, ``tunecost:dram_energy_j``,
    ``tunecost:cpu_energy_source``, ``tunecost:power_mean_w``, ``tunecost:accelerator``, the
    curve in ``tunecost:curve`` (parallel lists ``step``/``t_s``/``energy_j``, continued in
    ``tunecost:curve.1``, ...; the values are the trial's intermediate values at those
    steps), and other measurement keys (``tunecost:cpu_s``, ``tunecost:util_mean``, ...)
    that go to ``attrs`` without the prefix (the meter's own ``t_start``/``t_end`` as
    ``meter_t_start``/``meter_t_end``). Studies written by older versions hold one dict in
    ``user_attrs["tunecost"]`` instead (``curve`` a list of ``{step, value, t_s, energy_j}``);
    both are read. A trial with neither imports with Optuna's own duration
    (``datetime_complete - datetime_start``), energy ``None``, source ``none``, and no curve
    (intermediate values have no times). RUNNING and WAITING trials are skipped with a
    warning.

    Args:
        storage: SQLAlchemy URL (``sqlite:///study.db``), a JournalStorage file
            (``journal:///path/study.log`` or a bare path; see
            :func:`tunecost.calibrate.optuna.open_storage`), or an Optuna storage object.
        study_name: the study to read; may be left out when the storage holds one study.

    Returns:
        One record per COMPLETE, PRUNED or FAIL trial, in trial-number order. ``value`` is the
        objective for COMPLETE trials (the first objective of a multi-objective study, all of
        them in ``attrs["values"]``), the last intermediate value for PRUNED ones, else
        ``None``; ``fidelity`` is the last curve step (or last intermediate step); ``attrs``
        also holds ``direction`` (``"minimize"``/``"maximize"``, the study's first), and
        ``t_start`` and ``t_end`` (POSIX seconds, Optuna's ``datetime_start`` and
        ``datetime_complete``).

    Raises:
        ConfigError: the storage file does not exist, the study is not in the storage (the
            message lists the studies there), or a measurement is malformed.
    """
    study = open_study(storage, study_name)
    study_name = study.study_name
    direction = study.directions[0].name.lower()  # "minimize" | "maximize"

    finished = {"COMPLETE", "PRUNED", "FAIL"}
    records, skipped = [], 0
    for trial in study.get_trials(deepcopy=False):
        if trial.state.name not in finished:
            skipped += 1
            continue
        records.append(optuna_record(trial, study_name, direction))
    if skipped:
        warnings.warn(
            f"study {study_name!r}: skipped {skipped} unfinished trial(s) (RUNNING or WAITING)",
            stacklevel=2,
        )
    return records


_FLAT_PREFIX = "tunecost:"
_FLAT_CURVE = _FLAT_PREFIX + "curve"
# Flat attributes that are renamed in the measurement dict, so Optuna's own times keep the
# names ``t_start``/``t_end`` that the fitter reads.
_FLAT_RENAMED = {"t_start": "meter_t_start", "t_end": "meter_t_end"}


def _flat_measurement(
    user_attrs: Mapping[str, Any], inter: Mapping[int, float], where: str
) -> dict[str, Any] | None:
    """The measurement dict of a trial stored as flat ``tunecost:*`` attributes, or None."""
    if _FLAT_PREFIX + "duration_s" not in user_attrs:
        return None
    out: dict[str, Any] = {}
    for key, value in user_attrs.items():
        if not key.startswith(_FLAT_PREFIX) or key.startswith(_FLAT_CURVE):
            continue
        name = key.removeprefix(_FLAT_PREFIX)
        out[_FLAT_RENAMED.get(name, name)] = value
    chunks = []
    i = 0
    while (chunk := user_attrs.get(_FLAT_CURVE if i == 0 else f"{_FLAT_CURVE}.{i}")) is not None:
        chunks.append(chunk)
        i += 1
    curve = []
    for chunk in chunks:
        if not isinstance(chunk, Mapping) or not isinstance(chunk.get("step"), list):
            raise ConfigError(
                f"{where}: user_attrs[{_FLAT_CURVE!r}] must be a dict of lists "
                f"step, t_s[, energy_j], but got {str(chunk)[:80]!r}"
            )
        steps, times = chunk["step"], chunk.get("t_s")
        energies = chunk.get("energy_j") or [None] * len(steps)
        if not isinstance(times, list) or not len(steps) == len(times) == len(energies):
            raise ConfigError(
                f"{where}: user_attrs[{_FLAT_CURVE!r}] lists step, t_s and energy_j must have "
                f"the same length, but got {len(steps)}, "
                f"{len(times) if isinstance(times, list) else times!r}, {len(energies)}"
            )
        for step, t_s, energy_j in zip(steps, times, energies, strict=True):
            if step in inter:  # a step Optuna did not store has no value to join
                curve.append({"step": step, "value": inter[step], "t_s": t_s,
                              "energy_j": energy_j})
    out["curve"] = curve
    return out


def optuna_measurement(trial: Any, where: str | None = None) -> dict[str, Any] | None:
    """What tunecost measured of one Optuna trial, in either stored format; ``None``: nothing.

    Args:
        trial: an ``optuna.trial.FrozenTrial``.
        where: how error messages name the trial.

    Returns:
        The measurement as one dict (``duration_s``, ``energy_j``, ..., ``curve`` as a list
        of ``{step, value, t_s, energy_j}``), from the flat ``tunecost:*`` attributes or the
        older single ``tunecost`` attribute.

    Raises:
        ConfigError: the stored measurement is malformed.
    """
    where = where or f"trial {trial.number}"
    measured = _flat_measurement(trial.user_attrs, trial.intermediate_values, where)
    if measured is not None:
        return measured
    measured = trial.user_attrs.get(OPTUNA_ATTR)
    if measured is None:
        return None
    if not isinstance(measured, Mapping):
        raise ConfigError(
            f"{where}: user_attrs[{OPTUNA_ATTR!r}] must be a dict, "
            f"but got {type(measured).__name__}"
        )
    return dict(measured)


def optuna_record(trial: Any, study_name: str, direction: str = "minimize") -> TrialRecord:
    """Map one finished Optuna ``FrozenTrial`` to a record."""
    where = f"study {study_name!r} trial {trial.number}"
    state = trial.state.name
    measured = optuna_measurement(trial, where) or {}
    worker = trial.user_attrs.get(_FLAT_PREFIX + "worker")
    if worker is not None:
        measured.setdefault("worker", worker)

    inter = sorted(trial.intermediate_values.items())
    values = trial.values
    if state == "COMPLETE" and values:
        value = values[0]
    elif state == "PRUNED" and inter:
        value = inter[-1][1]
    else:
        value = None

    curve = measured.get("curve") or []
    if curve:
        fidelity = curve[-1]["step"] if isinstance(curve[-1], Mapping) else None
    else:
        fidelity = inter[-1][0] if inter else None

    duration_s = measured.get("duration_s")
    if duration_s is None:
        duration_s = trial.duration.total_seconds() if trial.duration is not None else 0.0
    attrs = {k: v for k, v in measured.items() if k not in _OPTUNA_FIELDS}
    if not curve and inter and all(math.isfinite(v) for _, v in inter):
        # A plain study (no measuring wrapper) still stored every report's value and step:
        # the learning curve is real, only its times are not; they are spread evenly over
        # the trial (so no set-up time is read from them: timing.SetupTime skips them).
        curve = [{"step": step, "value": v, "t_s": duration_s * (k + 1) / len(inter)}
                 for k, (step, v) in enumerate(inter)]
        attrs["curve_times"] = "interpolated"
    attrs["direction"] = direction
    if values is not None and len(values) > 1:
        attrs["values"] = list(values)
    if trial.datetime_start is not None:
        attrs["t_start"] = trial.datetime_start.timestamp()
    if trial.datetime_complete is not None:
        attrs["t_end"] = trial.datetime_complete.timestamp()

    energy_j = measured.get("energy_j")
    cpu_energy_j, dram_energy_j = measured.get("cpu_energy_j"), measured.get("dram_energy_j")
    host = cpu_energy_j if cpu_energy_j is not None else dram_energy_j
    return _record(
        {
            "study": study_name,
            "number": trial.number,
            "state": state,
            "params": _scalar_params(trial.params),
            "value": value,
            "duration_s": duration_s,
            "energy_j": energy_j,
            "energy_source": _source(
                measured.get("energy_source"), energy_j, where, "energy_source"
            ),
            "cpu_energy_j": cpu_energy_j,
            "dram_energy_j": dram_energy_j,
            "cpu_energy_source": _source(
                measured.get("cpu_energy_source"), host, where, "cpu_energy_source"
            ),
            "power_mean_w": measured.get("power_mean_w"),
            "accelerator": measured.get("accelerator"),
            "fidelity": fidelity,
            "curve": curve,
            "attrs": attrs,
        },
        where,
    )


# --------------------------------------------------------------------------------------------
# Ray Tune


_RAY_TRIAL_INDEX = re.compile(r"_[0-9a-f]{5,}(?:_\d{5})?_(\d+)_")


def _ray_trial_order(trial_dir: Path) -> tuple[int, str]:
    """Creation order of a Ray Tune trial folder: its index, then its name."""
    match = _RAY_TRIAL_INDEX.search(trial_dir.name)
    return (int(match.group(1)) if match else 1 << 62, trial_dir.name)


def from_ray(
    results_dir: str | Path, *, metric: str, mode: str | None = "min"
) -> list[TrialRecord]:
    """Read a Ray Tune experiment folder (``storage_path/name``), one record per trial folder.

    Each trial folder holds ``params.json`` and ``result.json`` (one result per line). Every
    result row becomes a curve point: step ``training_iteration``, value ``row[metric]``,
    ``t_s`` from ``tunecost/duration_s`` (else Ray's ``time_total_s``), ``energy_j`` from
    ``tunecost/energy_j``. Duration and energies of the trial come from its last row (they are
    cumulative). Rows reported as nested dicts (``{"tunecost": {...}}``) are read the same way.

    State: ``FAIL`` if the folder has ``error.txt`` or ``error.pkl``; ``PRUNED`` if its last
    ``training_iteration`` is below the largest any trial of the experiment reached (a
    scheduler such as ASHA stopped it; a trainable that stops early by itself reads the same);
    else ``COMPLETE``.

    Args:
        results_dir: the experiment folder; its name becomes the study name.
        metric: the objective key the trainable reports.
        mode: the objective's direction, ``min``/``max``/``minimize``/``maximize``
            (``None``: ``min``, Ray Tune's default); kept in ``attrs["mode"]`` (``min``/``max``)
            and ``attrs["direction"]`` (``minimize``/``maximize``).

    Returns:
        Records numbered in the order Ray created the trials: the index in the folder name
        (``{trainable}_{trial_id}_{index}_{params}_{date}``; with a search algorithm the
        trial ids are random), falling back to the folder name. ``params`` are flattened
        with ``/``, scalar values only; ``value`` is the last row's metric; ``fidelity`` the
        last iteration; ``attrs`` holds ``trial_id``, ``trial_dir``, ``mode``, ``t_start`` and
        ``t_end`` (POSIX seconds: from ``tunecost/t_start``, else Ray's whole-second
        ``timestamp``) and, for FAIL, ``error`` (the error's last line).

    Raises:
        ConfigError: the folder has no trial folders, ``metric`` is in no result (the message
            lists the metrics found), ``mode`` is unknown, or a file is not JSON.
    """
    root = Path(results_dir)
    direction = normalize_direction("min" if mode is None else mode, field="mode")
    mode = "min" if direction == "minimize" else "max"
    if not root.is_dir():
        raise ConfigError(f"Ray Tune results: no such folder {str(root)!r}")
    trial_dirs = sorted(
        (
            d
            for d in root.iterdir()
            if d.is_dir() and ((d / "params.json").is_file() or (d / "result.json").is_file())
        ),
        key=_ray_trial_order,
    )
    if not trial_dirs:
        nested = sorted(
            d.name
            for d in root.iterdir()
            if d.is_dir() and any((t / "result.json").is_file() for t in d.iterdir() if t.is_dir())
        )
        hint = (
            f"; it looks like a storage_path: give one of its experiment folders "
            f"({', '.join(nested)})"
            if nested
            else ""
        )
        raise ConfigError(
            f"no Ray Tune trial folders (with params.json or result.json) in {str(root)!r}{hint}"
        )

    trials = [(d, _ray_params(d), _ray_rows(d)) for d in trial_dirs]
    if not any(metric in row for _, _, rows in trials for row in rows):
        found = sorted(
            {
                k
                for _, _, rows in trials
                for row in rows
                for k, v in row.items()
                if k not in _RAY_AUTO_KEYS
                and not k.startswith(RAY_PREFIX)
                and isinstance(v, int | float)
                and not isinstance(v, bool)
            }
        )
        raise ConfigError(
            f"metric {metric!r} is in no result of {str(root)!r}; "
            f"metrics found: {', '.join(found) or '(none)'}"
        )
    max_iter = max((ray_iteration(rows) for _, _, rows in trials), default=0)

    study = root.resolve().name
    records = []
    for number, (trial_dir, params, rows) in enumerate(trials):
        failed = (trial_dir / "error.txt").is_file() or (trial_dir / "error.pkl").is_file()
        records.append(ray_record(
            rows, study=study, number=number, metric=metric, mode=mode, max_iteration=max_iter,
            params=params, failed=failed, error=_ray_error(trial_dir) if failed else None,
            attrs={"trial_dir": trial_dir.name}, where=str(trial_dir)))
    return records

def ray_record(
    rows: list[dict[str, Any]],
    *,
    study: str,
    number: int,
    metric: str,
    mode: str = "min",
    max_iteration: int,
    params: Mapping[str, Any] | None = None,
    failed: bool = False,
    error: str | None = None,
    attrs: Mapping[str, Any] | None = None,
    where: str,
) -> TrialRecord:
    """One Ray Tune trial's record from its result rows: the mapping :func:`from_ray` applies
    to each trial folder, and :mod:`tunecost.ray` to the results of a running experiment.

    Args:
        rows: the trial's results in order, nested dicts flattened with ``/`` (``config``
            kept as is).
        study: the study's name; number: the record's number.
        metric: the objective key; mode: ``min`` or ``max``.
        max_iteration: the largest ``training_iteration`` any trial of the experiment
            reached: a trial that stopped below it is ``PRUNED``.
        params: the trial's parameters (default: the last row's ``config``, flattened).
        failed: the trial errored (``FAIL``); error: its message, kept in ``attrs``.
        attrs: more ``attrs`` (e.g. ``trial_dir``).
        where: names the trial in error messages.

    Raises:
        ConfigError: a malformed measurement.
    """
    direction = normalize_direction(mode, field="mode")
    mode = "min" if direction == "minimize" else "max"
    last = rows[-1] if rows else {}
    last_iter = _iteration(last, len(rows)) if rows else None
    if failed:
        state = "FAIL"
    elif last_iter is None or last_iter < max_iteration:
        state = "PRUNED"
    else:
        state = "COMPLETE"
    curve = [
        {
            "step": _iteration(row, i),
            "value": row[metric],
            "t_s": row.get(f"{RAY_PREFIX}duration_s", row.get("time_total_s")),
            "energy_j": row.get(f"{RAY_PREFIX}energy_j"),
        }
        for i, row in enumerate(rows, start=1)
        if _is_number(row.get(metric))
    ]
    values = [p["value"] for p in curve]
    rec_attrs: dict[str, Any] = {**(attrs or {}), "mode": mode, "direction": direction}
    trial_id = last.get("trial_id") or (rows[0].get("trial_id") if rows else None)
    if trial_id is not None:
        rec_attrs["trial_id"] = trial_id
    if failed:
        rec_attrs["error"] = error or ""
    duration_s = last.get(f"{RAY_PREFIX}duration_s", last.get("time_total_s", 0.0))
    t_start = last.get(f"{RAY_PREFIX}t_start")
    if _is_number(t_start) and _is_number(duration_s):
        rec_attrs["t_start"], rec_attrs["t_end"] = t_start, t_start + duration_s
    elif _is_number(last.get("timestamp")) and _is_number(last.get("time_total_s")):
        # Ray's own row timestamp is whole seconds: a coarse fallback.
        rec_attrs["t_start"] = last["timestamp"] - last["time_total_s"]
        rec_attrs["t_end"] = float(last["timestamp"])
    energy_j = last.get(f"{RAY_PREFIX}energy_j")
    cpu_energy_j = last.get(f"{RAY_PREFIX}cpu_energy_j")
    dram_energy_j = last.get(f"{RAY_PREFIX}dram_energy_j")
    host = cpu_energy_j if cpu_energy_j is not None else dram_energy_j
    return _record(
        {
            "study": study,
            "number": number,
            "state": state,
            "params": dict(params) if params is not None
            else _scalar_params(last.get("config") or {}),
            "value": values[-1] if values else None,
            "duration_s": duration_s,
            "energy_j": energy_j,
            "energy_source": _source(
                last.get(f"{RAY_PREFIX}energy_source"), energy_j, where,
                f"{RAY_PREFIX}energy_source",
            ),
            "cpu_energy_j": cpu_energy_j,
            "dram_energy_j": dram_energy_j,
            "cpu_energy_source": _source(
                last.get(f"{RAY_PREFIX}cpu_energy_source"), host, where,
                f"{RAY_PREFIX}cpu_energy_source",
            ),
            "power_mean_w": last.get(f"{RAY_PREFIX}power_mean_w"),
            "accelerator": last.get(f"{RAY_PREFIX}accelerator"),
            "fidelity": last_iter,
            "curve": curve,
            "attrs": rec_attrs,
        },
        where,
    )


def ray_iteration(rows: list[dict[str, Any]]) -> int:
    """The last ``training_iteration`` of a trial's rows (0 without any)."""
    return _iteration(rows[-1], len(rows)) if rows else 0


def flatten_ray_result(result: Mapping[str, Any]) -> dict[str, Any]:
    """A Ray Tune result as :func:`ray_record` reads it: nested dicts flattened with ``/``,
    ``config`` kept as is."""
    return {**_flatten(result), "config": result.get("config")}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _iteration(row: Mapping[str, Any], default: int) -> int:
    """``training_iteration`` of a result row (its 1-based position where Ray left it out)."""
    it = row.get("training_iteration")
    return int(it) if _is_number(it) else default


def _ray_params(trial_dir: Path) -> dict[str, Any] | None:
    path = trial_dir / "params.json"
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not JSON: {exc}") from None
    return _scalar_params(raw) if isinstance(raw, Mapping) else {}


def _ray_rows(trial_dir: Path) -> list[dict[str, Any]]:
    """Result rows of one trial, nested dicts flattened with ``/`` (``config`` left as is)."""
    path = trial_dir / "result.json"
    if not path.is_file():
        return []
    return [flatten_ray_result(raw) for _, raw in iter_jsonl(path)]


def _flatten(row: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if not prefix and key == "config":
            continue
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{prefix}{key}/"))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _ray_error(trial_dir: Path) -> str:
    path = trial_dir / "error.txt"
    if not path.is_file():
        return "error.pkl (no error.txt)"
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8", errors="replace").splitlines()]
    lines = [ln for ln in lines if ln]
    return lines[-1][:500] if lines else ""


# --------------------------------------------------------------------------------------------
# JSON Lines


def from_jsonl(path: str | Path) -> list[TrialRecord]:
    """Read a JSON Lines file of records: tunecost's own format or the shared H200 format.

    Same as :func:`tunecost.calibrate.records.read_records`.

    Raises:
        ConfigError: a line is not a record, or the file has none.
    """
    return read_records(path)


# --------------------------------------------------------------------------------------------
# CodeCarbon


def _read_codecarbon(csv_path: str | Path) -> list[tuple[str, dict[str, str]]]:
    """The rows of a CodeCarbon CSV as ``(where, row)``, checked for shape and encoding.

    Raises:
        ConfigError: no such file, not UTF-8, no ``duration`` column, a row with more or
            fewer cells than the header, or no rows.
    """
    path = Path(csv_path)
    # A spreadsheet that saved the file may have put a byte-order mark first: dropped.
    text = read_user_text(path, what="a CodeCarbon CSV")
    try:
        with io.StringIO(text, newline="") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            if "duration" not in header:
                raise ConfigError(
                    f"{path}: not a CodeCarbon emissions CSV (no 'duration' column; "
                    f"columns: {', '.join(header) or '(none)'})"
                )
            rows = []
            for row in reader:
                where = f"{path}:{reader.line_num}"
                if None in row or any(v is None for v in row.values()):
                    n = len(header) + len(row.get(None) or []) - sum(
                        v is None for v in row.values()
                    )
                    raise ConfigError(
                        f"{where}: a row must have one cell per column ({len(header)}), "
                        f"but this one has {n}"
                    )
                rows.append((where, row))
    except csv.Error as exc:
        raise ConfigError(f"{path}: not a CSV file: {exc}") from None
    if not rows:
        raise ConfigError(f"{path}: no rows")
    return rows


def _cc_number(row: Mapping[str, str], col: str, where: str) -> float | None:
    """A finite number, ``>= 0`` for every column but ``longitude``/``latitude``; ``None``
    for an empty cell."""
    text = (row.get(col) or "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{where}: column {col!r} is not a number: {text!r}") from None
    if not math.isfinite(value) or (value < 0 and col not in ("longitude", "latitude")):
        raise ConfigError(f"{where}: column {col!r} must be a finite number >= 0, got {text!r}")
    return value


def _cc_energy(row: Mapping[str, str], where: str) -> dict[str, Any]:
    """The record fields a CodeCarbon row gives: duration, energies (J), sources, attrs.

    GPU energy is CodeCarbon's NVML reading (source ``codecarbon``). CPU and RAM energy are
    labelled ``estimated``: CodeCarbon models RAM power from its size in every version, and
    its CSV does not say whether the CPU figure came from RAPL or from its TDP fallback.
    """

    def energy_j(energy_col: str, power_col: str) -> float | None:
        kwh, power_w = _cc_number(row, energy_col, where), _cc_number(row, power_col, where)
        if kwh is None or (kwh == 0 and not power_w):
            return None  # no such device tracked
        return kwh * J_PER_KWH

    duration_s = _cc_number(row, "duration", where)
    if duration_s is None:
        raise ConfigError(f"{where}: 'duration' is empty")
    gpu_j = energy_j("gpu_energy", "gpu_power")
    cpu_j = energy_j("cpu_energy", "cpu_power")
    dram_j = energy_j("ram_energy", "ram_power")
    attrs: dict[str, Any] = {}
    for col, key in _CODECARBON_ATTRS.items():
        text = (row.get(col) or "").strip()
        if text:
            attrs[key] = _cc_number(row, col, where) if col in _CODECARBON_NUMERIC else text
    total_kwh = _cc_number(row, "energy_consumed", where)
    if total_kwh is not None:
        attrs["energy_consumed_j"] = total_kwh * J_PER_KWH
    return {
        "duration_s": duration_s,
        "energy_j": gpu_j,
        "energy_source": "codecarbon" if gpu_j is not None else "none",
        "cpu_energy_j": cpu_j,
        "dram_energy_j": dram_j,
        "cpu_energy_source": "estimated" if cpu_j is not None or dram_j is not None else "none",
        "power_mean_w": gpu_j / duration_s if gpu_j is not None and duration_s > 0 else None,
        "attrs": attrs,
    }


def from_codecarbon(csv_path: str | Path) -> list[TrialRecord]:
    """Read a CodeCarbon ``emissions.csv`` (or a per-task ``emissions_*.csv``): one record a row.

    CodeCarbon writes energies in kWh and power in W. Each row becomes a COMPLETE record
    numbered by its position (0 first), study ``project_name``, ``duration_s`` = ``duration``,
    ``energy_j`` = ``gpu_energy`` × 3.6e6, ``cpu_energy_j`` = ``cpu_energy`` × 3.6e6,
    ``dram_energy_j`` = ``ram_energy`` × 3.6e6, each ``None`` where both the energy and the
    matching power are 0 (no such device tracked); ``power_mean_w`` = ``energy_j /
    duration_s``. The GPU figure is CodeCarbon's NVML reading (source ``codecarbon``); the
    CPU and RAM figures are labelled ``estimated``: CodeCarbon always models RAM power from
    its size, and its CSV does not say whether the CPU figure came from RAPL or from its
    fallback of a fixed W per thread. ``attrs`` keeps ``emissions_kg``, ``country``,
    ``country_iso_code``, ``region``, ``run_id``, ``experiment_id``, ``task_name``,
    ``tracking_mode``, ``cpu_model``, ``gpu_model``, ``cpu_count``, ``gpu_count``,
    ``codecarbon_version``, ``pue``, ``energy_consumed_j`` where the row has them. Columns
    that older CodeCarbon versions lack are simply absent from the record.

    To give CodeCarbon's energy to the trials of an Optuna study or Ray Tune run, see
    :func:`join_codecarbon`.

    Args:
        csv_path: the CSV file CodeCarbon wrote.

    Raises:
        ConfigError: the file is missing, not UTF-8, has no rows, lacks a ``duration``
            column, has a row of the wrong length, or a number is malformed, infinite or
            negative (the message gives the line).
    """
    out = []
    for i, (where, row) in enumerate(_read_codecarbon(csv_path)):
        fields = _cc_energy(row, where)
        out.append(
            _record(
                {
                    "study": (row.get("project_name") or "").strip() or "codecarbon",
                    "number": i,
                    "state": "COMPLETE",
                    **fields,
                },
                where,
            )
        )
    return out


_CODECARBON_ATTRS = {
    "emissions": "emissions_kg",
    "country_name": "country",
    "country_iso_code": "country_iso_code",
    "region": "region",
    "cloud_provider": "cloud_provider",
    "cloud_region": "cloud_region",
    "run_id": "run_id",
    "experiment_id": "experiment_id",
    "task_name": "task_name",
    "tracking_mode": "tracking_mode",
    "cpu_model": "cpu_model",
    "gpu_model": "gpu_model",
    "cpu_count": "cpu_count",
    "gpu_count": "gpu_count",
    "codecarbon_version": "codecarbon_version",
    "pue": "pue",
}
_CODECARBON_NUMERIC = {"emissions", "cpu_count", "gpu_count", "pue"}

# A CodeCarbon row names its trial as ``trial-<number>``, optionally after ``<study>/``.
_CC_TRIAL_NAME = re.compile(r"^(?:(?P<study>.+)/)?trial-(?P<number>\d+)$")
_CC_NAME_COLUMNS = ("project_name", "task_name", "experiment_id")
CODECARBON_TIME_SLACK_S = 1.5
"""How far a CodeCarbon row may stick out of its trial's time range, s: CodeCarbon writes
its timestamp in whole seconds (truncated), and the clocks are read a little apart."""


def _cc_interval(row: Mapping[str, str], duration_s: float) -> tuple[float, float] | None:
    """A row's ``[timestamp - duration, timestamp]`` in POSIX s; ``None`` without a timestamp.

    CodeCarbon writes its local time without a zone (``datetime.now()``), as Optuna does;
    a naive timestamp is read as this machine's local time, the same as Optuna's.
    """
    from datetime import datetime

    text = (row.get("timestamp") or "").strip()
    if not text:
        return None
    try:
        t_end = datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None
    if "." not in text.split("T")[-1]:
        t_end += 0.5  # truncated to the second: the true end is within the next second
    return t_end - duration_s, t_end


def join_codecarbon(
    records: list[TrialRecord], csv_path: str | Path
) -> list[TrialRecord]:
    """Give each trial the energy of the CodeCarbon row that measured it.

    A row belongs to a trial

    1. **by name**, first: its ``project_name``, ``task_name`` (per-task CSVs) or
       ``experiment_id`` is ``trial-<number>`` (the Optuna trial number, or the position of a
       Ray Tune trial as :func:`from_ray` numbers them), optionally ``<study>/trial-<number>``,
       or equals the Ray Tune ``trial_id``. So track each trial with its own tracker named
       after it, e.g. ``OfflineEmissionsTracker(project_name=f"trial-{trial.number}")``
       inside the objective (or ``tracker.start_task(f"trial-{trial.number}")``);
    2. else **by time**: the row's ``[timestamp - duration, timestamp]`` lies within the
       trial's ``[t_start, t_end]`` (Optuna's ``datetime_start``/``datetime_complete``; Ray
       Tune's trial start and end), give or take :data:`CODECARBON_TIME_SLACK_S`; of several
       such trials (trials run in parallel), the one whose end is nearest the row's. A row
       that spans several trials (one tracker around the whole study) belongs to none.

    Each row goes to at most one trial and each trial gets at most one row (of two rows
    with the trial's name, the one nearest in time). A matched trial takes CodeCarbon's
    figures where CodeCarbon has them (see :func:`from_codecarbon`: GPU energy labelled
    ``codecarbon``, CPU and RAM energy ``estimated``) and keeps its own elsewhere (its
    duration always); ``attrs`` gains ``codecarbon_line``, ``codecarbon_matched_by``
    (``name``/``time``), ``codecarbon_duration_s``, ``emissions_kg``, ``energy_consumed_j``
    and the row's context. Unmatched trials and rows are reported in one warning.

    Args:
        records: the trials, e.g. from :func:`from_optuna` or :func:`from_ray`.
        csv_path: the ``emissions.csv`` CodeCarbon wrote.

    Returns:
        The records, in the same order, matched ones updated.

    Raises:
        ConfigError: the CSV is malformed (see :func:`from_codecarbon`), or no row matches
            any trial (the message says how to name the trackers).
    """
    rows = []
    for where, row in _read_codecarbon(csv_path):
        fields = _cc_energy(row, where)
        rows.append((where, row, fields, _cc_interval(row, fields["duration_s"])))
    # Rows that share a whole-second timestamp were written in the order their trackers
    # stopped: spread their ends over that second in line order, rather than all at +0.5 s.
    same_second: dict[str, list[int]] = {}
    for r, (_, row, _, span) in enumerate(rows):
        text = (row.get("timestamp") or "").strip()
        if span is not None and "." not in text.split("T")[-1]:
            same_second.setdefault(text, []).append(r)
    for group in same_second.values():
        for k, r in enumerate(group):
            where, row, fields, span = rows[r]
            assert span is not None
            shift_s = (k + 1) / (len(group) + 1) - 0.5
            rows[r] = (where, row, fields, (span[0] + shift_s, span[1] + shift_s))

    def trial_interval(rec: TrialRecord) -> tuple[float, float] | None:
        t0, t1 = rec.attrs.get("t_start"), rec.attrs.get("t_end")
        return (float(t0), float(t1)) if _is_number(t0) and _is_number(t1) else None

    def end_gap_s(i_row: int, i_rec: int) -> float:
        a, b = rows[i_row][3], trial_interval(records[i_rec])
        return abs(a[1] - b[1]) if a is not None and b is not None else math.inf

    # 1. by name
    by_number: dict[int, list[int]] = {}
    for i, rec in enumerate(records):
        by_number.setdefault(rec.number, []).append(i)
    by_trial_id = {
        str(rec.attrs["trial_id"]): i for i, rec in enumerate(records) if "trial_id" in rec.attrs
    }
    claims: dict[int, list[int]] = {}  # record index -> row indices naming it
    for r, (_, row, _, _) in enumerate(rows):
        for col in _CC_NAME_COLUMNS:
            name = (row.get(col) or "").strip()
            match = _CC_TRIAL_NAME.match(name)
            hits: list[int] = []
            if match is not None:
                hits = [
                    i for i in by_number.get(int(match["number"]), [])
                    if match["study"] in (None, records[i].study)
                ]
            elif name in by_trial_id:
                hits = [by_trial_id[name]]
            if len(hits) == 1:
                claims.setdefault(hits[0], []).append(r)
                break
    matched: dict[int, tuple[int, str]] = {}  # record index -> (row index, how)
    used: set[int] = set()
    for i, rs in claims.items():
        best = min(rs, key=lambda r: (end_gap_s(r, i), -r))  # nearest; else the last written
        matched[i] = (best, "name")
        used.add(best)
    named_rows = {r for rs in claims.values() for r in rs}

    # 2. by time, for rows that name no trial
    pairs = []
    for r, (_, _, _, span) in enumerate(rows):
        if r in named_rows or span is None:
            continue
        for i, rec in enumerate(records):
            trial = trial_interval(rec)
            if i in matched or trial is None:
                continue
            slack = CODECARBON_TIME_SLACK_S
            if trial[0] - slack <= span[0] and span[1] <= trial[1] + slack:
                pairs.append((abs(span[1] - trial[1]), r, i))
    for _, r, i in sorted(pairs):
        if r not in used and i not in matched:
            matched[i] = (r, "time")
            used.add(r)

    if not matched:
        raise ConfigError(
            f"{csv_path}: no CodeCarbon row matched any of the {len(records)} trials; name "
            "each trial's tracker after it (project_name or task_name 'trial-<number>', or "
            "the Ray trial id), or track each trial on its own so that its row falls within "
            "the trial's start and end"
        )
    out = list(records)
    for i, (r, how) in matched.items():
        where, _, fields, _ = rows[r]
        rec = records[i]
        update: dict[str, Any] = {
            k: fields[k]
            for k in ("energy_j", "cpu_energy_j", "dram_energy_j", "power_mean_w")
            if fields[k] is not None
        }
        if fields["energy_j"] is not None:
            update["energy_source"] = fields["energy_source"]
        if fields["cpu_energy_j"] is not None or fields["dram_energy_j"] is not None:
            update["cpu_energy_source"] = fields["cpu_energy_source"]
            if fields["cpu_energy_j"] is None:
                update["cpu_energy_j"] = None  # half of a host figure would mislead
            if fields["dram_energy_j"] is None:
                update["dram_energy_j"] = None
        attrs = {
            **rec.attrs,
            **fields["attrs"],
            "codecarbon_line": where,
            "codecarbon_matched_by": how,
            "codecarbon_duration_s": fields["duration_s"],
        }
        out[i] = _record({**rec.model_dump(), **update, "attrs": attrs}, where)

    n_name = sum(how == "name" for _, how in matched.values())
    problems = []
    if len(matched) < len(records):
        missing = [records[i].number for i in range(len(records)) if i not in matched]
        shown = ", ".join(map(str, missing[:10])) + (", ..." if len(missing) > 10 else "")
        problems.append(f"{len(missing)} trial(s) without a row (numbers {shown})")
    if len(used) < len(rows):
        lines = [rows[r][0].rpartition(":")[2] for r in range(len(rows)) if r not in used]
        shown = ", ".join(lines[:10]) + (", ..." if len(lines) > 10 else "")
        problems.append(f"{len(lines)} row(s) matched no trial (lines {shown})")
    if problems:
        warnings.warn(
            f"CodeCarbon join: {len(matched)} of {len(records)} trials matched "
            f"({n_name} by name, {len(matched) - n_name} by time); " + "; ".join(problems)
            + "; unmatched trials keep their own energy figures",
            stacklevel=2,
        )
    return out


# --------------------------------------------------------------------------------------------
# Dispatcher


def load_records(
    *,
    records: str | Path | None = None,
    optuna_storage: str | None = None,
    study: str | None = None,
    ray_results: str | Path | None = None,
    metric: str | None = None,
    codecarbon: str | Path | None = None,
    mode: str | None = None,
) -> list[TrialRecord]:
    """Read trials from one source: the one entry point the CLI calls.

    Args:
        records: a JSON Lines file of records (``--records``).
        optuna_storage: an Optuna storage (``--optuna-storage``): an SQLAlchemy URL or a
            JournalStorage file, with ``study`` (``--study``) unless the storage holds one
            study.
        ray_results: a Ray Tune experiment folder (``--ray-results``); needs ``metric``.
        metric: the objective key of the Ray Tune results (``--metric``).
        codecarbon: a CodeCarbon ``emissions.csv`` (``--codecarbon``): alone, one record per
            row; with another source, joined to its trials (:func:`join_codecarbon`).
        mode: the Ray Tune objective's direction (``min``/``max``/``minimize``/``maximize``;
            ``None``: ``min``).

    Returns:
        The records of that source.

    Raises:
        ConfigError: no source or more than one trial source, a flag that belongs to another
            source, or an error of the source's reader.

    Example:
        >>> load_records()
        Traceback (most recent call last):
        ...
        tunecost.exceptions.ConfigError: give exactly one of --records, \
--optuna-storage/--study, --ray-results, --codecarbon (got none)
    """
    given = [
        name
        for name, value in (
            ("--records", records),
            ("--optuna-storage", optuna_storage or study),
            ("--ray-results", ray_results),
        )
        if value is not None
    ]
    if len(given) > 1 or (not given and codecarbon is None):
        raise ConfigError(
            "give exactly one of --records, --optuna-storage/--study, --ray-results, "
            f"--codecarbon (got {', '.join(given) or 'none'})"
            + ("; --codecarbon may be added to any of them" if given else "")
        )
    if metric is not None and ray_results is None:
        raise ConfigError("--metric applies only to --ray-results")
    if not given:
        assert codecarbon is not None
        return from_codecarbon(codecarbon)
    if records is not None:
        recs = from_jsonl(records)
    elif optuna_storage is not None:
        recs = from_optuna(optuna_storage, study)
    elif study is not None:
        raise ConfigError(f"--study {study!r} needs --optuna-storage")
    else:
        if metric is None:
            raise ConfigError("--ray-results needs --metric (the objective the trials report)")
        assert ray_results is not None
        recs = from_ray(ray_results, metric=metric, mode=mode)
    return recs if codecarbon is None else join_codecarbon(recs, codecarbon)
