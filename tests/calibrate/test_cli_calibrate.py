"""``tunecost calibrate`` as a user runs it, on the H200 measurements in studies/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tunecost.calibrate import Calibration
from tunecost.cli import app

DATA = Path(__file__).resolve().parents[2] / "studies" / "h200_transformer_lm" / "data"
runner = CliRunner()


@pytest.mark.parametrize("name", ["calib_random.jsonl", "scale_random.jsonl"])
def test_cross_validated_error_is_within_ten_percent(name: str, tmp_path: Path) -> None:
    out = tmp_path / "calib.json"
    res = runner.invoke(app, ["calibrate", "--records", str(DATA / name), "--accelerator",
                              "h200", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    cal = Calibration.load(out)
    assert cal.duration.cv_mdape_pct[cal.duration.form] <= 10.0
    assert cal.energy is not None and cal.energy.cv_mdape_pct[cal.energy.form] <= 10.0
    # The chosen form is never worse than the plain log-linear baseline.
    assert cal.duration.cv_mdape_pct[cal.duration.form] <= cal.duration.cv_mdape_pct["loglinear"]
    assert json.loads(res.output)["n_records"] == cal.n_records


def test_evaluate_and_repeats(tmp_path: Path) -> None:
    res = runner.invoke(app, [
        "calibrate", "--records", str(DATA / "calib_random.jsonl"), "--accelerator", "h200",
        "--out", str(tmp_path / "c.json"), "--repeats", str(DATA / "repeats.jsonl"),
        "--evaluate", str(DATA / "repeats.jsonl"), "--json",
    ])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert len(data["evaluation"]["rows"]) == 12
    assert data["seed_noise"]["configs"][0]["n"] == 6
    # Study trials carry ~1.5 s of start-up the back-to-back repeats do not: over-predicted.
    assert data["evaluation"]["duration_median_signed_pct"] > 0


def test_table_output(tmp_path: Path) -> None:
    res = runner.invoke(app, ["calibrate", "--records", str(DATA / "calib_random.jsonl"),
                              "--out", str(tmp_path / "c.json")], terminal_width=200)
    assert res.exit_code == 0, res.output
    assert "overhead" in res.output and "median abs" in res.output and "host" not in res.output


def test_curve_model_decision_agreement_is_printed_beside_the_cost_errors(tmp_path: Path):
    """The learning-curve model's leave-one-out decision agreement is shown next to the cost
    models' errors, with the linear trend and a random ranking for comparison."""
    out = tmp_path / "c.json"
    res = runner.invoke(app, ["calibrate", "--records", str(DATA / "calib_random.jsonl"),
                              "--out", str(out)], terminal_width=200)
    assert res.exit_code == 0, res.output
    cv = Calibration.load(out).curve_model.cv
    table = res.output[res.output.index("Learning-curve model"):]
    assert "median rule" in table and "keep best third" in table and "random" in table
    assert f"{100 * cv.median_rule_agreement:.0f} %" in table
    assert f"{100 * cv.baseline_median_rule_agreement:.0f} %" in table
    flat = " ".join(res.output.split())
    assert "trials report 8 evenly spaced" in flat and "set-up before the first step" in flat


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ([], "give exactly one of"),
        (["--records", "nope.jsonl"], "nope.jsonl"),
        (["--ray-results", "x", "--records", "y"], "give exactly one of"),
    ],
)
def test_bad_sources_are_one_line(args: list[str], needle: str, tmp_path: Path) -> None:
    res = runner.invoke(app, ["calibrate", "--out", str(tmp_path / "c.json"), *args])
    assert res.exit_code == 2
    assert needle in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1


@pytest.fixture
def plain_study(tmp_path: Path) -> str:
    """A maximising Optuna study run without the wrapper: durations only, no energy."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = f"sqlite:///{tmp_path / 'plain.db'}"
    study = optuna.create_study(study_name="plain", storage=url, direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=0))

    def objective(trial: optuna.Trial) -> float:
        n = trial.suggest_int("n", 20_000, 200_000, log=True)
        return float(sum(range(n)) % 7)

    study.optimize(objective, n_trials=12)
    return url


def test_direction_comes_from_the_study(plain_study: str, tmp_path: Path) -> None:
    """No --mode: the study's own direction; a duration-only result says energy is estimated
    later."""
    out = tmp_path / "c.json"
    res = runner.invoke(app, ["calibrate", "--optuna-storage", plain_study, "--folds", "3",
                              "--out", str(out)], terminal_width=200)
    assert res.exit_code == 0, res.output
    flat = " ".join(res.output.split())
    assert "no energy model" in flat and "estimate energy" in flat
    assert "warning: mode" not in res.output


@pytest.mark.parametrize("flag", ["--mode", "--direction"])
@pytest.mark.parametrize(("value", "warns"), [("maximize", False), ("max", False),
                                              ("MIN", True), ("minimize", True)])
def test_every_spelling_of_the_direction(plain_study: str, tmp_path: Path, flag: str,
                                         value: str, warns: bool) -> None:
    res = runner.invoke(app, ["calibrate", "--optuna-storage", plain_study, "--folds", "3",
                              "--out", str(tmp_path / "c.json"), flag, value, "--json"])
    assert res.exit_code == 0, res.output
    lines = [ln for ln in res.output.splitlines() if ln.startswith("warning: direction")]
    if warns:
        assert lines == [f"warning: direction {value!r} (minimize) overrides the direction the "
                         "study recorded (maximize)"]
    else:
        assert lines == []


def test_an_unknown_direction_is_one_line(plain_study: str, tmp_path: Path) -> None:
    res = runner.invoke(app, ["calibrate", "--optuna-storage", plain_study,
                              "--out", str(tmp_path / "c.json"), "--mode", "up"])
    assert res.exit_code == 2
    assert res.output.strip() == (
        "error: mode must be one of minimize, maximize, min, max; got 'up'")
