"""The replay against real studies it was not fitted on (``studies/fidelity_cpu``).

Each target ran for real with ten seeds; the replay predicts it from a random-search
calibration alone. The checks are looser than the benchmark's (fewer replicates here, so the
percentiles are noisier), but each could fail: the P50 near the real runs' median, most real
runs inside the P5–P95, and closer than what a user computes by hand (the calibration's mean
cost per trial times the number of trials).

One known miss is checked as such: Ray Tune's wall clock. Its per-trial actor start-up
(about 3 s) is slower when the trials between start-ups are short (measured on the real ASHA
runs: 3.66 s after a trial stopped at its first iteration, 3.11 s after a 1 s trial: start-ups
contend for the 2 cores), which the random-search calibration's 1 s trials show only faintly;
the replay's wall clock is about 6 % short and a third of the real runs lie above its P95.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import numpy as np
import pytest

from tunecost.config import load_config
from tunecost.simulate import simulate
from tunecost.units import J_PER_KWH, S_PER_H

STUDY = Path(__file__).resolve().parents[3] / "studies" / "fidelity_cpu"
CALIBRATION_RUN = {"tpe_median": "calibration", "tpe_hyperband": "calibration",
                   "ray_asha": "ray_calibration"}


def _runs() -> dict[str, dict]:
    out = {}
    for line in (STUDY / "data" / "runs.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            out[r["run"]] = r
    return out


@pytest.mark.parametrize("study", sorted(CALIBRATION_RUN))
def test_replay_predicts_real_runs_it_was_not_fitted_on(study):
    cfg = load_config(STUDY / f"{study}.yaml")
    m = simulate(cfg, engine="replay", replicates=60, seed=1).metrics
    predicted = {"trial_s": m["gpu_hours"] * S_PER_H, "wall_s": m["wall_clock_h"] * S_PER_H,
                 "energy_j": (m["energy_kwh"] - m["overhead_energy_kwh"]) * J_PER_KWH}
    runs = _runs()
    real = [r for r in runs.values() if r["study"] == study]
    cal = runs[CALIBRATION_RUN[study]]
    n = cfg.studies[0].strategy.n_trials
    assert len(real) >= 5
    for metric, pred in predicted.items():
        values = [r[metric] for r in real]
        measured = statistics.median(values)
        p5, p50, p95 = np.percentile(pred, [5, 50, 95])
        baseline = cal[metric] / cal["n_trials"] * n
        err, base_err = abs(p50 / measured - 1), abs(baseline / measured - 1)
        assert err < 0.15, (metric, p50, measured)
        assert err < base_err, (metric, p50, baseline, measured)
        inside = sum(p5 <= v <= p95 for v in values) / len(values)
        if (study, metric) == ("ray_asha", "wall_s"):
            assert err < 0.10 and inside >= 0.4, (p5, p50, p95, values)
            assert p50 < measured  # the known direction: the start-ups' contention
        else:
            assert inside >= 0.7, (metric, p5, p95, values)
