"""The carbon-aware start: closed-form cases against hand integrals, the rules its inputs obey,
and ``simulate`` / ``tunecost simulate --start-window`` reporting it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from tunecost.carbon import IntensitySeries
from tunecost.cli import app
from tunecost.config import CampaignConfig, ScenarioSet
from tunecost.exceptions import ConfigError
from tunecost.simulate import simulate, simulate_scenarios
from tunecost.simulate import start_time as st
from tunecost.simulate.start_time import PowerProfile, best_start, start_offsets_h

runner = CliRunner()

DIP = IntensitySeries(np.array([400.0, 100.0, 400.0, 400.0]))
"""g/kWh, hourly: one clean hour at hour 1, a 4-hour period (1,300 g·h/kWh)."""


def _block(duration_h: float, power_kw: float = 1.0, pue: float = 1.0) -> PowerProfile:
    return PowerProfile.block(duration_h=duration_h, power_kw=power_kw, pue=pue)


def test_one_hour_block_starts_in_the_clean_hour() -> None:
    c = best_start(_block(1.0), DIP, window_h=3.0)
    assert c.offset_h == 1.0
    assert c.co2e_kg == pytest.approx(0.1) and c.co2e_kg_now == pytest.approx(0.4)
    assert c.saving_kg == pytest.approx(0.3) and c.saving_pct == pytest.approx(75.0)
    assert c.offsets_h.tolist() == [0.0, 1.0, 2.0, 3.0]
    np.testing.assert_allclose(c.co2e_kg_by_offset, [0.4, 0.1, 0.4, 0.4])


def test_a_block_longer_than_the_period_wraps_around_it() -> None:
    # 5 h = one period (1,300 g·h/kWh) + the hour the start falls in.
    c = best_start(_block(5.0), DIP, window_h=3.0)
    np.testing.assert_allclose(c.co2e_kg_by_offset, [1.7, 1.4, 1.7, 1.7])
    assert c.offset_h == 1.0 and c.saving_kg == pytest.approx(0.3)
    # 6 h: + two hours; starting at 0 or at 1 both catch the clean hour: the earliest wins.
    c = best_start(_block(6.0), DIP, window_h=3.0)
    np.testing.assert_allclose(c.co2e_kg_by_offset, [1.8, 1.8, 2.1, 2.1])
    assert c.offset_h == 0.0 and c.saving_kg == 0.0 and c.saving_pct == 0.0


def test_fractional_offsets_against_hand_integrals() -> None:
    # 1.5 h at 2 kW IT, PUE 1.5: kg = 2 × 1.5 × ∫ / 1000. Hand integrals over [t, t + 1.5]:
    # t=0: 400 + 0.5·100 = 450; 0.5: 0.5·400 + 100 = 300; 1: 100 + 0.5·400 = 300;
    # 1.5: 0.5·100 + 400 = 450; 2: 400 + 0.5·400 = 600.
    c = best_start(_block(1.5, power_kw=2.0, pue=1.5), DIP, window_h=2.0, step_h=0.5)
    assert c.offsets_h.tolist() == [0.0, 0.5, 1.0, 1.5, 2.0]
    np.testing.assert_allclose(c.co2e_kg_by_offset,
                               3.0 * np.array([450, 300, 300, 450, 600]) / 1000)
    assert c.offset_h == 0.5  # a tie with 1.0: the earliest
    assert c.saving_pct == pytest.approx(100 * (450 - 300) / 450)


def test_a_constant_series_keeps_offset_zero() -> None:
    flat = IntensitySeries(np.full(24, 300.0))
    c = best_start(_block(7.3, power_kw=3.0), flat, window_h=48.0, step_h=0.25)
    assert c.offset_h == 0.0 and c.saving_kg == 0.0 and c.saving_pct == 0.0
    assert c.co2e_kg_now == pytest.approx(3.0 * 7.3 * 300 / 1000)


def test_overlapping_intervals_add_their_power() -> None:
    profile = PowerProfile(np.array([0.0, 0.0, 2.5]), np.array([1.0, 2.0, 3.25]),
                           np.array([1.0, 0.5, 4.0]), pue=1.2)
    c = best_start(profile, DIP, window_h=5.0, step_h=0.25)
    for t, kg in zip(c.offsets_h, c.co2e_kg_by_offset, strict=True):
        hand = sum(p * DIP.integral(t + a, t + b) for a, b, p in
                   zip(profile.start_h, profile.end_h, profile.power_kw, strict=True))
        assert kg == pytest.approx(1.2 * hand / 1000, rel=1e-12)
    assert c.co2e_kg == pytest.approx(c.co2e_kg_by_offset.min())


def test_chunks_of_candidates_give_the_same_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    starts = np.arange(50) * 0.37
    profile = PowerProfile(starts, starts + 1.1, np.linspace(0.1, 2.0, 50))
    whole = best_start(profile, DIP, window_h=30.0, step_h=0.1)
    monkeypatch.setattr(st, "_CHUNK_ELEMENTS", 7)
    chunked = best_start(profile, DIP, window_h=30.0, step_h=0.1)
    assert np.array_equal(whole.co2e_kg_by_offset, chunked.co2e_kg_by_offset)


def test_a_profile_that_draws_nothing_saves_nothing() -> None:
    for profile in (_block(0.0), _block(3.0, power_kw=0.0),
                    PowerProfile(np.zeros(0), np.zeros(0), np.zeros(0))):
        c = best_start(profile, DIP, window_h=3.0)
        assert c.offset_h == 0.0 and c.co2e_kg_now == 0.0 and c.saving_pct == 0.0


def test_offsets_include_a_window_end_within_rounding() -> None:
    offsets = start_offsets_h(window_h=0.3, step_h=0.1)
    assert offsets.size == 4 and offsets[-1] == 0.3
    assert start_offsets_h(window_h=0.0).tolist() == [0.0]
    assert start_offsets_h(window_h=2.9, step_h=1.0).tolist() == [0.0, 1.0, 2.0]


@pytest.mark.parametrize(
    ("window_h", "step_h", "needle"),
    [
        (-1.0, 1.0, "`0 <= window_h <= 1,000,000`"),
        (float("nan"), 1.0, "window_h=nan"),
        (float("inf"), 1.0, "window_h=inf"),
        (2e6, 1.0, "window_h=2000000.0"),
        (3.0, 0.0, "`0 < step_h < inf`"),
        (3.0, -0.5, "step_h=-0.5"),
        (3.0, float("nan"), "step_h=nan"),
        (3.0, float("inf"), "step_h=inf"),
        (1e6, 1e-3, "more than 100,000 candidate starts"),
        (1.0, 1e-300, "more than 100,000 candidate starts"),
    ],
)
def test_bad_window_one_line(window_h: float, step_h: float, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        best_start(_block(1.0), DIP, window_h=window_h, step_h=step_h)
    assert needle in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (([0.0], [1.0], [-1.0]), "power_kw=-1.0"),
        (([0.0], [1.0], [float("nan")]), "power_kw=nan"),
        (([0.0], [float("inf")], [1.0]), "end_h=inf"),
        (([-1.0], [1.0], [1.0]), "start_h=-1.0"),
        (([2.0], [1.0], [1.0]), "interval 0 runs from 2.0 to 1.0 h"),
        (([0.0, 1.0], [1.0], [1.0]), "of one length"),
        (([[0.0]], [[1.0]], [[1.0]]), "1-D"),
    ],
)
def test_bad_profile_one_line(args: tuple[list[Any], ...], needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        PowerProfile(*(np.array(a) for a in args))
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_bad_pue_one_line() -> None:
    with pytest.raises(ConfigError, match="pue=0.5"):
        _block(1.0, pue=0.5)


# --- simulate and the CLI -------------------------------------------------------------------


def _config(tmp_path: Path, carbon: dict[str, Any] | None = None, **overrides: Any) -> dict:
    (tmp_path / "grid.csv").write_text("g_co2e_per_kwh\n400\n100\n400\n400\n")
    cfg = {
        "name": "one-job",
        "workers": 1,
        "pue": 1.5,
        "carbon": carbon or {"series_csv": "grid.csv"},  # relative to the config file
        "studies": [{
            "name": "s",
            "strategy": {"kind": "grid", "n_configs": 1},
            "duration": {"dist": "fixed", "duration_h": 1.0},
            "hardware": {"accelerator": "v100-sxm2"},
            "power": {"kind": "constant", "accelerator_w": 1000.0},
        }],
        "replicates": 5,
        "seed": 1,
    }
    cfg.update(overrides)
    return cfg


def _validated(tmp_path: Path, **kwargs: Any) -> CampaignConfig:
    return CampaignConfig.model_validate(_config(tmp_path, **kwargs),
                                         context={"base_dir": tmp_path})


@pytest.mark.parametrize("engine", ["vectorized", "replay"])
def test_simulate_reports_the_start(tmp_path: Path, engine: str) -> None:
    """One 1-hour job at 1 kW IT × PUE 1.5: the P50 block is its schedule, so the CO2e at
    offset 0 is the simulated CO2e, and the best start is the clean hour."""
    result = simulate(_validated(tmp_path), start_window_h=3.0, engine=engine)
    c = result.start_time
    assert c is not None and c.offset_h == 1.0
    assert c.co2e_kg_now == pytest.approx(float(result.metrics["co2e_kg"][0]))
    assert c.co2e_kg_now == pytest.approx(0.6) and c.co2e_kg == pytest.approx(0.15)
    assert c.profile.energy_kwh == pytest.approx(float(result.metrics["energy_kwh"][0]))
    summary = result.summary()["start_time"]
    assert summary["best_offset_h"] == 1.0 and summary["offsets_h"] == [0.0, 1.0, 2.0, 3.0]
    assert "start_time" not in simulate(_validated(tmp_path)).summary()


def test_a_streamed_result_has_a_profile(tmp_path: Path) -> None:
    result = simulate(_validated(tmp_path), keep_replicates=False)
    assert result.stats is not None
    assert result.power_profile().duration_h == pytest.approx(1.0, rel=1e-3)


def test_a_constant_intensity_is_refused_before_the_run(tmp_path: Path) -> None:
    calls: list[int] = []
    with pytest.raises(ConfigError, match="--start-window.*needs an hourly carbon series"):
        simulate(_validated(tmp_path, carbon={"g_co2e_per_kwh": 400}), start_window_h=3.0,
                 progress=lambda done, total: calls.append(done))
    assert calls == []
    good = _config(tmp_path)
    pair = ScenarioSet.model_validate(
        {"name": "pair", "scenarios": [good, {**good, "name": "flat",
                                              "carbon": {"g_co2e_per_kwh": 400}}]},
        context={"base_dir": tmp_path})
    with pytest.raises(ConfigError, match="campaign 'flat'"):  # before the first one runs
        simulate_scenarios(pair, start_window_h=3.0,
                           progress=lambda name, done, total: calls.append(done))
    assert calls == []


def test_cli_start_window(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(_config(tmp_path)))
    out = runner.invoke(app, ["simulate", str(cfg), "--start-window", "3"])
    assert out.exit_code == 0, out.output
    assert "carbon-aware start" in out.stdout
    assert "best (+1 h)" in out.stdout and "0.450 (75.0 %)" in out.stdout
    out = runner.invoke(app, ["simulate", str(cfg), "--start-window", "2",
                                 "--start-step", "0.5", "--json"])
    assert out.exit_code == 0, out.output
    start = json.loads(out.stdout)["start_time"]
    assert start["offsets_h"] == [0.0, 0.5, 1.0, 1.5, 2.0] and start["best_offset_h"] == 1.0
    np.testing.assert_allclose(start["co2e_kg_by_offset"],
                               1.5 * np.array([400, 250, 100, 250, 400]) / 1000)


@pytest.mark.parametrize(
    ("carbon", "flags", "needle"),
    [
        ({"g_co2e_per_kwh": 400}, ["--start-window", "3"], "--start-window) needs an hourly"),
        (None, ["--start-step", "2"], "--start-step needs --start-window"),
        (None, ["--start-window", "-1"], "window_h=-1.0"),
        (None, ["--start-window", "3", "--start-step", "0"], "step_h=0.0"),
    ],
)
def test_cli_start_window_errors(tmp_path: Path, carbon: dict | None, flags: list[str],
                                 needle: str) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(_config(tmp_path, carbon=carbon)))
    out = runner.invoke(app, ["simulate", str(cfg), *flags])
    assert out.exit_code == 2
    assert needle in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.output
