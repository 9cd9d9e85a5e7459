"""The Ray Tune wrapper puts the cumulative measurement into every result, on a real cluster."""

from __future__ import annotations

import json

import pytest

from tunecost.calibrate.ray import KEY_PREFIX, measured_trainable, report

KEYS = ("duration_s", "energy_j", "energy_source", "cpu_energy_j", "dram_energy_j",
        "cpu_energy_source", "power_mean_w")
def _make_trainable():
    # Defined in a function so that cloudpickle ships it by value: Ray's workers cannot import
    # this test module by name.
    def tiny(config):
        import numpy as np

        a = np.random.default_rng(config["seed"]).standard_normal((64, 64))
        for step in range(3):
            for _ in range(20):
                a = np.tanh(a @ a.T / 64.0)
            report({"loss": config["x"] / (step + 1) + float(np.abs(a).mean()) * 1e-3})

    return tiny


def test_every_result_row_carries_the_measurement(ray_session, tmp_path):
    """4 trials under ASHA (max_t 3): each ``result.json`` row has cumulative tunecost keys."""
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    tuner = tune.Tuner(
        measured_trainable(_make_trainable()),
        param_space={"x": tune.grid_search([0.1, 0.2, 3.0, 4.0]), "seed": 0},
        tune_config=tune.TuneConfig(
            metric="loss", mode="min", reuse_actors=True,
            scheduler=ASHAScheduler(max_t=3, grace_period=1, reduction_factor=2),
        ),
        run_config=tune.RunConfig(name="exp", storage_path=str(tmp_path), verbose=0),
    )
    grid = tuner.fit()
    assert grid.num_errors == 0 and len(grid) == 4

    trial_dirs = sorted(p.parent for p in (tmp_path / "exp").glob("*/result.json"))
    assert len(trial_dirs) == 4
    iterations = []
    for trial_dir in trial_dirs:
        assert (trial_dir / "params.json").is_file()
        rows = [json.loads(line) for line in (trial_dir / "result.json").read_text().splitlines()
                if line.strip()]
        assert 1 <= len(rows) <= 3
        iterations.append(rows[-1]["training_iteration"])
        for row in rows:
            assert all(KEY_PREFIX + k in row for k in KEYS), sorted(row)
            assert "loss" in row
        durations = [row[KEY_PREFIX + "duration_s"] for row in rows]
        assert durations[0] > 0
        assert all(a <= b for a, b in zip(durations, durations[1:], strict=False))
        assert rows[-1][KEY_PREFIX + "energy_source"] == rows[0][KEY_PREFIX + "energy_source"]
        # the trial's start, wall clock: the same on every row, near Ray's own timestamp
        starts = {row[KEY_PREFIX + "t_start"] for row in rows}
        assert len(starts) == 1 and abs(starts.pop() - rows[0]["timestamp"]) < 5.0
    assert max(iterations) == 3
    # and the importer turns it into the record's span, which the overhead is measured from
    from tunecost.calibrate import TrialOverhead, from_ray

    records = from_ray(tmp_path / "exp", metric="loss")
    for r in records:
        assert r.attrs["t_end"] - r.attrs["t_start"] == pytest.approx(r.duration_s, abs=1e-6)
    overhead = TrialOverhead.measure(records)
    # Every record carried both timestamps: one gap per trial after the first, each inside
    # the experiment's span.
    assert overhead is not None and len(overhead.samples_s) == len(records) - 1 == 3
    span_s = max(r.attrs["t_end"] for r in records) - min(r.attrs["t_start"] for r in records)
    assert 1 <= overhead.workers <= len(records)
    assert 0 <= min(overhead.samples_s) and max(overhead.samples_s) <= span_s


def test_report_outside_a_measured_trainable():
    with pytest.raises(RuntimeError, match="measured_trainable"):
        report({"loss": 1.0})


def test_wrapper_keeps_the_trainable_name():
    def my_trainable(config):
        return None

    assert measured_trainable(my_trainable).__name__ == "my_trainable"
