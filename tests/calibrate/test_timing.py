"""Set-up before the first step and the framework's overhead between trials, measured."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tunecost.calibrate import CurvePoint, SetupTime, TrialOverhead, TrialRecord, read_records

STUDIES = Path(__file__).resolve().parents[2] / "studies"


def _rec(i: int, start: float, end: float, duration: float) -> TrialRecord:
    return TrialRecord(number=i, state="COMPLETE", duration_s=duration,
                       attrs={"t_start": start, "t_end": end})


def test_sequential_overhead_is_the_gap_plus_what_lies_outside_the_objective():
    # spans of 1.2 s holding 1.0 s of objective, 0.3 s apart: 0.2 + 0.3 s per trial
    recs = [_rec(i, 1.5 * i, 1.5 * i + 1.2, 1.0) for i in range(5)]
    o = TrialOverhead.measure(recs)
    assert o is not None and o.workers == 1
    np.testing.assert_allclose(o.samples_s, [0.5] * 4)


def test_two_slots_are_matched_first_freed_first_served():
    # Two slots; each new trial starts 2 s after the earliest-freed slot frees.
    recs = [_rec(0, 0.0, 1.0, 1.0), _rec(1, 0.5, 1.5, 1.0), _rec(2, 3.0, 4.0, 1.0),
            _rec(3, 3.5, 4.5, 1.0), _rec(4, 6.0, 7.0, 1.0)]
    o = TrialOverhead.measure(recs)
    assert o is not None and o.workers == 2
    # trial 1: its slot's start-up, 0.5 s after the first; then 2 s per trial
    np.testing.assert_allclose(sorted(o.samples_s), [0.5, 2.0, 2.0, 2.0])
    draws = o.sample(1000, rng=0)
    assert set(np.unique(draws)) <= {0.5, 2.0}


def test_no_timestamps_no_overhead():
    assert TrialOverhead.measure([TrialRecord(number=0, state="COMPLETE", duration_s=1.0)]) \
        is None


def test_measured_on_the_real_optuna_and_ray_calibrations():
    """Optuna on SQLite spends milliseconds between trials; a Ray Tune function trainable
    seconds (a new actor per trial)."""
    data = STUDIES / "fidelity_cpu" / "data"
    optuna_o = TrialOverhead.measure(read_records(data / "calibration.jsonl"))
    ray_o = TrialOverhead.measure(read_records(data / "ray_calibration.jsonl"))
    assert optuna_o is not None and ray_o is not None
    assert optuna_o.workers == 1 and 0.001 < optuna_o.median_s < 0.2
    assert ray_o.workers == 2 and 1.0 < ray_o.median_s < 10.0


def test_setup_is_the_intercept_of_report_times_against_steps():
    recs = [TrialRecord(number=i, state="COMPLETE", duration_s=2.0 + 0.1 * 8 * (i + 1),
                        curve=[CurvePoint(step=k, value=1.0 / k, t_s=2.0 + 0.1 * (i + 1) * k,
                                          energy_j=100.0 + 30.0 * k) for k in range(1, 9)])
            for i in range(4)]
    s = SetupTime.measure(recs)
    assert s is not None
    assert s.duration_s == pytest.approx(2.0) and s.energy_j == pytest.approx(100.0)
    assert SetupTime.measure(recs[:2]) is None


def test_h200_trials_spend_about_1_7_s_before_their_first_step():
    recs = read_records(STUDIES / "h200_transformer_lm" / "data" / "calib_random.jsonl")
    s = SetupTime.measure(recs)
    assert s is not None and 1.2 < s.duration_s < 2.2
    # set-up runs near the H200's 121.5 W idle: well below the trials' mean power
    assert s.energy_j is not None and 100 < s.energy_j / s.duration_s < 160
