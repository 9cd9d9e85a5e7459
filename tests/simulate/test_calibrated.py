"""Simulating with a calibration: per-trial cost from models fitted on a real study."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tunecost.calibrate import fit_calibration, read_records
from tunecost.cli import app
from tunecost.config import CampaignConfig, load_config, with_calibration
from tunecost.exceptions import ConfigError
from tunecost.simulate import simulate

STUDY = Path(__file__).resolve().parents[2] / "studies" / "h200_transformer_lm"
runner = CliRunner()


@pytest.mark.parametrize(
    ("config", "measured_s", "measured_j"),
    [("check_small.yaml", 154.07, 26_951.6), ("check_large.yaml", 153.05, 79_246.2)],
)
def test_measured_study_total_lies_in_the_predicted_band(
    config: str, measured_s: float, measured_j: float
) -> None:
    """The whole study's measured wall time and NVML energy (data/studies_run*.jsonl) fall
    inside the P5–P95 band predicted from the study's own calibration."""
    r = simulate(load_config(STUDY / config), replicates=2000, seed=1).summary()["metrics"]
    wall_s = {q: r["wall_clock_h"][q] * 3600 for q in ("p5", "p95")}
    energy_j = {q: r["energy_kwh"][q] * 3.6e6 for q in ("p5", "p95")}
    # The measured wall time includes the gaps between trials, which the model does not.
    assert wall_s["p5"] <= measured_s <= wall_s["p95"] * 1.05
    assert energy_j["p5"] <= measured_j <= energy_j["p95"]


def _campaign(**study: object) -> dict:
    return {
        "name": "c", "workers": 2, "pue": 1.2, "carbon": {"g_co2e_per_kwh": 300},
        "studies": [{"name": "s", "strategy": {"kind": "random", "n_trials": 40},
                     "hardware": {"accelerator": "h200"}, **study}],
    }


@pytest.fixture(scope="module")
def calib_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cal") / "calib.json"
    fit_calibration(read_records(STUDY / "data" / "calib_random.jsonl"),
                    accelerator="h200").save(path)
    return path


def test_search_space_override_drives_cost(calib_path: Path) -> None:
    short = _campaign(calibration={"path": str(calib_path), "search_space": {
        "steps": {"type": "int", "low": 100, "high": 100}}})
    long = _campaign(calibration={"path": str(calib_path), "search_space": {
        "steps": {"type": "int", "low": 400, "high": 400}}})
    e_short = simulate(CampaignConfig.model_validate(short), replicates=400, seed=0)
    e_long = simulate(CampaignConfig.model_validate(long), replicates=400, seed=0)
    ratio = np.median(e_long.metrics["gpu_hours"]) / np.median(e_short.metrics["gpu_hours"])
    assert 1.5 < ratio < 4.0  # 4× the steps, plus a fixed per-trial overhead


def test_power_stays_between_idle_and_tdp(calib_path: Path) -> None:
    cfg = CampaignConfig.model_validate(_campaign(calibration={"path": str(calib_path)}))
    r = simulate(cfg, replicates=300, seed=0)
    power_w = r.metrics["energy_kwh"] / 1.2 / r.metrics["gpu_hours"] * 1000
    assert (power_w > 121.5).all() and (power_w < 700).all()


def test_cli_calibration_replaces_duration_and_power(calib_path: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(json.dumps(_campaign(
        duration={"dist": "fixed", "duration_h": 100}, power={"kind": "constant",
                                                                "accelerator_w": 700})))
    plain = runner.invoke(app, ["simulate", str(cfg), "--replicates", "50", "--json"])
    cal = runner.invoke(app, ["simulate", str(cfg), "--replicates", "50", "--json",
                              "--calibration", str(calib_path)])
    assert plain.exit_code == 0 and cal.exit_code == 0, cal.output
    plain_h = json.loads(plain.output)["metrics"]["gpu_hours"]["p50"]
    cal_h = json.loads(cal.output)["metrics"]["gpu_hours"]["p50"]
    assert plain_h == pytest.approx(4000)
    assert cal_h < 1  # 40 trials of a few seconds each
    assert "calibration (s)" in json.loads(cal.output)["assumptions"]["sources"]


def test_missing_calibration_and_bad_space_are_clear(calib_path: Path) -> None:
    cfg = CampaignConfig.model_validate(_campaign(calibration={}))
    with pytest.raises(ConfigError, match="pass --calibration FILE"):
        simulate(cfg, replicates=2)
    bad = CampaignConfig.model_validate(_campaign(calibration={
        "path": str(calib_path), "search_space": {"width": {"type": "int", "low": 1, "high": 2}}}))
    with pytest.raises(ConfigError, match="'width'.*known: batch_size"):
        simulate(bad, replicates=2)
    applied = with_calibration(cfg, calib_path)
    assert applied.studies[0].calibration.path == calib_path


def test_study_needs_models_or_calibration() -> None:
    with pytest.raises(ValueError, match="needs duration and power"):
        CampaignConfig.model_validate(_campaign())


def _duration_only(tmp_path: Path) -> Path:
    recs = [r.model_copy(update={"energy_j": None, "energy_source": "none"})
            for r in read_records(STUDY / "data" / "calib_random.jsonl")]
    path = tmp_path / "duration_only.json"
    fit_calibration(recs).save(path)
    return path


def test_duration_only_calibration_simulates_with_catalog_power(tmp_path: Path) -> None:
    """No measured energy: the file loads, and energy is the catalog's TDP, flagged."""
    path = _duration_only(tmp_path)
    cfg = CampaignConfig.model_validate(_campaign(calibration={"path": str(path)}))
    r = simulate(cfg, replicates=200, seed=0)
    gpu_h, kwh = r.metrics["gpu_hours"], r.metrics["energy_kwh"]
    assert np.all(np.isfinite(kwh)) and np.all(kwh > 0)
    # Busy power is the H200's TDP (700 W) × PUE 1.2, the idle gaps aside.
    np.testing.assert_allclose(kwh / gpu_h, 0.7 * 1.2, rtol=0.05)
    source = r.summary()["assumptions"]["sources"]["calibration (s)"]
    assert "ESTIMATED" in source and "not measured" in source


def test_duration_only_calibration_through_the_cli(tmp_path: Path) -> None:
    path = _duration_only(tmp_path)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(json.dumps(_campaign(calibration={})))
    out = runner.invoke(app, ["simulate", str(cfg), "--replicates", "50", "--json",
                              "--calibration", str(path)])
    assert out.exit_code == 0, out.output
    metrics = json.loads(out.stdout)["metrics"]
    # The catalog TDP (700 W) × PUE 1.2 over the simulated GPU-hours, the idle gaps aside.
    assert metrics["energy_kwh"]["p50"] == pytest.approx(
        metrics["gpu_hours"]["p50"] * 0.7 * 1.2, rel=0.05)


def test_unreadable_calibration_is_one_line(tmp_path: Path) -> None:
    for body, match in (("{}", "not a calibration file"), (b"\xff\xfe", "must be UTF-8 text")):
        bad = tmp_path / "bad.json"
        if isinstance(body, bytes):
            bad.write_bytes(body)
        else:
            bad.write_text(body)
        cfg = CampaignConfig.model_validate(_campaign(calibration={"path": str(bad)}))
        with pytest.raises(ConfigError, match=match) as err:
            simulate(cfg, replicates=2)
        assert "\n" not in str(err.value)
    cfg = CampaignConfig.model_validate(_campaign(calibration={"path": str(tmp_path)}))
    with pytest.raises(ConfigError, match="must be a file, but this is a directory"):
        simulate(cfg, replicates=2)


def test_conditional_calibration_simulates(tmp_path: Path) -> None:
    from tunecost.calibrate.records import TrialRecord

    rng = np.random.default_rng(0)
    recs = []
    for i in range(30):
        if i % 2:
            p: dict = {"classifier": "SVC", "svc_c": float(10 ** rng.uniform(-3, 3))}
            d = 20.0 + 2 * np.log10(p["svc_c"])
        else:
            p = {"classifier": "RandomForest", "rf_max_depth": int(rng.integers(2, 33))}
            d = 4.0 + p["rf_max_depth"]
        recs.append(TrialRecord(number=i, state="COMPLETE", params=p, duration_s=d,
                                energy_j=200.0 * d))
    path = tmp_path / "cond.json"
    fit_calibration(recs, n_folds=4, accelerator="h200").save(path)
    cfg = CampaignConfig.model_validate(_campaign(calibration={"path": str(path)}))
    r = simulate(cfg, replicates=100, seed=0)
    per_trial_s = r.metrics["gpu_hours"] * 3600 / 40
    assert np.all(np.isfinite(per_trial_s))
    assert 10 < np.median(per_trial_s) < 25  # half ~20 s SVC, half ~21 s forests at depth 17


def test_search_space_override_keeps_the_branch_and_bad_ones_are_one_line(
        tmp_path: Path) -> None:
    from tunecost.calibrate import Calibration
    from tunecost.calibrate.records import TrialRecord
    from tunecost.config import StudyCalibrationConfig
    from tunecost.simulate._resolve import _load_calibration

    recs = [TrialRecord(number=i, state="COMPLETE", duration_s=1.0 + i % 5,
                        params={"clf": "SVC", "c": 0.1 * (i + 1)} if i % 2
                        else {"clf": "RF", "depth": i + 2}) for i in range(12)]
    path = tmp_path / "cond.json"
    fit_calibration(recs, n_folds=3).save(path)
    from tunecost.calibrate import ParamCondition

    svc_only = ParamCondition(parent="clf", values=["SVC"])
    assert Calibration.load(path).space["c"].condition == svc_only
    cfg = StudyCalibrationConfig(path=path, search_space={
        "c": {"type": "float", "low": 1.0, "high": 100.0, "log": True}})
    cal = _load_calibration(cfg, "s")
    assert cal.space["c"].high == 100.0 and cal.space["c"].condition == svc_only
    bad = StudyCalibrationConfig(path=path, search_space={
        "c": {"type": "float", "low": 5.0, "high": 1.0}})
    with pytest.raises(ConfigError, match=r"search_space.c: .*low <= high"):
        _load_calibration(bad, "s")


def test_cli_calibration_replaces_a_studys_own_path(calib_path: Path, tmp_path: Path) -> None:
    """It was ignored when the study named its own calibration.path (same output whatever
    the flag said). The study's own file here does not even exist: it must not be read."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(json.dumps(_campaign(calibration={"path": "elsewhere/old.json"})))
    without = runner.invoke(app, ["simulate", str(cfg), "--replicates", "20", "--json"])
    assert without.exit_code == 2 and "old.json" in without.stderr
    out = runner.invoke(app, ["simulate", str(cfg), "--replicates", "20", "--json",
                              "--calibration", str(calib_path)])
    assert out.exit_code == 0, out.output
    source = json.loads(out.stdout)["assumptions"]["sources"]["calibration (s)"]
    assert source.startswith(str(calib_path))
    assert "from --calibration, replacing the study's own" in source and "old.json" in source


def test_cli_calibration_needs_no_empty_calibration_block(calib_path: Path,
                                                          tmp_path: Path) -> None:
    """A study with no duration, power or calibration takes the flag's calibration."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(json.dumps(_campaign()))
    bare = runner.invoke(app, ["simulate", str(cfg), "--replicates", "20"])
    assert bare.exit_code == 2 and "--calibration FILE" in bare.stderr
    out = runner.invoke(app, ["simulate", str(cfg), "--replicates", "20", "--json",
                              "--calibration", str(calib_path)])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert "calibration (s)" in data["assumptions"]["sources"]
    assert 0 < data["metrics"]["gpu_hours"]["p50"] < 1  # 40 trials of a few seconds
    assert "--calibration" in runner.invoke(app, ["simulate", "--help"]).stdout


def test_duration_only_calibration_takes_energy_from_power_or_tdp(calib_path: Path,
                                                                  tmp_path: Path) -> None:
    """A calibration without an energy model simulates: energy from the study's power:, or
    the catalog TDP (a warning says it was estimated)."""
    from tunecost.calibrate import Calibration

    durations_only = tmp_path / "durations.json"
    Calibration.load(calib_path).model_copy(update={"energy": None}).save(durations_only)
    with_power = CampaignConfig.model_validate(_campaign(
        calibration={"path": str(durations_only)},
        power={"kind": "constant", "accelerator_w": 400}))
    r = simulate(with_power, replicates=50, seed=0)
    power_w = r.metrics["energy_kwh"] / 1.2 / r.metrics["gpu_hours"] * 1000
    assert power_w == pytest.approx(400)
    assert any("no energy model" in w for w in r.assumptions["warnings"])
    tdp = simulate(CampaignConfig.model_validate(_campaign(
        calibration={"path": str(durations_only)})), replicates=50, seed=0)
    assert tdp.metrics["energy_kwh"] / 1.2 / tdp.metrics["gpu_hours"] * 1000 == pytest.approx(
        700)  # the H200's catalog TDP
    assert any("ESTIMATED" in w for w in tdp.assumptions["warnings"])


@pytest.mark.parametrize("own", [{"power": {"kind": "constant", "accelerator_w": 300}},
                                 {"duration": {"dist": "fixed", "duration_h": 5.0},
                                  "power": {"kind": "constant", "accelerator_w": 300}}])
def test_cli_calibration_applies_to_studies_with_their_own_models(
        own: dict, calib_path: Path, tmp_path: Path) -> None:
    """A study's `power:` (kept) or `duration:` (replaced) does not stop the flag's file."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(json.dumps(_campaign(**own)))
    out = runner.invoke(app, ["simulate", str(cfg), "--replicates", "20", "--json",
                              "--calibration", str(calib_path)])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert "calibration (s)" in data["assumptions"]["sources"]
    assert data["metrics"]["gpu_hours"]["p50"] < 1  # the calibration's seconds, not 5 h
