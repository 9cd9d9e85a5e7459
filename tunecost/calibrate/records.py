"""The one record format every calibration source is read into.

A :class:`TrialRecord` is one trial of a real study, measured: its hyperparameters, state,
objective value, wall time, energy (with where the energy figure came from), and its learning
curve with elapsed time and energy at each evaluation. Records are stored as JSON Lines, one
record per line; :func:`read_records` also reads the H200 files in ``shared/data``, whose
lines are a subset of this format (their ``val_loss`` is the ``value``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tunecost._atomic import atomic_open
from tunecost._errors import one_line
from tunecost._text import read_user_text
from tunecost.exceptions import ConfigError

__all__ = [
    "OPTUNA_USER_ATTR",
    "RAY_KEY_PREFIX",
    "CurvePoint",
    "EnergySource",
    "TrialRecord",
    "iter_jsonl",
    "read_records",
    "write_records",
]

OPTUNA_USER_ATTR = "tunecost"
"""Optuna trial user attribute that holds a trial's measurement (written by
``tunecost.calibrate.optuna.measured``, read by ``importers.from_optuna``)."""

RAY_KEY_PREFIX = "tunecost/"
"""Prefix of the measurement keys in every Ray Tune result (written by
``tunecost.calibrate.ray.report``, read by ``importers.from_ray``)."""

EnergySource = Literal["nvml", "rapl", "codecarbon", "estimated", "none"]
"""Where an energy figure comes from; ``estimated`` is shown in every output that uses it."""


class CurvePoint(BaseModel):
    """One evaluation during a trial.

    Attributes:
        step: training progress at the evaluation (steps, epochs: the study's resource unit).
        value: objective at that point (e.g. validation loss).
        t_s: seconds since the trial started.
        energy_j: accelerator energy since the trial started, J (``None`` if not measured).
    """

    # Every number finite: a NaN or inf step, time or energy is refused here, at the boundary,
    # instead of turning into a NaN total downstream.
    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)

    step: float
    value: float
    t_s: float = Field(ge=0)
    energy_j: float | None = Field(default=None, ge=0)


class TrialRecord(BaseModel):
    """One measured trial.

    Attributes:
        study: study name.
        number: trial number within the study.
        state: ``COMPLETE``, ``PRUNED`` or ``FAIL`` (pruned and failed trials cost too).
        params: hyperparameters as sampled; a parameter absent from a trial was not active in
            it (a conditional search space: ``svc_c`` only where ``classifier`` is ``SVC``).
            Values are finite numbers, strings or booleans.
        value: final objective value (``None`` for failed trials).
        duration_s: wall time of the trial, s.
        energy_j: accelerator energy of the trial (all its devices), J.
        cpu_energy_j, dram_energy_j: host energy, J, where measured or estimated.
        energy_source: where ``energy_j`` comes from; ``cpu_energy_source`` likewise.
        power_mean_w: mean accelerator power over the trial (sum over devices), W.
        accelerator: catalog name of the accelerator, where known.
        fidelity: resource the trial ran to (e.g. steps), in the study's unit.
        curve: evaluations along the way.
        attrs: anything else the source recorded (model size, FLOPs, utilisation, ...).
    """

    # Finite numbers only (see CurvePoint); ``params`` and ``attrs`` are checked by hand.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    study: str = "study"
    number: int = Field(ge=0)
    state: Literal["COMPLETE", "PRUNED", "FAIL"]
    params: dict[str, float | int | str | bool] = Field(default_factory=dict)
    value: float | None = None
    duration_s: float = Field(ge=0)
    energy_j: float | None = Field(default=None, ge=0)
    energy_source: EnergySource = "none"
    cpu_energy_j: float | None = Field(default=None, ge=0)
    dram_energy_j: float | None = Field(default=None, ge=0)
    cpu_energy_source: EnergySource = "none"
    power_mean_w: float | None = Field(default=None, ge=0)
    accelerator: str | None = None
    fidelity: float | None = None
    curve: list[CurvePoint] = Field(default_factory=list)
    attrs: dict[str, Any] = Field(default_factory=dict)

    @property
    def host_energy_j(self) -> float | None:
        """CPU + DRAM energy, J (``None`` without a CPU figure)."""
        if self.cpu_energy_j is None:
            return None
        return self.cpu_energy_j + (self.dram_energy_j or 0.0)

    @field_validator("params", mode="before")
    @classmethod
    def _finite_params(cls, params: Any) -> Any:
        # Before the union validation, so a NaN gives one message, not one per member type.
        for name, value in params.items() if isinstance(params, dict) else ():
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"params[{name!r}] must be a finite number, but got {value}")
        return params

    @property
    def estimated(self) -> bool:
        """Whether any energy figure of this record is an estimate."""
        return "estimated" in (self.energy_source, self.cpu_energy_source)


# Keys of the shared H200 JSONL files and where they go in a TrialRecord.
_SHARED_DATA_KEYS = {"params", "state", "duration_s", "energy_j", "curve", "study", "number"}


def _from_shared_data(raw: dict[str, Any], line_no: int) -> dict[str, Any]:
    """Map one line of ``shared/data/*.jsonl`` to TrialRecord fields."""
    out = {k: raw[k] for k in _SHARED_DATA_KEYS if k in raw}
    out.setdefault("number", line_no)
    out["value"] = raw.get("val_loss")
    out["energy_source"] = "nvml" if raw.get("energy_j") is not None else "none"
    out["power_mean_w"] = raw.get("power_mean_w")
    out["fidelity"] = raw.get("steps_run", raw.get("params", {}).get("steps"))
    out["curve"] = [
        {"step": p["step"], "value": p["val_loss"], "t_s": p["t_s"], "energy_j": p.get("energy_j")}
        for p in raw.get("curve", [])
    ]
    out["attrs"] = {k: v for k, v in raw.items() if k not in _SHARED_DATA_KEYS
                    and k not in ("val_loss", "power_mean_w")}
    return out


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line number, object)`` for each non-blank line of a JSON Lines file.

    Raises:
        ConfigError: the file cannot be read as UTF-8 text, or a line is not JSON (with the
            file and line number).
    """
    path = Path(path)
    for line_no, line in enumerate(read_user_text(path, what="a JSON Lines file").splitlines(),
                                   start=1):
        if not line.strip():
            continue
        try:
            yield line_no, json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{line_no}: not JSON: {exc}") from None


def read_records(path: str | Path) -> list[TrialRecord]:
    """Read a JSON Lines file of records (tunecost's own, or the shared H200 format).

    Raises:
        ConfigError: a line is not JSON or not a record (with the file and line number).
    """
    records = []
    for line_no, raw in iter_jsonl(path):
        try:
            if "val_loss" in raw and "value" not in raw:
                raw = _from_shared_data(raw, line_no - 1)
            records.append(TrialRecord.model_validate(raw))
        except (ValueError, TypeError, AttributeError) as exc:  # a line that is no object
            raise ConfigError(f"{path}:{line_no}: not a trial record: {one_line(exc)}") from None
    if not records:
        raise ConfigError(f"{path}: no trial records")
    return records


def write_records(records: Iterable[TrialRecord], path: str | Path) -> None:
    """Write records as JSON Lines, atomically (a temporary file, then a rename)."""
    with atomic_open(path) as fh:
        for record in records:
            fh.write(record.model_dump_json() + "\n")
