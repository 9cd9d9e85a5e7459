"""tunecost.forecast: closed-form cases, the continuation of a live study, a real study."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import optuna
import pydantic
import pytest

import tunecost
from tunecost.calibrate import TrialRecord, read_records
from tunecost.exceptions import ConfigError
from tunecost.live import Forecast, ForecastSettings, StudySoFar, forecast, spent
from tunecost.simulate.events.optuna_replay import reseeded
from tunecost.units import J_PER_KWH, S_PER_H

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
import bench_forecast as bench  # noqa: E402  (the benchmark's rebuilding of a live study)

SPACE = {"x": {"type": "float", "low": 0.0, "high": 1.0}}
RANDOM = {"kind": "optuna", "sampler": {"name": "RandomSampler"}}


def _records(n: int, *, duration_s: float = 2.0, energy_j: float = 10.0,
             gap_s: float = 1.0) -> list[TrialRecord]:
    """``n`` trials of one fixed cost, run back to back on one worker, ``gap_s`` apart."""
    rng = np.random.default_rng(0)
    out, t = [], 1000.0
    for i in range(n):
        out.append(TrialRecord(
            number=i, state="COMPLETE", params={"x": float(rng.random())}, value=0.5,
            duration_s=duration_s, energy_j=energy_j, energy_source="nvml",
            attrs={"t_start": t, "t_end": t + duration_s}))
        t += duration_s + gap_s
    return out


def test_fixed_cost_trials_forecast_the_closed_form() -> None:
    recs = _records(12)
    f = forecast(recs, n_trials=30, strategy=RANDOM, space=SPACE, replicates=4, pue=1.5,
                 g_co2e_per_kwh=400.0, usd_per_kwh=0.2)
    assert f.basis == "recalibrated" and f.n_finished == 12
    energy_kwh = 30 * 10.0 / J_PER_KWH * 1.5  # every trial 10 J, PUE 1.5
    for q in (f.p5, f.p50, f.p95):
        assert q["trials"] == 30
        assert q["energy_kwh"] == pytest.approx(energy_kwh, rel=1e-6)
        assert q["device_hours"] == pytest.approx(30 * 2.0 / S_PER_H, rel=1e-6)
        assert q["co2e_kg"] == pytest.approx(energy_kwh * 0.4, rel=1e-6)
        assert q["usd"] == pytest.approx(energy_kwh * 0.2, rel=1e-6)
    # Wall clock: 12 trials + 11 gaps so far; 18 more trials, each after the measured 1 s
    # overhead between trials.
    assert f.spent["wall_clock_h"] == pytest.approx((12 * 2 + 11 * 1) / S_PER_H)
    assert f.p50["wall_clock_h"] == pytest.approx((12 * 2 + 11 + 18 * 3) / S_PER_H, rel=0.02)
    assert f.completion_s["p50"] == pytest.approx(
        f.now_s + (f.p50["wall_clock_h"] - f.spent["wall_clock_h"]) * S_PER_H)


def test_spent_is_the_measured_trials_times_pue() -> None:
    recs = _records(5, energy_j=7.2e5)  # 0.2 kWh each
    done, unmeasured = spent(recs, ForecastSettings(n_trials=5, pue=1.25), elapsed_s=3600.0)
    assert unmeasured == 0
    assert done == {"trials": 5.0, "device_hours": pytest.approx(10 / S_PER_H),
                    "wall_clock_h": 1.0, "energy_kwh": pytest.approx(1.25)}


def test_a_finished_study_forecasts_what_it_spent() -> None:
    f = forecast(_records(6), n_trials=6, strategy=RANDOM)
    assert f.basis == "finished" and f.p5 == f.p50 == f.p95 == f.spent


def test_too_few_trials_fall_back_to_the_prior_or_say_so(tmp_path: Path) -> None:
    few = _records(3)
    none = forecast(few, n_trials=20, strategy=RANDOM, space=SPACE)
    assert none.basis == "none" and not none.p50
    assert "3 of the 8" in none.notes[0] and "no forecast" in none.line()
    prior_path = tmp_path / "prior.json"
    tunecost.calibrate.fit_calibration(_records(12), space=SPACE).save(prior_path)
    f = forecast(few, n_trials=20, strategy=RANDOM, space=SPACE, prior=prior_path,
                 replicates=4)
    assert f.basis == "prior"
    assert f.p50["energy_kwh"] == pytest.approx(20 * 10.0 / J_PER_KWH, rel=1e-6)


def test_same_seed_same_forecast_and_attrs_are_flat_numbers() -> None:
    kw = {"n_trials": 25, "strategy": {**RANDOM, "sampler": {"name": "TPESampler"}},
          "space": SPACE, "replicates": 3}
    recs = _records(10, duration_s=1.0)
    a, b = forecast(recs, **kw), forecast(recs, **kw)
    assert (a.p5, a.p50, a.p95, a.completion_s) == (b.p5, b.p50, b.p95, b.completion_s)
    attrs = a.attrs()
    assert attrs["tunecost:forecast_energy_kwh_p50"] == a.p50["energy_kwh"]
    assert attrs["tunecost:forecast_basis"] == "recalibrated"
    assert all(isinstance(v, (int, float, str)) for v in attrs.values())
    assert all(math.isfinite(v) for v in attrs.values() if isinstance(v, float))


def _study(n: int, seed: int = 0) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=2))

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        for step in range(1, 5):
            trial.report(x + 1.0 / step, step)
        return x

    study.optimize(tunecost.calibrate.measured(objective), n_trials=n)
    return study


def test_a_live_study_is_continued_from_its_own_history() -> None:
    study = _study(10)
    so_far = StudySoFar.from_optuna(study)
    assert len(so_far.frozen) == 10 and so_far.sampler is study.sampler
    assert so_far.distributions is not None and set(so_far.distributions) == {"x"}
    f = forecast(study, n_trials=16, replicates=2)
    assert f.basis == "recalibrated" and f.p50["trials"] == 16
    assert f.p50["energy_kwh"] >= f.spent["energy_kwh"]
    # The real study is untouched: no trial added, its sampler's state not advanced.
    assert len(study.trials) == 10
    nxt = study.sampler._rng.rng.random_sample()  # noqa: SLF001
    assert nxt == _study(10).sampler._rng.rng.random_sample()  # noqa: SLF001


def test_reseeded_samplers_repeat_with_their_seed_and_differ_across_seeds() -> None:
    study = _study(6)

    def proposals(seed: int) -> list[float]:
        s = optuna.create_study(sampler=reseeded(study.sampler, seed))
        s.add_trials(study.trials)
        return [s.ask({"x": optuna.distributions.FloatDistribution(0, 1)}).params["x"]
                for _ in range(5)]

    assert proposals(1) == proposals(1)
    assert proposals(1) != proposals(2)


def test_a_real_study_half_way_is_forecast_within_its_band() -> None:
    """The fidelity study's TPE + MedianPruner run (seed 3), cut after 20 of its 40 trials
    and rebuilt as a live study: the measured final energy falls inside the forecast's
    P5–P95, and the P50 is closer to it than the linear extrapolation."""
    recs = sorted(read_records(bench.STUDY / "data" / "tpe_median_seed3.jsonl"),
                  key=lambda r: r.attrs["t_end"])
    line = bench.one("tpe_median", 3, 0.5, replicates=32)
    measured_j = sum(r.host_energy_j for r in recs)
    assert line["measured"]["energy_j"] == pytest.approx(measured_j, abs=1e-3)
    assert line["p5"]["energy_j"] <= measured_j <= line["p95"]["energy_j"]
    assert abs(line["p50_error_pct"]["energy_j"]) < abs(line["linear_error_pct"]["energy_j"])


@pytest.mark.parametrize("source, message", [
    ("study.db", "takes an optuna.Study"),
    ([1, 2], "takes an optuna.Study"),
])
def test_bad_sources_fail_in_one_line(source: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        forecast(source, n_trials=10)


def test_records_without_a_search_fail_in_one_line() -> None:
    with pytest.raises(ConfigError, match="needs the remaining trials' search"):
        forecast(_records(10), n_trials=20)


@pytest.mark.parametrize("options", [{"n_trials": 0}, {"n_trials": 5, "pue": 0.5},
                                     {"n_trials": 5, "replicates": 0},
                                     {"n_trials": 5, "colour": "red"}])
def test_bad_settings_name_the_field(options: dict) -> None:
    with pytest.raises(pydantic.ValidationError):
        ForecastSettings(**options)


def test_forecast_line_reads_as_one_log_line() -> None:
    f = Forecast(study="s", basis="prior", n_trials=10, n_finished=4, n_running=0,
                 now_s=0.0, spent={"energy_kwh": 1.0}, p5={"energy_kwh": 2.0},
                 p50={"energy_kwh": 2.5}, p95={"energy_kwh": 3.0},
                 completion_s={"p5": 1.0, "p50": 2.0, "p95": 3.0})
    line = f.line()
    assert "\n" not in line
    assert "4/10 trials" in line and "final P50 2.5 [P5 2, P95 3] kWh" in line
