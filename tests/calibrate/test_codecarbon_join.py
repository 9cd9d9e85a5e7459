"""CodeCarbon rows joined to the Optuna trials they measured: a real OfflineEmissionsTracker.

CodeCarbon's offline tracker needs no network (``country_iso_code`` gives the grid's carbon
intensity); it spends about a second starting up, so each study here runs three trials.
"""

from __future__ import annotations

import csv
import logging
import time
from pathlib import Path

import optuna
import pytest
from typer.testing import CliRunner

from tunecost.calibrate import join_codecarbon
from tunecost.calibrate.importers import from_optuna, load_records
from tunecost.calibrate.optuna import measured
from tunecost.cli import app
from tunecost.exceptions import ConfigError
from tunecost.units import J_PER_KWH

codecarbon = pytest.importorskip("codecarbon")
optuna.logging.set_verbosity(optuna.logging.WARNING)
logging.getLogger("codecarbon").setLevel(logging.ERROR)


def spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        sum(range(1000))


def tracked_study(tmp_path: Path, *, named: bool, work_s: float = 0.3) -> tuple[str, Path]:
    """A measured Optuna study whose objective runs each trial inside its own tracker."""
    out = tmp_path / "cc"
    out.mkdir(exist_ok=True)

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0.5, 1.0)
        tracker = codecarbon.OfflineEmissionsTracker(
            country_iso_code="FRA",
            output_dir=str(out),
            save_to_file=True,
            log_level="error",
            project_name=f"trial-{trial.number}" if named else "sweep",
        )
        tracker.start()
        try:
            spin(work_s * x)
            trial.report(x, 1)
        finally:
            tracker.stop()
        return x

    url = f"sqlite:///{tmp_path / 'cc.db'}"
    study = optuna.create_study(study_name="cc", storage=url, direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(measured(objective), n_trials=3)
    return url, out / "emissions.csv"


@pytest.fixture(scope="module")
def named(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    return tracked_study(tmp_path_factory.mktemp("named"), named=True)


def test_rows_named_after_trials_give_them_codecarbons_energy(named) -> None:
    url, csv_path = named
    with csv_path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["project_name"] for r in rows] == ["trial-0", "trial-1", "trial-2"]
    recs = load_records(optuna_storage=url, study="cc", codecarbon=csv_path)
    for rec, row in zip(recs, rows, strict=True):
        assert rec.attrs["codecarbon_matched_by"] == "name"
        assert rec.attrs["direction"] == "maximize"
        assert rec.cpu_energy_j == pytest.approx(float(row["cpu_energy"]) * J_PER_KWH)
        assert rec.dram_energy_j == pytest.approx(float(row["ram_energy"]) * J_PER_KWH)
        assert rec.cpu_energy_source == "estimated"  # CodeCarbon's own model here (no RAPL)
        assert rec.attrs["energy_consumed_j"] == pytest.approx(
            float(row["energy_consumed"]) * J_PER_KWH)
        assert rec.attrs["emissions_kg"] == pytest.approx(float(row["emissions"]))
        # The trial's own duration stays; CodeCarbon's lies within it.
        assert rec.attrs["codecarbon_duration_s"] <= rec.duration_s + 0.05


def test_rows_without_names_are_matched_by_time(tmp_path: Path) -> None:
    # CodeCarbon's timestamps are whole seconds: trials of a second or more tell apart.
    url, csv_path = tracked_study(tmp_path, named=False, work_s=1.5)
    base = from_optuna(url, "cc")
    recs = join_codecarbon(base, csv_path)
    with csv_path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r.attrs["codecarbon_matched_by"] for r in recs] == ["time"] * 3
    # Each trial got the row written at its end, in order.
    assert [r.attrs["codecarbon_line"].rpartition(":")[2] for r in recs] == ["2", "3", "4"]
    for rec, row in zip(recs, rows, strict=True):
        assert rec.cpu_energy_j == pytest.approx(float(row["cpu_energy"]) * J_PER_KWH)


def test_unmatched_rows_and_trials_are_one_warning(named, tmp_path: Path) -> None:
    url, csv_path = named
    lines = csv_path.read_text().splitlines()
    # Drop trial 1's row, add one from another project at another time.
    other = lines[1].replace("trial-0", "elsewhere").replace(lines[1][:4], "1999")
    edited = tmp_path / "edited.csv"
    edited.write_text("\n".join([lines[0], lines[1], lines[3], other]) + "\n")
    with pytest.warns(UserWarning) as caught:
        recs = join_codecarbon(from_optuna(url, "cc"), edited)
    (w,) = [w for w in caught if "CodeCarbon join" in str(w.message)]
    msg = str(w.message)
    assert "\n" not in msg
    assert "2 of 3 trials matched (2 by name, 0 by time)" in msg
    assert "1 trial(s) without a row (numbers 1)" in msg
    assert "1 row(s) matched no trial (lines 4)" in msg
    assert "codecarbon_line" not in recs[1].attrs  # keeps its own (tunecost) figures
    assert recs[1].cpu_energy_source == "estimated" and recs[1].attrs["cpu_s"] > 0


def test_no_match_at_all_is_an_error(named, tmp_path: Path) -> None:
    url, csv_path = named
    lines = csv_path.read_text().splitlines()
    other = tmp_path / "other.csv"
    other.write_text(lines[0] + "\n" + lines[1].replace("trial-0", "x").replace(
        lines[1][:4], "1999") + "\n")
    with pytest.raises(ConfigError, match="no CodeCarbon row matched any of the 3 trials"):
        join_codecarbon(from_optuna(url, "cc"), other)


def test_cli_joins_and_prints_warnings_as_one_line(named, tmp_path: Path) -> None:
    url, csv_path = named
    lines = csv_path.read_text().splitlines()
    edited = tmp_path / "two.csv"
    edited.write_text("\n".join(lines[:3]) + "\n")
    out = tmp_path / "calib.json"
    res = CliRunner().invoke(app, [
        "calibrate", "--optuna-storage", url, "--study", "cc", "--codecarbon", str(edited),
        "--folds", "2", "--out", str(out), "--json",
    ])
    assert res.exit_code == 0 and "Traceback" not in res.output, res.output
    warn = [ln for ln in res.output.splitlines() if ln.startswith("warning: CodeCarbon join")]
    assert warn == [
        "warning: CodeCarbon join: 2 of 3 trials matched (2 by name, 0 by time); 1 trial(s) "
        "without a row (numbers 2); unmatched trials keep their own energy figures"
    ], res.output


def test_ray_trials_join_by_trial_id(tmp_path: Path) -> None:
    """With --ray-results the row's name may be the Ray trial id (or trial-<number>)."""
    ray_dir = Path(__file__).parent / "fixtures" / "ray_asha_tiny"
    header = "timestamp,project_name,duration,cpu_energy,cpu_power,ram_energy,ram_power\n"
    path = tmp_path / "emissions.csv"
    path.write_text(header + "2026-11-27T07:28:06,13d22_00001,0.01,1e-6,4.0,0.0,0.0\n"
                    "2026-11-27T07:28:06,trial-0,0.03,2e-6,4.0,0.0,0.0\n")
    recs = load_records(ray_results=ray_dir, metric="loss", codecarbon=path)
    assert [r.attrs["codecarbon_matched_by"] for r in recs] == ["name", "name"]
    assert recs[0].cpu_energy_j == pytest.approx(2e-6 * J_PER_KWH)
    assert recs[1].cpu_energy_j == pytest.approx(1e-6 * J_PER_KWH)
    assert recs[1].dram_energy_j is None  # no RAM figure in the row: none invented
