"""Importers: real Optuna studies, a real Ray Tune run, fixture copies, CodeCarbon CSVs."""

from __future__ import annotations

import csv
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest

from tunecost.calibrate.importers import (
    from_codecarbon,
    from_jsonl,
    from_optuna,
    from_ray,
    load_records,
)
from tunecost.calibrate.records import write_records
from tunecost.exceptions import ConfigError
from tunecost.units import J_PER_KWH

FIXTURES = Path(__file__).parent / "fixtures"
RAY_TINY = FIXTURES / "ray_asha_tiny"
CODECARBON_CSV = FIXTURES / "codecarbon_emissions.csv"
H200_HEAD = FIXTURES / "h200_calib_random_head.jsonl"
H200_CALIB_RANDOM = FIXTURES / "h200_run1" / "calib_random.jsonl"


# ---------------------------------------------------------------------------------------------
# Optuna


def _measurement(n_steps: int) -> dict:
    """What the measuring callback stores for a trial that ran ``n_steps`` evaluations."""
    curve = [
        {"step": 10 * s, "value": 1.0 / s, "t_s": 0.5 * s, "energy_j": 10.0 * s}
        for s in range(1, n_steps + 1)
    ]
    return {
        "duration_s": 0.5 * n_steps + 0.1,
        "energy_j": 10.0 * n_steps + 1.0,
        "energy_source": "nvml",
        "cpu_energy_j": 3.0 * n_steps,
        "dram_energy_j": 1.0 * n_steps,
        "cpu_energy_source": "rapl",
        "power_mean_w": 20.0,
        "power_max_w": 25.0,
        "power_min_w": 15.0,
        "util_mean": 0.8,
        "devices": ["0"],
        "n_samples": 40,
        "curve": curve,
        "accelerator": "h100-sxm",
    }


def _objective(trial: optuna.Trial) -> float:
    trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    trial.suggest_categorical("opt", ["adam", "sgd"])
    trial.suggest_int("layers", 1, 4)
    n_steps = {0: 3, 1: 2, 2: 1}[trial.number]
    for s in range(1, n_steps + 1):
        trial.report(1.0 / s, 10 * s)
    trial.set_user_attr("tunecost", _measurement(n_steps))
    if trial.number == 1:
        raise optuna.TrialPruned()
    if trial.number == 2:
        raise RuntimeError("out of memory")
    return 1.0 / n_steps


@pytest.fixture()
def optuna_url(tmp_path: Path) -> Iterator[str]:
    """A real SQLite study: COMPLETE, PRUNED, FAIL (measured), then one RUNNING, one WAITING."""
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(
        study_name="calib", storage=url, sampler=optuna.samplers.RandomSampler(seed=0)
    )
    study.optimize(_objective, n_trials=3, catch=(RuntimeError,))
    study.ask()
    study.enqueue_trial({"lr": 0.01, "opt": "sgd", "layers": 2})
    yield url
    optuna.logging.set_verbosity(verbosity)


def test_optuna_every_field(optuna_url: str) -> None:
    """Each finished trial maps field by field; unfinished trials are skipped with a warning."""
    with pytest.warns(UserWarning, match="skipped 2 unfinished"):
        recs = from_optuna(optuna_url, "calib")
    study = optuna.load_study(study_name="calib", storage=optuna_url)
    trials = study.get_trials()[:3]
    assert [r.number for r in recs] == [0, 1, 2]
    assert [r.state for r in recs] == ["COMPLETE", "PRUNED", "FAIL"]
    assert [r.value for r in recs] == [pytest.approx(1 / 3), 0.5, None]
    assert [r.fidelity for r in recs] == [30, 20, 10]
    for rec, trial, n in zip(recs, trials, (3, 2, 1), strict=True):
        m = _measurement(n)
        assert rec.study == "calib"
        assert rec.params == trial.params
        assert set(rec.params) == {"lr", "opt", "layers"}
        assert rec.duration_s == m["duration_s"]
        assert rec.energy_j == m["energy_j"] and rec.energy_source == "nvml"
        assert rec.cpu_energy_j == m["cpu_energy_j"] and rec.dram_energy_j == m["dram_energy_j"]
        assert rec.cpu_energy_source == "rapl"
        assert rec.power_mean_w == 20.0
        assert rec.accelerator == "h100-sxm"
        assert [p.model_dump() for p in rec.curve] == m["curve"]
        assert rec.attrs["power_max_w"] == 25.0 and rec.attrs["power_min_w"] == 15.0
        assert rec.attrs["util_mean"] == 0.8 and rec.attrs["devices"] == ["0"]
        assert rec.attrs["n_samples"] == 40
        assert rec.attrs["t_start"] <= rec.attrs["t_end"]
        assert not {"curve", "energy_j", "duration_s", "accelerator"} & set(rec.attrs)


def test_optuna_plain_study_without_attr(tmp_path: Path) -> None:
    """A study nobody measured still imports: Optuna's duration, energy None, source none."""
    url = f"sqlite:///{tmp_path / 'plain.db'}"
    study = optuna.create_study(study_name="plain", storage=url)

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", -1, 1)
        trial.report(x * x + 1, 1)
        trial.report(x * x, 2)
        return x * x

    study.optimize(objective, n_trials=3)
    recs = from_optuna(url)  # the only study: its name may be left out
    assert len(recs) == 3
    for rec, trial in zip(recs, study.trials, strict=True):
        assert rec.study == "plain" and rec.state == "COMPLETE"
        assert rec.energy_j is None and rec.energy_source == "none"
        assert rec.cpu_energy_j is None and rec.cpu_energy_source == "none"
        assert rec.duration_s == pytest.approx(trial.duration.total_seconds())
        assert rec.value == trial.value
        assert rec.fidelity == 2
        # Intermediate values carry no times: the curve holds their steps and values, with
        # times spread evenly over the trial, and says so.
        assert [(p.step, p.value) for p in rec.curve] == sorted(
            trial.intermediate_values.items())
        assert rec.curve[-1].t_s == pytest.approx(rec.duration_s)
        assert rec.attrs["curve_times"] == "interpolated"


def test_optuna_errors(tmp_path: Path, optuna_url: str) -> None:
    """A missing file or study is a ConfigError that says what exists; no empty DB is made."""
    missing = tmp_path / "nope.db"
    with pytest.raises(ConfigError, match="no such file"):
        from_optuna(f"sqlite:///{missing}", "calib")
    assert not missing.exists()
    with pytest.raises(ConfigError, match="studies there: calib"):
        from_optuna(optuna_url, "other")


def test_optuna_bad_energy_source(tmp_path: Path) -> None:
    """An unknown energy-source label names the trial and the allowed labels."""
    url = f"sqlite:///{tmp_path / 'bad.db'}"
    study = optuna.create_study(study_name="bad", storage=url)
    trial = study.ask()
    trial.set_user_attr("tunecost", {"duration_s": 1.0, "energy_j": 5.0, "energy_source": "guess"})
    study.tell(trial, 1.0)
    with pytest.raises(ConfigError, match=r"trial 0: energy_source must be one of .*nvml"):
        from_optuna(url, "bad")


# ---------------------------------------------------------------------------------------------
# Ray Tune: a real run (module-scoped: Ray starts once) and a fixture copy


def _make_trainable():
    # Built in a function so cloudpickle ships it by value: Ray's workers cannot import this
    # test module (pytest imports it with --import-mode=importlib).
    from ray import tune

    def trainable(config: dict) -> None:
        t0 = time.monotonic()
        for i in range(1, 5):
            time.sleep(0.01)
            dur = time.monotonic() - t0
            tune.report(
                {
                    "loss": config["lr"] / i + config["opt"]["momentum"],
                    "tunecost/duration_s": dur,
                    "tunecost/energy_j": 30.0 * dur,
                    "tunecost/energy_source": "estimated",
                    "tunecost/cpu_energy_j": 5.0 * dur,
                    "tunecost/dram_energy_j": 1.0 * dur,
                    "tunecost/cpu_energy_source": "estimated",
                    "tunecost/power_mean_w": 30.0,
                }
            )

    return trainable


@pytest.fixture(scope="module")
def ray_experiment(ray_session: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run 6 trials under ASHA (max_t 4, grace 1) on a 2-CPU local Ray; return the folder."""
    pytest.importorskip("ray.tune", reason="Ray Tune is an optional extra (tunecost[ray])")
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    storage = tmp_path_factory.mktemp("ray_results")
    tuner = tune.Tuner(
        _make_trainable(),
        param_space={
            "lr": tune.grid_search([0.1, 0.2, 0.4, 0.8, 1.6, 3.2]),
            "opt": {"momentum": 0.9, "name": "sgd"},
            "tags": ["a", "b"],
        },
        tune_config=tune.TuneConfig(
            scheduler=ASHAScheduler(max_t=4, grace_period=1, reduction_factor=2),
            metric="loss",
            mode="min",
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(storage_path=str(storage), name="asha_run", verbose=0),
    )
    grid = tuner.fit()
    assert not grid.errors
    return storage / "asha_run"


def test_ray_real_run(ray_experiment: Path) -> None:
    """Every trial imports; PRUNED exactly where ASHA stopped a trial early; curves add up."""
    recs = from_ray(ray_experiment, metric="loss")
    assert len(recs) == 6
    assert [r.number for r in recs] == list(range(6))
    assert {r.study for r in recs} == {"asha_run"}
    max_iter = max(r.fidelity for r in recs)
    assert max_iter == 4
    for rec in recs:
        assert (rec.state == "PRUNED") == (rec.fidelity < max_iter)
        assert rec.state in ("COMPLETE", "PRUNED")
        assert set(rec.params) == {"lr", "opt/momentum", "opt/name"}  # lists dropped
        assert [p.step for p in rec.curve] == list(range(1, int(rec.fidelity) + 1))
        ts = [p.t_s for p in rec.curve]
        assert ts == sorted(ts) and ts[-1] == rec.duration_s
        assert rec.value == rec.curve[-1].value
        assert rec.value == pytest.approx(rec.params["lr"] / rec.fidelity + 0.9)
        assert rec.energy_source == "estimated" and rec.cpu_energy_source == "estimated"
        assert rec.energy_j == pytest.approx(30.0 * rec.duration_s)
        assert rec.curve[-1].energy_j == rec.energy_j
        assert rec.dram_energy_j == pytest.approx(rec.duration_s)
        assert rec.power_mean_w == 30.0
        assert rec.attrs["trial_id"] in rec.attrs["trial_dir"]
    assert any(r.state == "COMPLETE" for r in recs)
    # The grid is in order of worsening loss and only 2 trials run at once, so ASHA always
    # finds later trials below the median at rung 1 and stops them.
    assert any(r.state == "PRUNED" for r in recs)


def test_ray_fixture_copy() -> None:
    """The 2-trial fixture: one COMPLETE to iteration 4, one PRUNED after iteration 1."""
    recs = from_ray(RAY_TINY, metric="loss")
    assert [(r.number, r.state, r.fidelity) for r in recs] == [
        (0, "COMPLETE", 4),
        (1, "PRUNED", 1),
    ]
    done, pruned = recs
    assert done.study == "ray_asha_tiny"
    assert done.params == {"lr": 0.1, "opt/mom": 0.9, "opt/name": "sgd"}
    assert [p.value for p in done.curve] == pytest.approx([1.9, 1.4, 1.2333333, 1.15])
    assert [p.energy_j for p in done.curve] == [2.0, 4.0, 6.0, 8.0]
    assert done.value == pytest.approx(1.15)
    assert done.energy_j == 8.0 and done.cpu_energy_j == 4.0 and done.dram_energy_j is None
    assert done.energy_source == "estimated" and done.cpu_energy_source == "estimated"
    assert done.duration_s == done.curve[-1].t_s
    assert pruned.value == pytest.approx(2.9) and pruned.attrs["trial_id"] == "13d22_00001"
    assert done.attrs["mode"] == "min"


def test_ray_errored_and_plain(tmp_path: Path) -> None:
    """error.txt makes a trial FAIL; results without tunecost keys use time_total_s."""
    exp = tmp_path / "plain_exp"
    shutil.copytree(RAY_TINY, exp)
    first, second = sorted(p for p in exp.iterdir())
    (second / "error.txt").write_text("Traceback ...\nRuntimeError: CUDA out of memory\n")
    for trial in (first, second):
        rows = [json.loads(line) for line in (trial / "result.json").read_text().splitlines()]
        rows = [{k: v for k, v in r.items() if not k.startswith("tunecost/")} for r in rows]
        (trial / "result.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    recs = from_ray(exp, metric="loss", mode="max")
    assert [r.state for r in recs] == ["COMPLETE", "FAIL"]
    assert recs[1].attrs["error"] == "RuntimeError: CUDA out of memory"
    for rec in recs:
        assert rec.energy_j is None and rec.energy_source == "none"
        assert rec.cpu_energy_source == "none" and rec.power_mean_w is None
        assert rec.duration_s == rec.curve[-1].t_s > 0
    assert recs[0].attrs["mode"] == "max"


def test_ray_errors(tmp_path: Path) -> None:
    """No trials, a storage_path instead of an experiment, or an unknown metric: ConfigError."""
    with pytest.raises(ConfigError, match="no Ray Tune trial folders"):
        from_ray(tmp_path, metric="loss")
    shutil.copytree(RAY_TINY, tmp_path / "exp")
    with pytest.raises(ConfigError, match="give one of its experiment folders.*exp"):
        from_ray(tmp_path, metric="loss")
    with pytest.raises(ConfigError, match=r"metric 'acc' is in no result.*found: loss"):
        from_ray(tmp_path / "exp", metric="acc")
    with pytest.raises(ConfigError, match="mode must be one of minimize, maximize, min, max"):
        from_ray(tmp_path / "exp", metric="loss", mode="up")


# ---------------------------------------------------------------------------------------------
# JSON Lines


def test_jsonl_h200_excerpt() -> None:
    """The shared H200 format: 3 COMPLETE trials with NVML energy and curves."""
    recs = from_jsonl(H200_HEAD)
    assert len(recs) == 3
    first = recs[0]
    assert first.state == "COMPLETE" and first.energy_source == "nvml"
    assert first.energy_j == pytest.approx(666.547) and first.duration_s == pytest.approx(
        3.9533, abs=1e-4
    )
    assert first.value == pytest.approx(2.222039710818313) and first.fidelity == 400
    assert len(first.curve) == 8 and first.curve[-1].energy_j == first.energy_j


def test_jsonl_roundtrip(tmp_path: Path) -> None:
    """tunecost's own format reads back what write_records wrote."""
    recs = from_jsonl(H200_HEAD)
    write_records(recs, tmp_path / "out.jsonl")
    assert from_jsonl(tmp_path / "out.jsonl") == recs


def test_jsonl_h200_file() -> None:
    """The real file: 33 COMPLETE trials, all with NVML energy."""
    recs = load_records(records=H200_CALIB_RANDOM)
    assert len(recs) == 33
    assert {r.state for r in recs} == {"COMPLETE"}
    assert all(r.energy_source == "nvml" and r.energy_j > 0 for r in recs)


# ---------------------------------------------------------------------------------------------
# CodeCarbon


def test_codecarbon_fixture() -> None:
    """kWh become J; a run without GPU has energy None; attrs keep the context."""
    with CODECARBON_CSV.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    recs = from_codecarbon(CODECARBON_CSV)
    assert [r.number for r in recs] == [0, 1]
    gpu, cpu_only = recs
    assert gpu.study == "lm_sweep" and gpu.state == "COMPLETE" and gpu.value is None
    assert gpu.duration_s == 120.5
    assert gpu.energy_j == pytest.approx(float(rows[0]["gpu_energy"]) * J_PER_KWH)
    assert gpu.energy_j == pytest.approx(250.3 * 120.5)
    assert gpu.power_mean_w == pytest.approx(250.3)
    assert gpu.cpu_energy_j == pytest.approx(42.5 * 120.5)
    assert gpu.dram_energy_j == pytest.approx(47.1 * 120.5)
    # GPU: CodeCarbon's NVML reading; CPU and RAM: CodeCarbon may have estimated them (RAM
    # always is, and the CSV does not say whether CPU came from RAPL), so: estimated.
    assert gpu.energy_source == "codecarbon" and gpu.cpu_energy_source == "estimated"
    assert gpu.attrs["energy_consumed_j"] == pytest.approx(
        float(rows[0]["energy_consumed"]) * J_PER_KWH)
    assert gpu.attrs["emissions_kg"] == pytest.approx(float(rows[0]["emissions"]))
    assert gpu.attrs["country"] == "France" and gpu.attrs["region"] == "ile-de-france"
    assert gpu.attrs["run_id"] == rows[0]["run_id"]
    assert gpu.attrs["experiment_id"] == rows[0]["experiment_id"]
    assert gpu.attrs["tracking_mode"] == "machine" and gpu.attrs["pue"] == 1.0
    assert gpu.attrs["gpu_model"] == "1 x NVIDIA H100 80GB HBM3"
    assert "cloud_provider" not in gpu.attrs  # empty cells are left out
    assert cpu_only.energy_j is None and cpu_only.energy_source == "none"
    assert cpu_only.power_mean_w is None and "gpu_model" not in cpu_only.attrs
    assert cpu_only.cpu_energy_j == pytest.approx(38.0 * 95.25)
    assert cpu_only.attrs["tracking_mode"] == "process"


def test_codecarbon_older_and_newer_columns(tmp_path: Path) -> None:
    """Columns missing in old versions, and extra ones in new versions, are tolerated."""
    old = tmp_path / "old.csv"
    old.write_text(
        "timestamp,project_name,run_id,duration,emissions,emissions_rate,cpu_power,"
        "gpu_power,ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,"
        "country_name,country_iso_code,region,on_cloud\n"
        "2021-06-01T10:00:00,codecarbon,r1,10.0,1e-6,1e-7,10.0,0.0,3.0,"
        "2.7777777777777776e-05,0.0,8.333333333333333e-06,3.6e-05,Canada,CAN,quebec,N\n"
    )
    (rec,) = from_codecarbon(old)
    assert rec.cpu_energy_j == pytest.approx(100.0) and rec.dram_energy_j == pytest.approx(30.0)
    assert rec.energy_j is None and "pue" not in rec.attrs and "experiment_id" not in rec.attrs
    new = tmp_path / "new.csv"
    new.write_text(
        "task_name,timestamp,project_name,run_id,duration,emissions,"
        "cpu_utilization_percent,gpu_power,gpu_energy,water_consumed,wue\n"
        "epoch_1,2026-01-01T00:00:00,,r2,5.0,1e-6,55.0,200.0,0.0002777777777777778,"
        "0.0,0\n"
    )
    (rec,) = from_codecarbon(new)
    assert rec.study == "codecarbon" and rec.attrs["task_name"] == "epoch_1"
    assert rec.energy_j == pytest.approx(1000.0) and rec.power_mean_w == pytest.approx(200.0)
    assert rec.cpu_energy_j is None and rec.cpu_energy_source == "none"


def test_codecarbon_errors(tmp_path: Path) -> None:
    """Not a CodeCarbon file, no rows, or a bad number: ConfigError naming the place."""
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ConfigError, match="no 'duration' column"):
        from_codecarbon(bad)
    bad.write_text("duration,gpu_energy\n")
    with pytest.raises(ConfigError, match="no rows"):
        from_codecarbon(bad)
    bad.write_text("duration,gpu_energy\n1.0,lots\n")
    with pytest.raises(ConfigError, match=r"bad.csv:2: column 'gpu_energy' is not a number"):
        from_codecarbon(bad)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"duration,gpu_energy,gpu_power\n1.0,0.1,3\n2.0\n", r"bad.csv:3: .*one cell per "
         r"column \(3\), but this one has 1"),
        (b"duration,gpu_energy\n1.0,0.1,9,9\n", r"bad.csv:2: .*\(2\), but this one has 4"),
        (b"duration,gpu_energy\ninf,0.1\n", r"'duration' must be a finite number >= 0, got 'inf'"),
        (b"duration,gpu_energy\n1.0,nan\n", r"'gpu_energy' must be a finite number >= 0"),
        (b"duration,gpu_energy\n1.0,-0.1\n", r"'gpu_energy' must be a finite number >= 0"),
        (b"duration,project_name\n1.0,caf\xe9\n",
         r"line 2: a CodeCarbon CSV must be UTF-8 text, but byte 29 is"),
        (b"", r"no 'duration' column; columns: \(none\)"),
    ],
)
def test_bad_codecarbon_csv_is_one_line(tmp_path: Path, content: bytes, match: str) -> None:
    """Short and long rows, non-finite or negative numbers, Latin-1 bytes: one line each."""
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content)
    with pytest.raises(ConfigError, match=match) as info:
        from_codecarbon(bad)
    assert "\n" not in str(info.value)


def test_codecarbon_csv_with_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfduration,gpu_energy,gpu_power\n2.0,0.001,5\n")
    (rec,) = from_codecarbon(path)
    assert rec.duration_s == 2.0 and rec.energy_j == pytest.approx(3600.0)


# ---------------------------------------------------------------------------------------------
# Dispatcher


def test_load_records_each_source(optuna_url: str) -> None:
    """Each source alone goes to its reader."""
    assert len(load_records(records=H200_HEAD)) == 3
    with pytest.warns(UserWarning):
        assert len(load_records(optuna_storage=optuna_url, study="calib")) == 3
    assert len(load_records(ray_results=RAY_TINY, metric="loss")) == 2
    assert len(load_records(codecarbon=CODECARBON_CSV)) == 2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {},
            "give exactly one of --records, --optuna-storage/--study, --ray-results, --codecarbon",
        ),
        ({"records": H200_HEAD, "ray_results": "x"}, "got --records, --ray-results"),
        ({"records": H200_HEAD, "codecarbon": CODECARBON_CSV}, "no CodeCarbon row matched"),
        ({"study": "calib"}, "--study 'calib' needs --optuna-storage"),
        ({"ray_results": RAY_TINY}, "--ray-results needs --metric"),
        ({"records": H200_HEAD, "metric": "loss"}, "--metric applies only to --ray-results"),
    ],
)
def test_load_records_errors(kwargs: dict, match: str) -> None:
    """No source, two sources, or a flag of another source: a ConfigError that says so."""
    with pytest.raises(ConfigError, match=match):
        load_records(**kwargs)
