"""The few NVML calls :class:`~tunecost.calibrate.measure.TrialMeter` makes, and stand-ins.

:class:`NvmlApi` names exactly the ``pynvml`` functions and exceptions the meter uses, with
pynvml's own names and units, so the ``pynvml`` module itself satisfies it. Two stand-ins
implement it too:

- :class:`NvmlReplay` plays back recorded readings (a JSON fixture), so the NVML path is
  tested on machines without a GPU;
- :class:`CounterlessNvml` wraps a real API and hides the energy counter, so the
  power-integration fallback of pre-Volta GPUs can be checked against the counter on a
  modern GPU (``benchmarks/nvml_check.py``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Protocol

__all__ = ["CounterlessNvml", "NvmlApi", "NvmlReplay", "load_pynvml"]


class NvmlApi(Protocol):
    """The NVML surface the meter uses (names and units as in ``pynvml``).

    Attributes:
        NVMLError: base class of every error the calls raise.
        NVMLError_NotSupported: raised by a call the device does not support (e.g. the energy
            counter before Volta).
    """

    NVMLError: type[Exception]
    NVMLError_NotSupported: type[Exception]

    def nvmlInit(self) -> None: ...

    def nvmlDeviceGetCount(self) -> int: ...

    def nvmlDeviceGetHandleByIndex(self, index: int) -> Any: ...

    def nvmlDeviceGetHandleByUUID(self, uuid: str) -> Any: ...

    def nvmlDeviceGetName(self, handle: Any) -> str: ...

    def nvmlDeviceGetUUID(self, handle: Any) -> str: ...

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: Any) -> int:
        """Energy since the driver loaded, mJ."""
        ...

    def nvmlDeviceGetPowerUsage(self, handle: Any) -> int:
        """Board power now, mW."""
        ...

    def nvmlDeviceGetUtilizationRates(self, handle: Any) -> Any:
        """An object with ``gpu`` and ``memory`` utilisation, %."""
        ...


def load_pynvml() -> NvmlApi | None:
    """The ``pynvml`` module (package ``nvidia-ml-py``), or ``None`` where it is not installed."""
    try:
        import pynvml
    except ImportError:
        return None
    return pynvml  # type: ignore[return-value]


class ReplayNvmlError(Exception):
    """An NVML error raised by :class:`NvmlReplay`."""


class ReplayNotSupportedError(ReplayNvmlError):
    """The replayed device does not support the call (like ``NVMLError_NotSupported``)."""


@dataclass
class _ReplayDevice:
    name: str
    uuid: str
    energy_mj: list[int] | None
    power_mw: list[int]
    util_gpu_pct: list[float]
    util_mem_pct: list[float]
    cursor: dict[str, int] = field(default_factory=dict)

    def next(self, key: str, values: Sequence[Any]) -> Any:
        # Each call returns the next recorded reading; past the end the last one repeats,
        # as a counter that stopped updating would.
        i = self.cursor.get(key, 0)
        self.cursor[key] = i + 1
        return values[min(i, len(values) - 1)]


class NvmlReplay:
    """Recorded NVML readings played back through the :class:`NvmlApi` calls.

    Each device holds the sequence of values successive calls return: energy counter
    readings (mJ; ``null`` for a device without the counter), power samples (mW) and
    utilisation samples (%). Past the end of a sequence the last value repeats.

    Args:
        devices: one mapping per device, in NVML index order, with keys ``name``, ``uuid``,
            ``energy_mj`` (list or ``None``), ``power_mw``, ``util_gpu_pct`` and optionally
            ``util_mem_pct``.
        init_error: if given, ``nvmlInit`` raises ``NVMLError`` with this message (a machine
            without a driver).

    Attributes:
        calls: how many times each function was called, by pynvml name.
    """

    NVMLError = ReplayNvmlError
    NVMLError_NotSupported = ReplayNotSupportedError

    def __init__(
        self, devices: Sequence[Mapping[str, Any]], *, init_error: str | None = None
    ) -> None:
        self._devices = [
            _ReplayDevice(
                name=d["name"],
                uuid=d["uuid"],
                energy_mj=None if d.get("energy_mj") is None else list(d["energy_mj"]),
                power_mw=list(d["power_mw"]),
                util_gpu_pct=list(d.get("util_gpu_pct") or [0.0]),
                util_mem_pct=list(d.get("util_mem_pct") or [0.0]),
            )
            for d in devices
        ]
        for d in self._devices:
            if not d.power_mw or (d.energy_mj is not None and not d.energy_mj):
                raise ValueError(
                    f"a replayed device needs at least one power and energy reading, "
                    f"got {len(d.power_mw)} power and {len(d.energy_mj or [])} energy "
                    f"readings for {d.uuid!r}"
                )
        self._init_error = init_error
        self._lock = threading.Lock()
        self.calls: dict[str, int] = {}

    @classmethod
    def from_json(cls, path: str | Path) -> NvmlReplay:
        """Read a replay fixture: a JSON object with a ``devices`` list (see the class)."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(data["devices"], init_error=data.get("init_error"))

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    def nvmlInit(self) -> None:
        with self._lock:
            self._count("nvmlInit")
            if self._init_error is not None:
                raise ReplayNvmlError(self._init_error)

    def nvmlDeviceGetCount(self) -> int:
        return len(self._devices)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> _ReplayDevice:
        if not 0 <= index < len(self._devices):
            raise ReplayNvmlError(f"Invalid Argument: no device {index}")
        return self._devices[index]

    def nvmlDeviceGetHandleByUUID(self, uuid: str) -> _ReplayDevice:
        for d in self._devices:
            if d.uuid == uuid:
                return d
        raise ReplayNvmlError(f"Not Found: no device {uuid}")

    def nvmlDeviceGetName(self, handle: _ReplayDevice) -> str:
        return handle.name

    def nvmlDeviceGetUUID(self, handle: _ReplayDevice) -> str:
        return handle.uuid

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: _ReplayDevice) -> int:
        with self._lock:
            self._count("nvmlDeviceGetTotalEnergyConsumption")
            if handle.energy_mj is None:
                raise ReplayNotSupportedError("Not Supported")
            return handle.next("energy", handle.energy_mj)

    def nvmlDeviceGetPowerUsage(self, handle: _ReplayDevice) -> int:
        with self._lock:
            self._count("nvmlDeviceGetPowerUsage")
            return handle.next("power", handle.power_mw)

    def nvmlDeviceGetUtilizationRates(self, handle: _ReplayDevice) -> SimpleNamespace:
        with self._lock:
            self._count("nvmlDeviceGetUtilizationRates")
            return SimpleNamespace(
                gpu=handle.next("util_gpu", handle.util_gpu_pct),
                memory=handle.next("util_mem", handle.util_mem_pct),
            )


class CounterlessNvml:
    """A real :class:`NvmlApi` with the energy counter hidden (reports "not supported").

    The meter then integrates sampled power, as it must on pre-Volta GPUs; running it beside
    an ordinary meter on a modern GPU compares the two.
    """

    def __init__(self, api: NvmlApi) -> None:
        self._api = api
        self.NVMLError = api.NVMLError
        self.NVMLError_NotSupported = api.NVMLError_NotSupported

    def __getattr__(self, name: str) -> Any:
        return getattr(self._api, name)

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: Any) -> int:
        raise self._api.NVMLError_NotSupported()
