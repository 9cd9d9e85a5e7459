"""Check TrialMeter's NVML path on a real GPU: energy counter against integrated power samples.

Run once on a GPU machine (``pip install 'tunecost[nvml]'``; torch optional)::

    python benchmarks/nvml_check.py [--seconds 3] [--interval 0.02]

Measures an idle window and, where torch sees a CUDA device, a window of back-to-back bf16
matmuls. Each window is metered twice at once: by the energy counter
(``nvmlDeviceGetTotalEnergyConsumption``) and by a meter with the counter hidden, which
integrates the ``nvmlDeviceGetPowerUsage`` samples instead (the pre-Volta fallback). Prints one
JSON object; ``counter_over_integral`` near 1 means the two paths agree. On recent GPUs the
power reading is itself averaged over about a second, so short or bursty windows differ more.

Where NVML is absent (no driver, no pynvml) it prints one line and exits with status 0.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

from tunecost.calibrate._nvml import CounterlessNvml, load_pynvml
from tunecost.calibrate.measure import NvmlBackend, TrialMeter


def _idle(seconds: float) -> None:
    time.sleep(seconds)


def _busy_matmul() -> Callable[[float], None] | None:
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)

    def run(seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            for _ in range(8):
                a @ b
            torch.cuda.synchronize()  # so the window holds the work it launched

    return run


def _window(
    name: str,
    work: Callable[[float], None],
    seconds: float,
    interval_s: float,
    counter: NvmlBackend,
    integral: NvmlBackend,
) -> dict[str, object]:
    with TrialMeter(backends=[counter], sample_interval_s=interval_s) as by_counter:
        with TrialMeter(backends=[integral], sample_interval_s=interval_s) as by_samples:
            work(seconds)
    c, s = by_counter.result, by_samples.result
    ratio = c.energy_j / s.energy_j if c.energy_j and s.energy_j else None
    return {
        "window": name,
        "duration_s": round(c.duration_s, 4),
        "counter_energy_j": c.energy_j,
        "integral_energy_j": s.energy_j,
        "counter_over_integral": ratio,
        "power_mean_w": s.power_mean_w,
        "power_max_w": s.power_max_w,
        "power_min_w": s.power_min_w,
        "util_mean": s.util_mean,
        "n_samples": s.n_samples,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each window, s")
    parser.add_argument("--interval", type=float, default=0.02, help="power sample period, s")
    args = parser.parse_args()

    api = load_pynvml()
    if api is None:
        print(
            "nvml_check: pynvml is not installed (pip install 'tunecost[nvml]'); nothing to check"
        )
        return 0
    counter = NvmlBackend(api)
    if counter.open() is None:
        print(
            f"nvml_check: NVML unavailable here ({counter.reason or 'no visible GPU'}); "
            "nothing to check"
        )
        return 0
    integral = NvmlBackend(CounterlessNvml(api))

    windows = [_window("idle", _idle, args.seconds, args.interval, counter, integral)]
    busy = _busy_matmul()
    if busy is not None:
        busy(0.5)  # warm-up: kernels chosen, clocks up
        windows.append(_window("matmul", busy, args.seconds, args.interval, counter, integral))
    with TrialMeter(backends=[counter], sample_interval_s=3600) as probe:
        pass
    report = {
        "devices": list(probe.result.devices),
        "driver": str(api.nvmlSystemGetDriverVersion())
        if hasattr(api, "nvmlSystemGetDriverVersion")
        else None,
        "torch_busy_window": busy is not None,
        "windows": windows,
    }
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
