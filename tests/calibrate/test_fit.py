"""Calibration fitting: closed-form recovery, physical bounds, persistence, real H200 data."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tunecost.calibrate.calibration import Calibration
from tunecost.calibrate.cost_models import (
    FitContext,
    LogLinear,
    LogLinearInteractions,
    OverheadLogLinear,
    PowerModel,
)
from tunecost.calibrate.evaluate import evaluate_on
from tunecost.calibrate.fit import fit_calibration
from tunecost.calibrate.records import CurvePoint, TrialRecord, read_records
from tunecost.calibrate.repeat_noise import seed_noise
from tunecost.calibrate.space_inference import infer_space
from tunecost.catalog import accelerator
from tunecost.exceptions import ConfigError
from tunecost.report_schedule import ReportSchedule

# Real H200 measurements, copied into the fixtures with their run folders (fixtures/README.md).
DATA = Path(__file__).parent / "fixtures"
H200 = accelerator("h200")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


# --- closed-form recovery of each form ------------------------------------------------------


def _synthetic_x(n: int = 60, p: int = 3, seed: int = 11) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, p))


def _noise(n: int, sigma: float = 0.01, seed: int = 12) -> np.ndarray:
    return np.exp(sigma * np.random.default_rng(seed).standard_normal(n))


def test_loglinear_recovers_coefficients() -> None:
    X = _synthetic_x()
    true = np.array([1.2, 0.8, -0.3, 0.05])
    y = np.exp(true[0] + X @ true[1:]) * _noise(len(X))
    np.testing.assert_allclose(LogLinear.fit(X, y).coef, true, atol=0.01)


def test_overhead_loglinear_recovers_overhead_and_coefficients() -> None:
    X = _synthetic_x()
    true = np.array([0.5, 0.7, 0.4, -0.2])
    y = (2.0 + np.exp(true[0] + X @ true[1:])) * _noise(len(X))
    m = OverheadLogLinear.fit(X, y)
    assert m.overhead == pytest.approx(2.0, rel=0.05)
    np.testing.assert_allclose(m.coef, true, atol=0.03)
    # A log-linear fit cannot represent the floor: its residuals are far larger.
    ll = LogLinear.fit(X, y)
    assert np.std(np.log(ll.predict(X) / y)) > 5 * np.std(np.log(m.predict(X) / y))


def test_interactions_recover_pairwise_terms() -> None:
    X = _synthetic_x(n=80)
    true_main = np.array([1.0, 0.6, -0.4, 0.2])
    y = np.exp(true_main[0] + X @ true_main[1:] + 0.5 * X[:, 0] * X[:, 1]) * _noise(80)
    m = LogLinearInteractions.fit(X, y)
    # order: intercept, 3 main effects, (0,1), (0,2), (1,2)
    np.testing.assert_allclose(m.coef[:4], true_main, atol=0.03)
    np.testing.assert_allclose(m.coef[4:], [0.5, 0.0, 0.0], atol=0.03)


def test_power_model_recovers_bounded_power() -> None:
    X = _synthetic_x()
    t = np.exp(1.0 + X @ [0.5, 0.2, 0.0])
    b = np.array([-0.5, 1.0, 0.0, -0.7])
    power_w = H200.idle_w + (H200.tdp_w - H200.idle_w) * _sigmoid(b[0] + X @ b[1:])
    ctx = FitContext(duration_s=t, power_low_w=H200.idle_w, power_high_w=H200.tdp_w)
    m = PowerModel.fit(X, t * power_w * _noise(len(X)), ctx=ctx)
    np.testing.assert_allclose(m.power_coef, b, atol=0.05)
    np.testing.assert_allclose(m.predict_power_w(X), power_w, rtol=0.02)


def _records_from(fn_duration, fn_energy, n: int = 48, seed: int = 5) -> list[TrialRecord]:
    rng = np.random.default_rng(seed)
    width = np.exp(rng.uniform(np.log(16), np.log(1024), n)).round().astype(int)
    steps = rng.choice([100, 200, 400, 800], n)
    opt = rng.choice(["adam", "sgd"], n)
    drop = rng.uniform(0, 0.3, n)
    d = fn_duration(width, steps, opt) * np.exp(0.01 * rng.standard_normal(n))
    e = fn_energy(width, steps, opt, d) * np.exp(0.01 * rng.standard_normal(n))
    return [
        TrialRecord(
            number=i, state="COMPLETE", duration_s=float(d[i]), energy_j=float(e[i]),
            params={"width": int(width[i]), "steps": int(steps[i]), "opt": str(opt[i]),
                    "dropout": float(drop[i])},
            fidelity=float(steps[i]), value=1.0,
        )
        for i in range(n)
    ]


def _dur_overhead(w, s, o):
    return 3.0 + 1e-4 * w**1.5 * s * np.where(o == "sgd", 0.8, 1.0)


def _energy_power(w, s, o, d):
    return d * (H200.idle_w + (H200.tdp_w - H200.idle_w) * _sigmoid(-3 + 0.6 * np.log(w)))


def test_cv_selects_the_generating_form_with_small_error() -> None:
    recs = _records_from(_dur_overhead, _energy_power)
    cal = fit_calibration(recs, accelerator="h200", rng=1)
    assert cal.duration.form == "overhead_loglinear"
    assert cal.duration.cv_mdape_pct["overhead_loglinear"] < 2.0
    assert cal.duration.cv_mdape_pct["loglinear"] > 2 * cal.duration.cv_mdape_pct[
        "overhead_loglinear"]
    assert min(cal.energy.cv_mdape_pct.values()) < 2.5
    assert cal.energy.cv_mdape_pct["power_model"] < 2.5
    assert cal.energy.sigma_log < 0.04
    assert OverheadLogLinear.from_dict(cal.duration.params).overhead == pytest.approx(3.0, rel=0.1)


def test_categorical_params_are_one_hot_and_predicted() -> None:
    recs = _records_from(_dur_overhead, _energy_power)
    cal = fit_calibration(recs, accelerator="h200", rng=1)
    assert any(f.kind == "onehot" and f.category == "sgd" for f in cal.features)
    p = {"width": np.array([256, 256]), "steps": np.array([400, 400]),
         "opt": np.array(["adam", "sgd"]), "dropout": np.array([0.1, 0.1])}
    d = cal.predict_duration_s(p)
    work = d - 3.0
    assert work[1] / work[0] == pytest.approx(0.8, rel=0.05)


# --- physical bounds, persistence, sampling ---------------------------------------------------


def test_power_model_stays_within_idle_and_tdp_even_far_out() -> None:
    recs = read_records(DATA / "h200_run1" / "calib_random.jsonl")
    cal = fit_calibration(recs, accelerator="h200", energy_forms=("power_model",), rng=0)
    assert cal.energy.form == "power_model"
    rng = np.random.default_rng(0)
    n = 2000
    far = {
        "d_model": rng.integers(16, 16384, n), "n_layers": rng.integers(1, 96, n),
        "batch_size": rng.integers(1, 4096, n), "lr": np.exp(rng.uniform(-12, 0, n)),
        "dropout": rng.uniform(0.001, 0.5, n), "steps": rng.integers(10, 100_000, n),
    }
    power_w = cal.predict_power_w(far)
    assert power_w.min() >= H200.idle_w and power_w.max() <= H200.tdp_w
    assert np.ptp(power_w) > 100  # it does extrapolate, just not past the bounds
    energy_j = cal.predict_energy_j(far)
    np.testing.assert_allclose(energy_j, cal.predict_duration_s(far) * power_w, rtol=1e-9)


def _small_calibration() -> Calibration:
    return fit_calibration(_records_from(_dur_overhead, _energy_power), accelerator="h200", rng=3)


def test_save_load_and_json_round_trip_give_identical_predictions(tmp_path: Path) -> None:
    cal = _small_calibration()
    path = tmp_path / "sub" / "cal.json"
    cal.save(path)
    loaded = Calibration.load(path)
    assert loaded == cal
    assert [p.name for p in path.parent.iterdir()] == ["cal.json"]  # no temp file left
    again = Calibration.model_validate_json(cal.model_dump_json())
    params = cal.sample_params((4, 25), rng=9)
    for other in (loaded, again):
        np.testing.assert_array_equal(other.predict_duration_s(params),
                                      cal.predict_duration_s(params))
        np.testing.assert_array_equal(other.predict_energy_j(params), cal.predict_energy_j(params))
        np.testing.assert_array_equal(other.sample_duration_s(params, rng=4),
                                      cal.sample_duration_s(params, rng=4))


def test_same_seed_identical_json_and_other_seed_other_folds() -> None:
    recs = _records_from(_dur_overhead, _energy_power)
    a = fit_calibration(recs, accelerator="h200", rng=7).model_dump_json()
    b = fit_calibration(recs, accelerator="h200", rng=7).model_dump_json()
    c = fit_calibration(recs, accelerator="h200", rng=8).model_dump_json()
    assert a == b
    assert a != c  # the seed does drive the fold shuffle


def test_sampled_params_lie_in_space_ints_are_ints_and_shapes_vectorise() -> None:
    cal = _small_calibration()
    params = cal.sample_params((3, 500), rng=0)
    for name, dim in cal.space.items():
        x = params[name]
        assert x.shape == (3, 500)
        if dim.type == "categorical":
            assert set(x.ravel().tolist()) <= set(dim.choices)
            continue
        assert x.min() >= dim.low and x.max() <= dim.high
        if dim.type == "int":
            assert np.issubdtype(x.dtype, np.integer)
    assert cal.space["width"].log and not cal.space["dropout"].log
    assert cal.space["steps"].log  # 100..800 in powers of two looks log-uniform
    # log-uniform width: about half the draws below the geometric midpoint
    mid = math.sqrt(cal.space["width"].low * cal.space["width"].high)
    assert 0.4 < np.mean(params["width"] < mid) < 0.6
    d, e = cal.sample_costs(params, rng=1)
    assert d.shape == e.shape == (3, 500) and np.all(d > 0) and np.all(e > 0)
    # noise around the median prediction has the calibrated log spread
    ratio = np.log(cal.sample_duration_s(params, rng=2) / cal.predict_duration_s(params))
    assert np.std(ratio) == pytest.approx(cal.duration.sigma_log, rel=0.1)


def test_user_space_overrides_inferred() -> None:
    recs = _records_from(_dur_overhead, _energy_power)
    cal = fit_calibration(recs, rng=0, space={"dropout": {"type": "float", "low": 0.0,
                                                          "high": 0.5}})
    assert cal.space["dropout"].high == 0.5 and cal.space["width"].type == "int"
    x = cal.sample_params(1000, rng=0)["dropout"]
    assert x.max() > 0.3


def test_infer_space_steps_and_scales() -> None:
    recs = [TrialRecord(number=i, state="COMPLETE", duration_s=1.0,
                        params={"d": d, "lr": lr, "flag": i % 2 == 0})
            for i, (d, lr) in enumerate(zip([128, 256, 384, 512] * 3,
                                            np.geomspace(1e-4, 1e-1, 12).tolist(), strict=True))]
    space = infer_space(recs)
    assert space["d"].type == "int" and space["d"].step == 128 and not space["d"].log
    assert space["lr"].log and space["lr"].type == "float"
    assert space["flag"].type == "categorical" and set(space["flag"].choices) == {True, False}


def test_pruned_trials_are_fitted_at_their_fidelity() -> None:
    recs = _records_from(_dur_overhead, _energy_power)
    pruned = []
    for i, r in enumerate(recs[:10]):
        f = r.params["steps"] / 4
        d = float(_dur_overhead(np.array(r.params["width"]), f, np.array(r.params["opt"])))
        pruned.append(r.model_copy(update={"state": "PRUNED", "fidelity": f, "duration_s": d,
                                           "number": 100 + i}))
    cal = fit_calibration([*recs, *pruned], accelerator="h200", rng=3)
    assert cal.resource_param == "steps" and cal.n_records == len(recs) + 10
    assert cal.duration.cv_mdape_pct[cal.duration.form] < 3.0
    # Fitted as full-length trials instead, the pruned ones would be 4x off.
    full = [r.model_copy(update={"state": "COMPLETE"}) for r in pruned]
    worse = fit_calibration([*recs, *full], accelerator="h200", rng=3)
    assert worse.duration.cv_mape_pct[worse.duration.form] > 3 * cal.duration.cv_mape_pct[
        cal.duration.form]


def test_config_errors_state_rule_and_value() -> None:
    recs = _records_from(_dur_overhead, _energy_power, n=6)
    with pytest.raises(ConfigError, match="n_folds"):
        fit_calibration(recs, n_folds=7)
    cal = _small_calibration()
    bad = {"width": np.array([0]), "steps": np.array([100]), "opt": np.array(["adam"]),
           "dropout": np.array([0.1])}
    with pytest.raises(ConfigError, match="'width'.*> 0"):
        cal.predict_duration_s(bad)
    with pytest.raises(ConfigError, match="must include"):
        cal.predict_duration_s({"width": np.array([1])})


# --- learning curves and seed noise -----------------------------------------------------------


def test_learning_curve_summary_fits() -> None:
    recs = []
    rng = np.random.default_rng(2)
    for i in range(20):
        final = 2.0 + rng.uniform(0.1, 1.0)
        steps = np.arange(1, 9) * 50
        v = 2.0 + (final - 2.0) * (1 + 3 * np.exp(-steps / 100.0)) / (1 + 3 * math.exp(-4))
        recs.append(TrialRecord(number=i, state="COMPLETE", params={"steps": 400,
                    "w": int(rng.integers(1, 100))}, duration_s=1.0 + i, value=float(v[-1]),
                    curve=[CurvePoint(step=float(s), value=float(x), t_s=0.1 * k)
                           for k, (s, x) in enumerate(zip(steps, v, strict=True))]))
    lc = fit_calibration(recs, n_folds=4, rng=0).learning_curve
    assert lc is not None
    assert lc.f_grid[-1] == 1.0 and len(lc.f_grid) == 8
    assert lc.mean_log_ratio[-1] == pytest.approx(0.0) and lc.mean_log_ratio[0] > 0.5
    assert all(-1 <= r <= 1 for r in lc.spearman if r is not None)
    assert lc.spearman[0] == pytest.approx(1.0)  # shapes identical: early ranks are final ranks


def test_seed_noise_from_repeated_configs() -> None:
    base = {"w": 3, "lr": 0.1}
    recs = [TrialRecord(number=i, state="COMPLETE", params=base, duration_s=d, energy_j=10 * d,
                        value=v) for i, (d, v) in enumerate([(1.0, 2.0), (1.2, 2.2), (1.1, 2.1)])]
    recs.append(TrialRecord(number=9, state="COMPLETE", params={"w": 4, "lr": 0.1},
                            duration_s=5.0))
    sn = seed_noise(recs)
    assert sn is not None and len(sn.configs) == 1 and sn.configs[0].n == 3
    assert sn.duration_cv == pytest.approx(0.1 / 1.1)
    assert sn.value_std == pytest.approx(0.1)
    assert seed_noise(recs[2:]) is None


# --- the real H200 measurements ---------------------------------------------------------------


@pytest.mark.parametrize("path", ["h200_run1/calib_random.jsonl", "h200_run2/scale_random.jsonl"])
def test_real_data_cv_error_meets_acceptance_bar(path: str) -> None:
    cal = fit_calibration(read_records(DATA / path), accelerator="h200", n_folds=5, rng=0)
    for target in (cal.duration, cal.energy):
        chosen = target.cv_mdape_pct[target.form]
        assert chosen <= 10.0, (path, target.form, target.cv_mdape_pct)
        assert chosen <= target.cv_mdape_pct["loglinear"]
        assert 0 < target.sigma_log < 0.3
    lc = cal.learning_curve
    assert lc is not None and lc.spearman[0] is not None and lc.spearman[0] > 0.5
    assert cal.space["lr"].log and not cal.space["dropout"].log


def test_real_repeats_evaluated_with_calib_random() -> None:
    cal = fit_calibration(read_records(DATA / "h200_run1" / "calib_random.jsonl"),
                          accelerator="h200", rng=0)
    repeats = read_records(DATA / "h200_run1" / "repeats.jsonl")
    out = evaluate_on(cal, repeats)
    rows = out["rows"]
    assert [row["number"] for row in rows] == [r.number for r in repeats]
    # Each row holds the calibration's median prediction for its configuration and the signed
    # % gap to what was measured; the summary is the median / mean of the absolute gaps.
    params = {k: np.array([r.params[k] for r in repeats]) for k in repeats[0].params}
    np.testing.assert_allclose([row["duration_pred_s"] for row in rows],
                               cal.predict_duration_s(params), rtol=1e-12)
    np.testing.assert_allclose([row["energy_pred_j"] for row in rows],
                               cal.predict_energy_j(params), rtol=1e-12)
    for row, r in zip(rows, repeats, strict=True):
        assert (row["duration_s"], row["energy_j"]) == (r.duration_s, r.energy_j)
        assert row["duration_err_pct"] == pytest.approx(
            100 * (row["duration_pred_s"] / row["duration_s"] - 1))
        assert row["energy_err_pct"] == pytest.approx(
            100 * (row["energy_pred_j"] / row["energy_j"] - 1))
        assert row["power_pred_w"] == pytest.approx(row["energy_pred_j"] / row["duration_pred_s"])
    for key in ("duration", "energy"):
        errs = np.array([row[f"{key}_err_pct"] for row in rows])
        assert out[f"{key}_mdape_pct"] == pytest.approx(np.median(np.abs(errs)))
        assert out[f"{key}_mape_pct"] == pytest.approx(np.mean(np.abs(errs)))
        assert out[f"{key}_median_signed_pct"] == pytest.approx(np.median(errs))
    # The study's trials carry ~1.4 s of start-up the back-to-back repeats do not (see
    # studies/h200_transformer_lm/README.md): every repeat is over-predicted.
    assert all(row["duration_err_pct"] > 0 for row in rows)
    sn = seed_noise(repeats)
    assert sn is not None and [c.n for c in sn.configs] == [6, 6]


# --- pruned studies, zero readings, bad records, direction ------------------------------------


def _pruned_sgd_study(tmp_path: Path, n_trials: int = 30) -> str:
    """Optuna's pruning example, small: SGDClassifier.partial_fit on digits, MedianPruner,
    plain Optuna (no measuring wrapper), on SQLite."""
    optuna = pytest.importorskip("optuna")
    from sklearn.datasets import load_digits
    from sklearn.linear_model import SGDClassifier
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_tr, X_va, y_tr, y_va = train_test_split(X, y, random_state=0)
    classes = np.unique(y)

    def objective(trial: optuna.Trial) -> float:
        clf = SGDClassifier(alpha=trial.suggest_float("alpha", 1e-5, 1e-1, log=True),
                            random_state=0)
        for step in range(12):
            clf.partial_fit(X_tr, y_tr, classes=classes)
            acc = float(clf.score(X_va, y_va))
            trial.report(acc, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return acc

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{tmp_path / 'pruned.db'}"
    study = optuna.create_study(storage=storage, study_name="sgd", direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=0),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=5))
    study.optimize(objective, n_trials=n_trials)
    return storage


def test_real_pruned_study_calibrates_on_every_trial(tmp_path: Path) -> None:
    from tunecost.calibrate.features import REACHED_PARAM
    from tunecost.calibrate.importers import from_optuna

    recs = from_optuna(_pruned_sgd_study(tmp_path), "sgd")
    n_pruned = sum(r.state == "PRUNED" for r in recs)
    assert n_pruned >= 10  # the pruner did prune
    cal = fit_calibration(recs, n_folds=5)
    assert cal.n_records == len(recs) and cal.n_pruned == n_pruned and not cal.notes
    assert REACHED_PARAM in {f.param for f in cal.features}
    # The objective reports epochs 1..12 as Optuna's ``range(12)`` loop does, 0..11: the
    # schedule counts the work and maps it back, so a replay reports the same numbers.
    assert cal.report_schedule == ReportSchedule(every=1, resource=12, offset=1)
    from tunecost.simulate.events.surrogate import Surrogate

    d = Surrogate(cal.report_schedule, calibration=cal, duration=None).draw(
        cal.sample_params(3, rng=1), 3, rng=2)
    assert [cal.report_schedule.reported(s).tolist() for s in d.steps] == [
        [float(k) for k in range(12)]] * 3
    assert all(np.all(np.diff(t) > 0) and t[0] > 0 for t in d.times_s)
    # Full runs are predicted from all trials: the complete ones' median wall time.
    full_s = np.median([r.duration_s for r in recs if r.state == "COMPLETE"])
    pred_s = np.median(cal.predict_duration_s(cal.sample_params(500, rng=0)))
    assert pred_s == pytest.approx(full_s, rel=0.3)
    # Pruned trials at step k of 0..11 ran (k + 1) / 12 of the work: the model says what
    # they measured (medians: wall times on a shared CPU are noisy).
    pruned = [r for r in recs if r.state == "PRUNED"]
    share = np.array([(float(r.fidelity or 0) + 1) / 12 for r in pruned])
    part = cal.predict_duration_s({"alpha": np.array([r.params["alpha"] for r in pruned]),
                                   REACHED_PARAM: share})
    measured = np.array([r.duration_s for r in pruned])
    assert np.median(part / measured) == pytest.approx(1.0, rel=0.35)
    early = share <= 0.25
    if early.any():
        assert np.median(part[early]) < 0.6 * pred_s
    # Taken as full runs, the pruned trials would drag the prediction far down.
    as_full = [r.model_copy(update={"state": "COMPLETE"}) for r in recs]
    wrong = np.median(fit_calibration(as_full, n_folds=5).predict_duration_s(
        cal.sample_params(500, rng=0)))
    assert wrong < 0.7 * pred_s


def test_a_zero_joule_reading_keeps_the_energy_model() -> None:
    recs = _records_from(_dur_overhead, _energy_power, n=20)
    host = [r.model_copy(update={"energy_j": None, "cpu_energy_j": r.energy_j,
                                 "cpu_energy_source": "estimated"}) for r in recs]
    host[3] = host[3].model_copy(update={"cpu_energy_j": 0.0})
    with pytest.warns(UserWarning, match="1 of 20 trials read 0 J"):
        cal = fit_calibration(host, n_folds=4)
    assert cal.energy is not None and cal.energy_scope == "host" and cal.energy_estimated
    assert "1 of 20 trials read 0 J" in cal.notes[0]
    # Mostly zeros: no energy model, and a warning with the count.
    zeros = [r.model_copy(update={"cpu_energy_j": 0.0 if i % 3 else r.cpu_energy_j})
             for i, r in enumerate(host)]
    with pytest.warns(UserWarning, match="no energy model: 14 of 20 trials read 0 J"):
        dur_only = fit_calibration(zeros, n_folds=4)
    assert dur_only.energy is None and dur_only.power_high_w is None


def test_duration_only_calibration_is_written_and_loads(tmp_path: Path) -> None:
    recs = [r.model_copy(update={"energy_j": None})
            for r in _records_from(_dur_overhead, _energy_power, n=12)]
    cal = fit_calibration(recs, n_folds=3)
    assert cal.energy is None
    path = tmp_path / "duration_only.json"
    cal.save(path)
    assert '"power_high_w": null' in path.read_text().replace("\n", " ").replace("  ", " ")
    assert Calibration.load(path).model_dump() == cal.model_dump()


@pytest.mark.parametrize(
    ("records", "match"),
    [
        ([], "records must hold at least one trial"),
        ([{"params": {"lr": 0.1}}, {"params": {"lr": "high"}}],
         r"params\['lr'\] must have one type .* trial 0 has 0.1 and trial 1 has 'high'"),
        ([{"params": {"b": True}}, {"params": {"b": 3}}], r"params\['b'\] must have one type"),
    ],
)
def test_records_that_break_rules_get_one_line(records: list, match: str) -> None:
    recs = [TrialRecord(number=i, state="COMPLETE", duration_s=1.0 + i, **r)
            for i, r in enumerate(records)]
    with pytest.raises(ConfigError, match=match) as err:
        fit_calibration(recs)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "fields",
    [{"params": {"lr": float("nan")}}, {"params": {"lr": float("inf")}},
     {"duration_s": -1.0}, {"duration_s": float("nan")}, {"energy_j": -5.0},
     {"energy_j": float("inf")}],
)
def test_non_finite_or_negative_records_are_refused(fields: dict) -> None:
    base = {"number": 0, "state": "COMPLETE", "duration_s": 1.0, "params": {"lr": 0.1}}
    with pytest.raises(ValueError, match="finite|greater than or equal") as err:
        TrialRecord(**{**base, **fields})
    assert len(err.value.errors()) == 1  # type: ignore[attr-defined]


def test_direction_defaults_to_the_records_and_takes_any_spelling() -> None:
    recs = _records_from(_dur_overhead, _energy_power, n=8)
    up = [r.model_copy(update={"attrs": {"direction": "maximize"}}) for r in recs]
    assert fit_calibration(up, n_folds=3).direction == "maximize"
    assert fit_calibration(up, n_folds=3, direction="min").direction == "minimize"
    assert fit_calibration(recs, n_folds=3).direction == "minimize"
    ray = [r.model_copy(update={"attrs": {"mode": "max"}}) for r in recs]
    assert fit_calibration(ray, n_folds=3).direction == "maximize"
    with pytest.raises(ConfigError, match="direction must be one of"):
        fit_calibration(recs, n_folds=3, direction="up")


@pytest.mark.parametrize(
    ("line", "match"),
    [('{"number": 0, "state": "COMPLETE", "duration_s": 1, "params": {"a": NaN}}',
      r"params\['a'\] must be a finite number, but got nan"),
     ('{"number": 0, "state": "COMPLETE", "duration_s": -1}',
      "duration_s: .*greater than or equal to 0"),
     ("5", "not a trial record"), ('"x"', "not a trial record")],
)
def test_bad_record_lines_are_one_line(tmp_path: Path, line: str, match: str) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(ConfigError, match=match) as err:
        read_records(path)
    assert str(err.value).startswith(f"{path}:1: ") and "\n" not in str(err.value)


def test_sampled_costs_draw_the_measured_residuals() -> None:
    """A residual bootstrap: re-running the measured configurations costs, on average, what
    they measured, even with one slow outlier (a lognormal of the same spread, mean
    ``median * exp(sigma^2 / 2)``, misses it: here by about -27 %)."""
    rng = np.random.default_rng(4)
    recs = []
    for i in range(20):
        w = float(rng.uniform(1, 10))
        slow = 20.0 if i == 3 else 1.0  # one trial hit a cold cache
        recs.append(TrialRecord(number=i, state="COMPLETE", params={"w": w},
                                duration_s=2.0 * w * slow * float(np.exp(0.05 * rng.normal())),
                                energy_j=100.0 * w * slow))
    cal = fit_calibration(recs, n_folds=5, rng=0)
    assert len(cal.duration.residuals_log) == 20 and cal.duration.sigma_log > 0.5
    params = {"w": np.tile([r.params["w"] for r in recs], 2000)}
    d, e = cal.sample_costs(params, rng=1)
    measured = np.mean([r.duration_s for r in recs])
    assert d.mean() == pytest.approx(measured, rel=0.15)
    lognormal = np.mean(cal.predict_duration_s(params)) * np.exp(cal.duration.sigma_log ** 2 / 2)
    assert abs(lognormal / measured - 1) > 0.2
    # The same trial's residuals for both: a slow draw is an energy-hungry draw.
    assert np.corrcoef(np.log(d), np.log(e))[0, 1] > 0.9
    # Files without residuals keep the lognormal draw.
    old = cal.model_copy(update={"duration": cal.duration.model_copy(
        update={"residuals_log": []})})
    assert old.sample_duration_s(params, rng=1).mean() == pytest.approx(lognormal, rel=0.05)
