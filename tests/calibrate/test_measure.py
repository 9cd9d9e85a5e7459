"""TrialMeter against recorded NVML replays, fake RAPL sysfs trees and the real pynvml."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tunecost import catalog
from tunecost.calibrate import _cpu
from tunecost.calibrate._nvml import CounterlessNvml, NvmlReplay
from tunecost.calibrate._rapl import open_rapl
from tunecost.calibrate.measure import Measurement, NvmlBackend, RaplBackend, TrialMeter
from tunecost.exceptions import CatalogKeyError, ConfigError

FIXTURES = Path(__file__).parent / "fixtures"
H200_REPLAY = FIXTURES / "nvml_replay_h200.json"
# The measured study the replay fixture was built from (fixtures/README.md).
H200_CALIB_RANDOM = FIXTURES / "h200_run1" / "calib_random.jsonl"

# A sampler period no test body reaches: only the start and end samples are taken, so
# replayed sequences are consumed deterministically.
NO_THREAD_SAMPLES = 3600.0

UUID_A = "GPU-aaaa1111-0000-4000-8000-000000000000"
UUID_B = "GPU-bbbb2222-0000-4000-8000-000000000001"


class ScriptClock:
    """A clock returning scripted readings, s; the last one repeats."""

    def __init__(self, *readings: float) -> None:
        self._readings = list(readings)
        self._i = 0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            value = self._readings[min(self._i, len(self._readings) - 1)]
            self._i += 1
            return value


def two_devices(*, counter_b: bool = True, init_error: str | None = None) -> NvmlReplay:
    """Synthetic 2-GPU replay: device 0 uses 10 J and draws 100 W, device 1 20 J and 300 W."""
    return NvmlReplay(
        [
            {
                "name": "NVIDIA H200",
                "uuid": UUID_A,
                "energy_mj": [1_000, 11_000],
                "power_mw": [100_000],
                "util_gpu_pct": [10.0],
            },
            {
                "name": "NVIDIA H100 80GB HBM3",
                "uuid": UUID_B,
                "energy_mj": [5_000, 25_000] if counter_b else None,
                "power_mw": [300_000],
                "util_gpu_pct": [50.0],
            },
        ],
        init_error=init_error,
    )


def nvml_meter(api, **kwargs) -> TrialMeter:
    kwargs.setdefault("sample_interval_s", NO_THREAD_SAMPLES)
    return TrialMeter(backends=[NvmlBackend(api)], **kwargs)


@pytest.fixture
def no_visible_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


@pytest.fixture
def cpu_seconds(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """Script the process CPU time the meter reads at start and end, s."""
    readings = [1.0, 3.5]
    calls = iter(readings + [readings[-1]] * 10)
    ledger = _cpu.CpuLedger(process_s=lambda: next(calls), children_s=lambda: 0.0,
                            thread_s=lambda ident: None)
    monkeypatch.setattr(_cpu, "LEDGER", ledger)
    yield readings


# ------------------------------------------------------------------------- recorded replay


def test_h200_replay_gives_the_recorded_energy_and_curve(no_visible_env: None) -> None:
    fixture = json.loads(H200_REPLAY.read_text())
    expected = fixture["expected"]
    clock = ScriptClock(0.0, *expected["curve_t_s"], expected["duration_s"])
    with nvml_meter(NvmlReplay.from_json(H200_REPLAY), clock=clock) as meter:
        points = [meter.snapshot() for _ in expected["curve_t_s"]]
    m = meter.result

    assert [t for t, _ in points] == expected["curve_t_s"]
    assert [e for _, e in points] == pytest.approx(expected["curve_energy_j"], abs=1e-9)
    assert m.energy_j == pytest.approx(expected["energy_j"], abs=1e-9)
    assert m.duration_s == expected["duration_s"]
    assert m.energy_source == "nvml"
    assert m.devices == ("NVIDIA H200",)
    power_w = [p / 1000 for p in fixture["devices"][0]["power_mw"]]
    assert m.n_samples == 2
    assert min(power_w) <= m.power_min_w <= m.power_mean_w <= m.power_max_w <= max(power_w)
    assert m.util_mean == pytest.approx(fixture["devices"][0]["util_gpu_pct"][0])


def test_h200_replay_matches_the_measured_trial() -> None:
    fixture = json.loads(H200_REPLAY.read_text())
    with H200_CALIB_RANDOM.open() as fh:
        trial = json.loads(fh.readline())
    readings = fixture["devices"][0]["energy_mj"]
    steps_j = [(r - readings[0]) / 1000 for r in readings[1:]]
    assert steps_j[:-1] == pytest.approx([p["energy_j"] for p in trial["curve"]], abs=5e-4)
    assert steps_j[-1] == pytest.approx(trial["energy_j"], abs=5e-4)
    assert fixture["expected"]["duration_s"] == trial["duration_s"]


# ------------------------------------------------------------------ CUDA_VISIBLE_DEVICES


@pytest.mark.parametrize(
    ("visible", "energy_j", "devices"),
    [
        (None, 30.0, ("NVIDIA H200", "NVIDIA H100 80GB HBM3")),
        ("1", 20.0, ("NVIDIA H100 80GB HBM3",)),
        ("1,0", 30.0, ("NVIDIA H100 80GB HBM3", "NVIDIA H200")),
        ("0,0", 10.0, ("NVIDIA H200",)),
        (UUID_B, 20.0, ("NVIDIA H100 80GB HBM3",)),
        (f"{UUID_B},{UUID_A}", 30.0, ("NVIDIA H100 80GB HBM3", "NVIDIA H200")),
        ("GPU-bbbb", 20.0, ("NVIDIA H100 80GB HBM3",)),  # unique prefix, as CUDA allows
    ],
)
def test_visible_devices_select_what_is_metered(
    monkeypatch: pytest.MonkeyPatch, visible: str | None, energy_j: float, devices: tuple
) -> None:
    if visible is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    with nvml_meter(two_devices()) as meter:
        pass
    m = meter.result
    assert m.energy_j == pytest.approx(energy_j)
    assert m.devices == devices
    assert m.energy_source == "nvml"


def test_empty_visible_devices_means_no_accelerator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    replay = two_devices()
    with nvml_meter(replay) as meter:
        assert meter.snapshot()[1] is None
    m = meter.result
    assert (m.energy_j, m.energy_source, m.devices, m.n_samples) == (None, "none", (), 0)
    assert m.power_mean_w is None and m.util_mean is None
    assert "nvmlDeviceGetTotalEnergyConsumption" not in replay.calls


def test_invalid_visible_entry_ends_the_list_like_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,7,1")
    with pytest.warns(UserWarning, match=r"'7' is not a device index"):
        with nvml_meter(two_devices()) as meter:
            pass
    assert meter.result.devices == ("NVIDIA H200",)
    assert meter.result.energy_j == pytest.approx(10.0)


def test_mig_entries_are_not_metered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "MIG-0a1b2c3d-0000-4000-8000-000000000000")
    with pytest.warns(UserWarning, match="MIG instance"):
        with nvml_meter(two_devices()) as meter:
            pass
    assert meter.result.energy_source == "none"


# ------------------------------------------------------------- devices without the counter


def test_counterless_device_integrates_its_power_samples(no_visible_env: None) -> None:
    # Device 1 reports NotSupported for the counter: 300 W held for 2 s = 600 J.
    clock = ScriptClock(0.0, 1.0, 2.0)
    with nvml_meter(two_devices(counter_b=False), clock=clock) as meter:
        _, energy_half_j = meter.snapshot()
    m = meter.result
    assert m.energy_source == "nvml"
    assert m.energy_j == pytest.approx(10.0 + 600.0)
    # Device 0's counter has moved by its second (last) reading; device 1's 300 W held 1 s.
    assert energy_half_j == pytest.approx(10.0 + 300.0)
    assert m.power_mean_w == pytest.approx(400.0)
    assert m.util_mean == pytest.approx(30.0)


def test_hidden_counter_falls_back_to_the_integral(no_visible_env: None) -> None:
    clock = ScriptClock(0.0, 4.0)
    with nvml_meter(CounterlessNvml(two_devices()), clock=clock) as meter:
        pass
    assert meter.result.energy_j == pytest.approx(4.0 * (100.0 + 300.0))
    assert meter.result.energy_source == "nvml"


def test_sampler_thread_collects_power(no_visible_env: None) -> None:
    replay = two_devices()
    with nvml_meter(replay, sample_interval_s=0.001) as meter:
        deadline = time.monotonic() + 5.0
        while replay.calls.get("nvmlDeviceGetPowerUsage", 0) < 12 and time.monotonic() < deadline:
            time.sleep(0.001)
    m = meter.result
    assert m.n_samples >= 6
    assert m.power_mean_w == m.power_max_w == m.power_min_w == pytest.approx(400.0)


# ----------------------------------------------------------------------- failing trials


def test_a_failing_trial_is_still_measured(no_visible_env: None) -> None:
    meter = nvml_meter(two_devices(), clock=ScriptClock(0.0, 1.5))
    with pytest.raises(ZeroDivisionError):
        with meter:
            1 / 0  # noqa: B018
    m = meter.result
    assert m.duration_s == 1.5
    assert m.energy_j == pytest.approx(30.0)


def test_result_and_snapshot_outside_the_block_say_so() -> None:
    meter = TrialMeter(backends=[])
    with pytest.raises(RuntimeError, match="after the block"):
        _ = meter.result
    with pytest.raises(RuntimeError, match="inside the with block"):
        meter.snapshot()


def test_a_meter_measures_one_trial_after_another(no_visible_env: None) -> None:
    meter = nvml_meter(NvmlReplay.from_json(H200_REPLAY))
    with meter:
        pass
    first = meter.result
    with meter:
        with pytest.raises(RuntimeError, match="already active"):
            meter.__enter__()
    # Each trial reads the counter at its start and at its end (no thread samples): the
    # second trial's energy is from its own start reading, not the first trial's.
    readings_j = [r / 1000 for r in json.loads(H200_REPLAY.read_text())["devices"][0]["energy_mj"]]
    assert first.energy_j == pytest.approx(readings_j[1] - readings_j[0])
    assert meter.result.energy_j == pytest.approx(readings_j[3] - readings_j[2])


# ------------------------------------------------------------------- NVML unavailable


def test_failed_nvml_init_gives_no_accelerator_energy(cpu_seconds: list[float]) -> None:
    with nvml_meter(two_devices(init_error="Driver Not Loaded")) as meter:
        pass
    m = meter.result
    assert (m.energy_j, m.energy_source, m.devices) == (None, "none", ())


def test_accelerator_estimate_where_nvml_is_unavailable() -> None:
    backend = NvmlBackend(two_devices(init_error="Driver Not Loaded"))
    meter = TrialMeter(
        backends=[backend],
        accelerator="h100-sxm",
        accelerator_utilization=0.25,
        n_accelerators=2,
        clock=ScriptClock(0.0, 1.0, 4.0),
    )
    with meter:
        _, energy_1s_j = meter.snapshot()
    m = meter.result
    assert energy_1s_j == pytest.approx(700.0 * 0.25 * 1.0 * 2)
    assert m.energy_j == pytest.approx(700.0 * 0.25 * 4.0 * 2)
    assert m.energy_source == "estimated" and m.estimated
    assert m.devices == ("h100-sxm", "h100-sxm")
    assert "nvmlInit failed" in backend.reason


def test_a_measurement_beats_the_estimate(no_visible_env: None) -> None:
    with nvml_meter(two_devices(), accelerator="h100-sxm") as meter:
        pass
    assert meter.result.energy_source == "nvml"
    assert meter.result.energy_j == pytest.approx(30.0)


def _real_nvml_works() -> bool:
    try:
        import pynvml
    except ImportError:
        return False
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return False
    return True


@pytest.mark.skipif(_real_nvml_works(), reason="NVML works here; see the real-GPU test")
def test_real_pynvml_without_a_driver_reports_none() -> None:
    with TrialMeter() as meter:
        meter.snapshot()
    m = meter.result
    assert (m.energy_j, m.energy_source, m.devices, m.n_samples) == (None, "none", (), 0)
    assert m.cpu_energy_source in ("rapl", "estimated")
    if m.cpu_energy_source == "estimated":
        assert m.cpu_energy_j == pytest.approx(m.cpu_s * catalog.cpu("generic").tdp_w_per_core)
    else:  # a RAPL reading over a near-empty block: any small count, never negative
        assert m.cpu_energy_j is not None and m.cpu_energy_j >= 0

    with TrialMeter(accelerator="h100-sxm", accelerator_utilization=0.5) as meter:
        pass
    m = meter.result
    assert m.energy_source == "estimated"
    assert m.energy_j == pytest.approx(700.0 * 0.5 * m.duration_s)


@pytest.mark.skipif(not _real_nvml_works(), reason="needs a GPU with a working NVML driver")
def test_real_nvml_measures_the_visible_gpus() -> None:
    with TrialMeter(backends=[NvmlBackend()]) as meter:
        time.sleep(0.1)
        _, energy_so_far_j = meter.snapshot()
    m = meter.result
    assert m.energy_source == "nvml" and m.devices
    # The counter only goes up, and the snapshot came before the end.
    assert m.energy_j is not None and energy_so_far_j is not None
    assert 0 <= energy_so_far_j <= m.energy_j
    # J, not mJ: no accelerator draws 1.5 kW (counter steps of ~0.1 s leave a wide margin).
    assert m.energy_j <= 1500.0 * len(m.devices) * max(m.duration_s, 0.2)
    assert m.n_samples >= 2 and m.power_mean_w is not None and m.power_mean_w > 0


# ------------------------------------------------------------------------------- RAPL


def make_zone(path: Path, name: str, energy_uj: int, max_uj: int = 262_143_328_850) -> Path:
    path.mkdir(parents=True)
    (path / "name").write_text(name + "\n")
    (path / "energy_uj").write_text(f"{energy_uj}\n")
    (path / "max_energy_range_uj").write_text(f"{max_uj}\n")
    return path


def set_energy(zone: Path, energy_uj: int) -> None:
    (zone / "energy_uj").write_text(f"{energy_uj}\n")


def test_rapl_packages_and_dram_with_a_wrap_around(tmp_path: Path) -> None:
    max_uj = 1_000_000_000
    pkg0 = make_zone(tmp_path / "intel-rapl:0", "package-0", max_uj - 1_000, max_uj)
    dram0 = make_zone(pkg0 / "intel-rapl:0:0", "dram", 100, max_uj)
    core0 = make_zone(pkg0 / "intel-rapl:0:1", "core", 0, max_uj)
    pkg1 = make_zone(tmp_path / "intel-rapl:1", "package-1", 10_000, max_uj)
    psys = make_zone(tmp_path / "intel-rapl:2", "psys", 0, max_uj)

    with TrialMeter(backends=[RaplBackend(tmp_path)]) as meter:
        set_energy(pkg0, 500)  # wrapped: 1_000 uJ to the top, then 500
        set_energy(dram0, 300_100)
        set_energy(core0, 999_999)  # inside the package figure already: ignored
        set_energy(pkg1, 2_010_000)
        set_energy(psys, 999_999)  # platform zone overlaps the packages: ignored
    m = meter.result
    assert m.cpu_energy_source == "rapl"
    assert m.cpu_energy_j == pytest.approx((1_500 + 2_000_000) / 1e6)
    assert m.dram_energy_j == pytest.approx(300_000 / 1e6)


def test_rapl_polls_catch_more_than_one_wrap(tmp_path: Path) -> None:
    pkg = make_zone(tmp_path / "intel-rapl:0", "package-0", 900, 1_000)
    session = open_rapl(tmp_path)
    assert session is not None and not session.has_dram
    for energy_uj in (100, 50, 60):  # +200 (wrap), +950 (wrap), +10
        set_energy(pkg, energy_uj)
        session.poll()
    assert session.totals_j() == (pytest.approx(1_160 / 1e6), None)


def test_unreadable_rapl_falls_back_to_the_cpu_time_estimate(
    tmp_path: Path, cpu_seconds: list[float]
) -> None:
    pkg = make_zone(tmp_path / "intel-rapl:0", "package-0", 0)
    (pkg / "energy_uj").unlink()
    (pkg / "energy_uj").mkdir()  # unreadable as a file, even for root
    with TrialMeter(backends=[RaplBackend(tmp_path)], cpu_power_w_per_core=4.0) as meter:
        pass
    m = meter.result
    assert m.cpu_energy_source == "estimated" and m.estimated
    assert m.cpu_energy_j == pytest.approx((cpu_seconds[1] - cpu_seconds[0]) * 4.0)
    assert m.dram_energy_j is None


def test_cpu_estimate_uses_the_catalog_generic_figure(
    tmp_path: Path, cpu_seconds: list[float]
) -> None:
    # No powercap tree at all, as on this VM.
    with TrialMeter(backends=[RaplBackend(tmp_path / "absent")]) as meter:
        pass
    m = meter.result
    assert m.cpu_energy_j == pytest.approx(2.5 * 12.0)
    assert (m.cpu_energy_source, m.dram_energy_j) == ("estimated", None)
    assert (m.energy_j, m.energy_source) == (None, "none")


def test_cpu_catalog_rows_are_sourced() -> None:
    generic = catalog.cpu("Generic")
    assert generic.tdp_w_per_core == 12.0
    assert "green-algorithms-tool/blob/" in generic.source
    assert all(row.tdp_w_per_core > 0 for row in catalog.cpus())
    with pytest.raises(CatalogKeyError, match="xeon-gold-6248"):
        catalog.cpu("xeon gold 6428")


# ------------------------------------------------------------------- output and inputs


def test_to_dict_is_json_with_the_field_names(no_visible_env: None) -> None:
    with nvml_meter(two_devices()) as meter:
        pass
    d = meter.result.to_dict()
    assert list(d) == [f for f in Measurement.__dataclass_fields__]
    assert json.loads(json.dumps(d)) == d
    assert d["devices"] == ["NVIDIA H200", "NVIDIA H100 80GB HBM3"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sample_interval_s": 0.0}, "sample_interval_s must be > 0"),
        ({"sample_interval_s": math.nan}, "sample_interval_s must be > 0"),
        ({"cpu_power_w_per_core": -1.0}, "cpu_power_w_per_core must be >= 0"),
        ({"accelerator_utilization": 1.5}, r"accelerator_utilization must be in \(0, 1\]"),
        ({"n_accelerators": 0}, "n_accelerators must be >= 1"),
        ({"backends": [NvmlBackend(), NvmlBackend()]}, "at most one NvmlBackend"),
    ],
)
def test_bad_arguments_state_the_rule_and_value(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        TrialMeter(**kwargs)


def test_unknown_accelerator_is_a_catalog_error() -> None:
    with pytest.raises(CatalogKeyError):
        TrialMeter(accelerator="h9000")
