"""Measure one real trial: wall time, accelerator energy, CPU and DRAM energy.

:class:`TrialMeter` is a context manager around one trial::

    with TrialMeter() as meter:
        train(config)                      # call meter.snapshot() at each evaluation
    m = meter.result                       # a Measurement

Where the figures come from, best first:

- accelerator: the NVML energy counter of every visible GPU (difference between the start and
  the end of the trial, mJ); on GPUs without the counter (before Volta) the integral of power
  samples; where NVML is unavailable, ``None`` or, if asked, TDP × utilisation × time
  (``"estimated"``);
- CPU and DRAM: Intel RAPL counters through powercap sysfs; where those cannot be read (no
  RAPL, or root-only as on most Linux systems since 5.10), the trial's CPU time × watts per
  busy core (``"estimated"``; DRAM ``None``). The trial's CPU time is its own thread's plus
  an equal share of the rest of the process tree's (other threads, joblib/loky and other
  child processes) among the trials running at once: see :mod:`tunecost.calibrate._cpu`.

Every estimate is marked in ``energy_source`` / ``cpu_energy_source``.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from types import TracebackType
from typing import Any

from tunecost import catalog
from tunecost.calibrate import _cpu
from tunecost.calibrate._nvml import NvmlApi, load_pynvml
from tunecost.calibrate._rapl import DEFAULT_RAPL_ROOT, RaplSession, open_rapl
from tunecost.calibrate.records import EnergySource
from tunecost.exceptions import ConfigError

__all__ = ["Measurement", "NvmlBackend", "RaplBackend", "TrialMeter"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Measurement:
    """What one trial cost, as measured (or estimated: see the ``*_source`` fields).

    Attributes:
        duration_s: wall time of the trial, s.
        energy_j: accelerator energy, summed over the visible devices, J (``None``: unknown).
        energy_source: ``"nvml"``, ``"estimated"`` (TDP × utilisation × time) or ``"none"``.
        cpu_energy_j: CPU package energy (all packages), J.
        dram_energy_j: DRAM energy, J (RAPL only; ``None`` otherwise).
        cpu_energy_source: ``"rapl"``, ``"estimated"`` (CPU time × W per core) or ``"none"``.
        power_mean_w: mean accelerator power over the samples, summed over devices, W.
        power_max_w: highest summed sample, W.
        power_min_w: lowest summed sample, W.
        util_mean: accelerator utilisation, mean over samples and devices, %.
        devices: accelerator names, one per device (e.g. ``"NVIDIA H200"``).
        n_samples: number of power samples behind the power figures.
        cpu_s: CPU time charged to the trial, s (its thread plus its share of the process
            tree's other CPU time; see :mod:`tunecost.calibrate._cpu`).
    """

    duration_s: float
    energy_j: float | None
    energy_source: EnergySource
    cpu_energy_j: float | None
    dram_energy_j: float | None
    cpu_energy_source: EnergySource
    power_mean_w: float | None
    power_max_w: float | None
    power_min_w: float | None
    util_mean: float | None
    devices: tuple[str, ...]
    n_samples: int
    cpu_s: float | None = None

    @property
    def estimated(self) -> bool:
        """Whether any energy figure is an estimate rather than a reading."""
        return "estimated" in (self.energy_source, self.cpu_energy_source)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-serialisable dict (``devices`` becomes a list)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["devices"] = list(self.devices)
        return out


# ---------------------------------------------------------------------------------- backends


@dataclass
class _Device:
    handle: Any
    name: str
    uuid: str
    start_mj: int | None  # None: no energy counter, integrate samples instead
    samples: list[tuple[float, float]]  # (clock s, power W)
    running_j: float = 0.0  # trapezoid integral of `samples` so far, for snapshot()

    def add(self, t_s: float, power_w: float) -> None:
        if self.samples:
            t_prev, p_prev = self.samples[-1]
            self.running_j += 0.5 * (p_prev + power_w) * (t_s - t_prev)
        self.samples.append((t_s, power_w))


def _integral_j(samples: list[tuple[float, float]], t_end_s: float) -> float | None:
    """Trapezoid integral of (time s, power W) samples, J; one sample is held to ``t_end_s``."""
    if not samples:
        return None
    if len(samples) == 1:
        return samples[0][1] * max(0.0, t_end_s - samples[0][0])
    return sum(
        0.5 * (p0 + p1) * (t1 - t0)
        for (t0, p0), (t1, p1) in zip(samples, samples[1:], strict=False)
    )


class NvmlBackend:
    """Accelerator energy and power from NVML, for the GPUs ``CUDA_VISIBLE_DEVICES`` shows.

    ``CUDA_VISIBLE_DEVICES`` is read when each trial starts: unset means every GPU; an empty
    string means none; otherwise a comma list of NVML indices or ``GPU-`` UUIDs (a unique UUID
    prefix is accepted, as CUDA does). As in CUDA, an entry that names no device ends the
    list (with a warning). ``MIG-`` entries are skipped with a warning: NVML has no energy
    counter per MIG instance. Indices are NVML's (PCI bus) order, which is CUDA's only under
    ``CUDA_DEVICE_ORDER=PCI_BUS_ID``; UUIDs are unambiguous.

    NVML is initialised once per process (and again after a fork) and never shut down, so a
    trial pays only for the few calls it makes.

    Args:
        api: the NVML calls to use; ``None`` means the ``pynvml`` module (``nvidia-ml-py``,
            the ``nvml`` extra). Tests pass a :class:`~tunecost.calibrate._nvml.NvmlReplay`.

    Attributes:
        reason: why NVML is unavailable, after a failed start (empty otherwise).
    """

    def __init__(self, api: NvmlApi | None = None) -> None:
        self._given_api = api
        self._api: NvmlApi | None = None
        self._init_pid: int | None = None
        self._lock = threading.Lock()
        self.reason = ""

    def api(self) -> NvmlApi | None:
        """The initialised API, or ``None`` where NVML cannot be used (see ``reason``)."""
        with self._lock:
            if self._init_pid == os.getpid():
                return self._api
            self._init_pid = os.getpid()
            self._api = None
            api = self._given_api if self._given_api is not None else load_pynvml()
            if api is None:
                self.reason = "pynvml is not installed (pip install 'tunecost[nvml]')"
                return None
            try:
                api.nvmlInit()
            except (api.NVMLError, OSError) as exc:
                self.reason = f"nvmlInit failed: {exc}"
                _log.debug("NVML unavailable: %s", self.reason)
                return None
            self.reason = ""
            self._api = api
            return api

    def open(self) -> tuple[NvmlApi, list[_Device]] | None:
        """Resolve the visible devices and read their energy counters (the trial's start)."""
        api = self.api()
        if api is None:
            return None
        try:
            handles = _visible_handles(api, os.environ.get("CUDA_VISIBLE_DEVICES"))
            devices = []
            for handle in handles:
                try:
                    start_mj: int | None = int(api.nvmlDeviceGetTotalEnergyConsumption(handle))
                except api.NVMLError:
                    start_mj = None  # NotSupported before Volta; integrate power instead
                devices.append(
                    _Device(
                        handle=handle,
                        name=str(api.nvmlDeviceGetName(handle)),
                        uuid=str(api.nvmlDeviceGetUUID(handle)),
                        start_mj=start_mj,
                        samples=[],
                    )
                )
        except api.NVMLError as exc:
            self.reason = f"NVML device query failed: {exc}"
            _log.debug("NVML unavailable: %s", self.reason)
            return None
        return (api, devices) if devices else None


def _visible_handles(api: NvmlApi, visible: str | None) -> list[Any]:
    """NVML handles of the devices ``CUDA_VISIBLE_DEVICES=visible`` selects, in its order."""
    count = int(api.nvmlDeviceGetCount())
    if visible is None:
        return [api.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
    handles: list[Any] = []
    seen: set[str] = set()
    for raw in visible.split(","):
        entry = raw.strip()
        if not entry:
            if visible.strip():
                _warn_visible(entry, visible)
            break
        if entry.startswith("MIG-"):
            warnings.warn(
                f"CUDA_VISIBLE_DEVICES entry {entry!r} is a MIG instance; NVML has no energy "
                "counter per instance, so it is not metered",
                stacklevel=4,
            )
            continue
        handle = _resolve_entry(api, entry, count)
        if handle is None:
            _warn_visible(entry, visible)
            break
        uuid = str(api.nvmlDeviceGetUUID(handle))
        if uuid not in seen:
            seen.add(uuid)
            handles.append(handle)
    return handles


def _warn_visible(entry: str, visible: str) -> None:
    warnings.warn(
        f"CUDA_VISIBLE_DEVICES entry {entry!r} is not a device index or GPU UUID on this "
        f"machine; CUDA ignores it and every later entry, and so does the meter "
        f"(CUDA_VISIBLE_DEVICES={visible!r})",
        stacklevel=5,
    )


def _resolve_entry(api: NvmlApi, entry: str, count: int) -> Any | None:
    if entry.isdigit():
        return api.nvmlDeviceGetHandleByIndex(int(entry)) if int(entry) < count else None
    if entry.startswith("GPU-"):
        try:
            return api.nvmlDeviceGetHandleByUUID(entry)
        except api.NVMLError:
            pass
        matches = []
        for i in range(count):
            handle = api.nvmlDeviceGetHandleByIndex(i)
            if str(api.nvmlDeviceGetUUID(handle)).startswith(entry):
                matches.append(handle)
        return matches[0] if len(matches) == 1 else None
    return None


class RaplBackend:
    """CPU package and DRAM energy from Intel RAPL counters in powercap sysfs.

    Args:
        root: the powercap directory (``/sys/class/powercap``); tests pass a fake tree.
        poll_interval_s: how often the sampler thread reads the counters during a trial, s,
            so that a counter that wraps (``max_energy_range_uj``, minutes at full power) is
            never missed twice between reads.
    """

    def __init__(
        self, root: str | Path = DEFAULT_RAPL_ROOT, *, poll_interval_s: float = 1.0
    ) -> None:
        if not poll_interval_s > 0:
            raise ConfigError(f"poll_interval_s must be > 0, got {poll_interval_s!r}")
        self.root = Path(root)
        self.poll_interval_s = float(poll_interval_s)

    def open(self) -> RaplSession | None:
        """Start accumulating; ``None`` where no package counter can be read."""
        return open_rapl(self.root)


Backend = NvmlBackend | RaplBackend


@functools.cache
def _default_backends() -> tuple[Backend, ...]:
    # One shared NvmlBackend per process, so NVML is initialised once, not once per trial.
    return (NvmlBackend(), RaplBackend())


# ------------------------------------------------------------------------------------ meter


class TrialMeter:
    """Context manager measuring one trial; the figures are in :attr:`result` afterwards.

    The trial is measured even when the body raises (a failed trial's cost is real); the
    exception is never swallowed. NVML and RAPL counters cover whole devices and packages,
    so trials running at the same time on the same device are each charged for all of it.

    Args:
        sample_interval_s: period of the power/utilisation samples, s (one more sample is
            taken at the start and at the end).
        backends: the meters to try; ``None`` means NVML (``pynvml``) and RAPL
            (``/sys/class/powercap``). ``[]`` measures time and estimated CPU energy only.
        cpu_power_w_per_core: W per busy core for the CPU estimate where RAPL is unreadable;
            ``None`` means the ``generic`` row of ``catalog/data/cpus.csv``.
        accelerator: catalog name of the accelerator (``"h100-sxm"``) to estimate its energy
            as TDP × utilisation × time where NVML is unavailable; a measurement always wins.
        accelerator_utilization: the fraction of TDP drawn on average for that estimate,
            in (0, 1]. The default 1 is an upper bound: small trials draw far less (the H200
            data in ``shared/data`` ran at about 25 % of TDP).
        n_accelerators: how many such accelerators the trial uses, for the estimate.
        clock: monotonic clock, s; tests pass a fake one.

    Raises:
        ConfigError: an argument breaks its rule (the message says which and the value).
        CatalogKeyError: ``accelerator`` is not in the catalog.
    """

    def __init__(
        self,
        *,
        sample_interval_s: float = 0.02,
        backends: Sequence[Backend] | None = None,
        cpu_power_w_per_core: float | None = None,
        accelerator: str | None = None,
        accelerator_utilization: float = 1.0,
        n_accelerators: int = 1,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if not (math.isfinite(sample_interval_s) and sample_interval_s > 0):
            raise ConfigError(f"sample_interval_s must be > 0, got {sample_interval_s!r}")
        if cpu_power_w_per_core is not None and not (
            math.isfinite(cpu_power_w_per_core) and cpu_power_w_per_core >= 0
        ):
            raise ConfigError(f"cpu_power_w_per_core must be >= 0 W, got {cpu_power_w_per_core!r}")
        if not 0 < accelerator_utilization <= 1:
            raise ConfigError(
                f"accelerator_utilization must be in (0, 1], got {accelerator_utilization!r}"
            )
        if n_accelerators < 1:
            raise ConfigError(f"n_accelerators must be >= 1, got {n_accelerators!r}")
        chosen = _default_backends() if backends is None else tuple(backends)
        self._nvml: NvmlBackend | None = None
        self._rapl_backend: RaplBackend | None = None
        for backend in chosen:
            if isinstance(backend, NvmlBackend) and self._nvml is None:
                self._nvml = backend
            elif isinstance(backend, RaplBackend) and self._rapl_backend is None:
                self._rapl_backend = backend
            else:
                raise ConfigError(
                    "backends must hold at most one NvmlBackend and one RaplBackend, "
                    f"got {[type(b).__name__ for b in chosen]}"
                )
        self._interval_s = float(sample_interval_s)
        self._cpu_w_per_core = cpu_power_w_per_core
        self._accel = catalog.accelerator(accelerator) if accelerator is not None else None
        self._accel_util = float(accelerator_utilization)
        self._n_accel = int(n_accelerators)
        self._clock = clock
        self._active = False
        self._result: Measurement | None = None

    # -- the with block ------------------------------------------------------------------

    def __enter__(self) -> TrialMeter:
        if self._active:
            raise RuntimeError("a TrialMeter measures one trial at a time; it is already active")
        self._result = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._power_sum_w: list[float] = []
        self._util_pct: list[float] = []
        opened = self._nvml.open() if self._nvml is not None else None
        self._api, self._devices = opened if opened is not None else (None, [])
        self._rapl: RaplSession | None = (
            self._rapl_backend.open() if self._rapl_backend is not None else None
        )
        self._cpu_token = _cpu.LEDGER.start()
        try:
            self._t0 = self._clock()
            self._sample(self._t0)
            self._thread: threading.Thread | None = None
            if self._devices or self._rapl is not None:
                self._thread = threading.Thread(
                    target=self._run, name="tunecost-trial-meter", daemon=True
                )
                self._thread.start()
        except BaseException:
            # Never leave a token in the ledger: it would take a share of every later trial.
            _cpu.LEDGER.stop(self._cpu_token)
            raise
        self._active = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        t1 = self._clock()
        cpu_s = _cpu.LEDGER.stop(self._cpu_token)  # first: the trial leaves the ledger whatever
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._active = False
        try:
            self._result = self._finish(t1, cpu_s)
        except Exception as err:
            if exc is None:
                raise
            # The trial's own exception matters more than a failed measurement of it.
            warnings.warn(f"TrialMeter could not measure the failed trial: {err!r}", stacklevel=2)

    @property
    def result(self) -> Measurement:
        """The measurement of the trial, once its ``with`` block has ended."""
        if self._result is None:
            raise RuntimeError(
                "TrialMeter.result is set when the with block ends; read it after the block"
            )
        return self._result

    def snapshot(self) -> tuple[float, float | None]:
        """Progress so far, for a learning-curve point: cheap (one counter read per device).

        Returns:
            (seconds since the trial started, accelerator energy since then in J, or ``None``
            where it is not measured). Devices without an energy counter contribute the
            integral of the samples so far, the last one held to now; an estimate is
            TDP × utilisation × time.
        """
        if not self._active:
            raise RuntimeError("TrialMeter.snapshot() works only inside the with block")
        elapsed_s = self._clock() - self._t0
        if self._devices:
            assert self._api is not None
            total_j = 0.0
            for d in self._devices:
                if d.start_mj is not None:
                    try:
                        now_mj = int(self._api.nvmlDeviceGetTotalEnergyConsumption(d.handle))
                        total_j += (now_mj - d.start_mj) / 1000.0
                        continue
                    except self._api.NVMLError:
                        pass
                with self._lock:
                    total_j += d.running_j
                    if d.samples:
                        # Hold the last sample to now, rather than drop the time since it.
                        t_last_s, p_last_w = d.samples[-1]
                        total_j += p_last_w * max(0.0, self._t0 + elapsed_s - t_last_s)
            return elapsed_s, total_j
        if self._accel is not None:
            return elapsed_s, self._estimate_accel_j(elapsed_s)
        return elapsed_s, None

    # -- internals -----------------------------------------------------------------------

    def _estimate_accel_j(self, duration_s: float) -> float:
        assert self._accel is not None
        return self._accel.tdp_w * self._accel_util * duration_s * self._n_accel

    def _sample(self, t_s: float) -> None:
        """One power/utilisation sample of every device, stamped ``t_s``."""
        if not self._devices:
            return
        api = self._api
        assert api is not None
        powers_w: list[float] = []
        utils: list[float] = []
        for d in self._devices:
            try:
                power_w = api.nvmlDeviceGetPowerUsage(d.handle) / 1000.0
            except api.NVMLError:
                continue
            powers_w.append(power_w)
            with self._lock:
                d.add(t_s, power_w)
            try:
                utils.append(float(api.nvmlDeviceGetUtilizationRates(d.handle).gpu))
            except api.NVMLError:
                pass
        with self._lock:
            # A sum with a device missing would understate the power; leave that sample out.
            if len(powers_w) == len(self._devices):
                self._power_sum_w.append(sum(powers_w))
            self._util_pct.extend(utils)

    def _run(self) -> None:
        rapl_poll_s = self._rapl_backend.poll_interval_s if self._rapl_backend else math.inf
        interval_s = self._interval_s if self._devices else rapl_poll_s
        next_rapl_s = self._t0 + rapl_poll_s
        while not self._stop.wait(interval_s):
            t_s = self._clock()
            self._sample(t_s)
            if self._rapl is not None and t_s >= next_rapl_s:
                try:
                    self._rapl.poll()
                except (OSError, ValueError):
                    pass  # the read at exit decides whether RAPL is usable
                next_rapl_s = t_s + rapl_poll_s

    def _finish(self, t1: float, cpu_s: float) -> Measurement:
        duration_s = max(0.0, t1 - self._t0)
        for d in self._devices:
            # A sample the thread stamped after the end belongs to no trial.
            d.samples = [s for s in d.samples if s[0] <= t1]
        self._sample(t1)

        energy_j: float | None = None
        energy_source: EnergySource = "none"
        names: tuple[str, ...] = ()
        if self._devices:
            energy_j, energy_source = self._nvml_energy_j(t1), "nvml"
            if energy_j is None:
                energy_source = "none"
            names = tuple(d.name for d in self._devices)
        elif self._accel is not None:
            energy_j, energy_source = self._estimate_accel_j(duration_s), "estimated"
            names = (self._accel.name,) * self._n_accel

        cpu_j: float | None = None
        dram_j: float | None = None
        cpu_source: EnergySource = "none"
        if self._rapl is not None:
            try:
                self._rapl.poll()
                cpu_j, dram_j = self._rapl.totals_j()
                cpu_source = "rapl"
            except (OSError, ValueError) as err:
                _log.debug("RAPL read failed at the end of the trial: %s", err)
        if cpu_source == "none":
            w_per_core = self._cpu_w_per_core
            if w_per_core is None:
                w_per_core = catalog.cpu("generic").tdp_w_per_core
            cpu_j, cpu_source = cpu_s * w_per_core, "estimated"

        power = self._power_sum_w
        return Measurement(
            duration_s=duration_s,
            energy_j=energy_j,
            energy_source=energy_source,
            cpu_energy_j=cpu_j,
            dram_energy_j=dram_j,
            cpu_energy_source=cpu_source,
            power_mean_w=sum(power) / len(power) if power else None,
            power_max_w=max(power) if power else None,
            power_min_w=min(power) if power else None,
            util_mean=sum(self._util_pct) / len(self._util_pct) if self._util_pct else None,
            devices=names,
            n_samples=len(power),
            cpu_s=cpu_s,
        )

    def _nvml_energy_j(self, t1: float) -> float | None:
        """Accelerator energy over the trial, summed over devices, J."""
        api = self._api
        assert api is not None
        total_j = 0.0
        for d in self._devices:
            device_j: float | None = None
            if d.start_mj is not None:
                try:
                    end_mj = int(api.nvmlDeviceGetTotalEnergyConsumption(d.handle))
                    if end_mj >= d.start_mj:  # lower: the driver reloaded, counter restarted
                        device_j = (end_mj - d.start_mj) / 1000.0
                except api.NVMLError as err:
                    _log.debug("energy counter read failed on %s: %s", d.uuid, err)
            if device_j is None:
                device_j = _integral_j(d.samples, t1)
            if device_j is None:
                warnings.warn(
                    f"no energy reading and no power sample for {d.name} ({d.uuid}); "
                    "the trial's accelerator energy is unknown",
                    stacklevel=4,
                )
                return None
            total_j += device_j
        return total_j
