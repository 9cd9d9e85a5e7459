"""Conditional search spaces: Optuna's ``classifier`` → ``svc_c`` / ``rf_max_depth`` shape."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from tunecost.calibrate.calibration import Calibration
from tunecost.calibrate.fit import fit_calibration
from tunecost.calibrate.records import TrialRecord
from tunecost.calibrate.space import ParamCondition, ParamSpace, active_masks, sample_space
from tunecost.calibrate.space_inference import infer_space
from tunecost.exceptions import ConfigError


def _branch_records(n: int = 40, seed: int = 0) -> list[TrialRecord]:
    """SVC trials cost 1 s + 0.1 s per decade of C; RandomForest ones 0.2 s + 0.05 s per
    level of depth (with 2 % noise); 30 W throughout."""
    rng = np.random.default_rng(seed)
    recs = []
    for i in range(n):
        if i % 2:
            c = float(np.exp(rng.uniform(np.log(1e-3), np.log(1e3))))
            params: dict = {"classifier": "SVC", "svc_c": c}
            d = 1.2 + 0.1 * np.log10(c)
        else:
            depth = int(rng.integers(2, 33))
            params = {"classifier": "RandomForest", "rf_max_depth": depth}
            d = 0.2 + 0.05 * depth
        d *= float(np.exp(0.02 * rng.standard_normal()))
        recs.append(TrialRecord(number=i, state="COMPLETE", params=params, duration_s=d,
                                energy_j=30 * d, value=0.9))
    return recs


def test_conditions_are_inferred_and_stored() -> None:
    space = infer_space(_branch_records())
    assert space["classifier"].condition is None
    assert space["svc_c"].condition == ParamCondition(parent="classifier", values=["SVC"])
    assert space["rf_max_depth"].condition == ParamCondition(parent="classifier",
                                                             values=["RandomForest"])
    assert space["svc_c"].log and space["svc_c"].low > 1e-3 * 0.99


def test_nested_condition_follows_its_chain() -> None:
    recs = []
    for i in range(12):
        kernel = ["rbf", "poly"][i % 2]
        if i % 3 == 0:
            p: dict = {"clf": "RF", "depth": i + 2}
        else:
            p = {"clf": "SVC", "kernel": kernel, **({"degree": i % 4 + 2}
                                                   if kernel == "poly" else {})}
        recs.append(TrialRecord(number=i, state="COMPLETE", params=p, duration_s=1.0 + i))
    space = infer_space(recs)
    assert space["kernel"].condition == ParamCondition(parent="clf", values=["SVC"])
    assert space["degree"].condition == ParamCondition(parent="kernel", values=["poly"])
    draws = sample_space(space, (400,), np.random.default_rng(0))
    svc = draws["clf"] == "SVC"
    poly = np.array([k == "poly" for k in draws["kernel"]])
    assert np.all(np.isnan(draws["degree"][~poly])) and not np.any(np.isnan(draws["degree"][poly]))
    assert all(k is None for k in draws["kernel"][~svc])
    assert np.all(np.isnan(draws["depth"][svc])) and poly.sum() > 50


def test_each_branch_is_fitted_and_inactive_values_do_not_count() -> None:
    cal = fit_calibration(_branch_records(), n_folds=4)
    assert cal.duration.cv_mdape_pct[cal.duration.form] < 5.0
    # The branch indicator is the parent's one-hot: no redundant "active" column.
    assert [f.kind for f in cal.features if f.kind == "active"] == []
    both = {"classifier": np.array(["SVC", "RandomForest"]), "svc_c": np.array([1.0, 1e3]),
            "rf_max_depth": np.array([10, 10])}
    pred = cal.predict_duration_s(both)
    np.testing.assert_allclose(pred, [1.2, 0.7], rtol=0.05)
    # A sampler that draws every dimension: the inactive one (svc_c for a forest) is ignored.
    other = {**both, "svc_c": np.array([1.0, 1e-3])}
    np.testing.assert_allclose(cal.predict_duration_s(other), pred)
    # A missing conditional parameter is inactive, as Optuna's trial.params leaves it out.
    forest = {"classifier": np.array(["RandomForest"]), "rf_max_depth": np.array([10])}
    assert cal.predict_duration_s(forest)[0] == pytest.approx(pred[1])


def test_calibrated_draw_samples_children_only_under_their_parent() -> None:
    cal = fit_calibration(_branch_records(), n_folds=4)
    p = cal.sample_params((50, 20), rng=3)
    svc = p["classifier"] == "SVC"
    assert np.isnan(p["svc_c"][~svc]).all() and np.isfinite(p["svc_c"][svc]).all()
    assert np.isnan(p["rf_max_depth"][svc]).all()
    depth = p["rf_max_depth"][~svc]
    assert np.all(depth == np.round(depth)) and depth.min() >= 2
    d, e = cal.sample_costs(p, rng=4)
    assert d.shape == (50, 20) and np.all(np.isfinite(d)) and np.all(d > 0)
    assert e is not None and np.all(e > 0)
    # Each branch costs what its own trials measured: SVC 1.2 s at the median C (1), a
    # forest 0.2 s + 0.05 s per level at the median depth (17).
    assert np.median(d[svc]) == pytest.approx(1.2, rel=0.1)
    assert np.median(d[~svc]) == pytest.approx(0.2 + 0.05 * np.median(depth), rel=0.1)


def test_conditional_calibration_round_trips_and_old_files_load(tmp_path: Path) -> None:
    cal = fit_calibration(_branch_records(), n_folds=4)
    path = tmp_path / "c.json"
    cal.save(path)
    back = Calibration.load(path)
    assert back.model_dump() == cal.model_dump()
    assert back.space["svc_c"].condition == ParamCondition(parent="classifier", values=["SVC"])
    # A file written before conditions existed: no "condition", no new fields.
    raw = json.loads(path.read_text())
    for dim in raw["space"].values():
        dim.pop("condition")
    for key in ("n_pruned", "direction", "notes"):
        raw.pop(key)
    for f in raw["features"]:
        f.pop("optional")
    old = tmp_path / "old.json"
    old.write_text(json.dumps(raw))
    loaded = Calibration.load(old)
    assert all(d.condition is None for d in loaded.space.values())


def test_conditions_refuse_cycles() -> None:
    space = {"a": ParamSpace(type="categorical", choices=["x", "y"],
                             condition=ParamCondition(parent="b", values=["x"])),
             "b": ParamSpace(type="categorical", choices=["x", "y"],
                             condition=ParamCondition(parent="a", values=["x"]))}
    with pytest.raises(ConfigError, match="cycle"):
        active_masks(space, {"a": np.array(["x"]), "b": np.array(["x"])})


def test_optuna_is_asked_only_the_active_params() -> None:
    optuna = pytest.importorskip("optuna")
    from tunecost.report_schedule import ReportSchedule
    from tunecost.simulate.events.optuna_replay import distributions
    from tunecost.simulate.events.surrogate import Surrogate

    cal = fit_calibration(_branch_records(), n_folds=4)
    surrogate = Surrogate(ReportSchedule(every=1, resource=3), calibration=cal, duration=None)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    dists = distributions(dict(surrogate.space))
    for _ in range(20):
        trial = surrogate.ask(study, dists)
        keys = set(trial.params)
        branch = "svc_c" if trial.params["classifier"] == "SVC" else "rf_max_depth"
        assert keys == {"classifier", branch}
        params = {k: np.asarray([v]) for k, v in trial.params.items()}
        d = surrogate.draw(params, 1, rng=np.random.default_rng(0))
        # Costed as the branch the trial took (the law _branch_records measured) ...
        pred_s = float(cal.predict_duration_s(params)[0])
        law_s = (1.2 + 0.1 * math.log10(trial.params["svc_c"]) if branch == "svc_c"
                 else 0.2 + 0.05 * trial.params["rf_max_depth"])
        assert pred_s == pytest.approx(law_s, rel=0.05)
        # ... times one measured out-of-fold residual factor.
        log_factor = math.log(d.duration_s[0] / pred_s)
        assert np.min(np.abs(np.asarray(cal.duration.residuals_log) - log_factor)) < 1e-9
        study.tell(trial, 0.5)


def test_real_optuna_conditional_sklearn_study(tmp_path: Path) -> None:
    """Optuna's canonical sklearn example, small: imported without the wrapper, fitted."""
    optuna = pytest.importorskip("optuna")
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import cross_val_score
    from sklearn.svm import SVC

    from tunecost.calibrate.importers import from_optuna

    X, y = load_digits(return_X_y=True)
    X, y = X[:400], y[:400]

    def objective(trial: optuna.Trial) -> float:
        name = trial.suggest_categorical("classifier", ["SVC", "RandomForest"])
        if name == "SVC":
            clf = SVC(C=trial.suggest_float("svc_c", 1e-3, 1e3, log=True), gamma="auto")
        else:
            clf = RandomForestClassifier(
                max_depth=trial.suggest_int("rf_max_depth", 2, 32, log=True), n_estimators=5,
                random_state=0)
        return float(cross_val_score(clf, X, y, cv=2).mean())

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{tmp_path / 'c.db'}"
    study = optuna.create_study(storage=storage, study_name="sk", direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=1))
    study.optimize(objective, n_trials=16)
    recs = from_optuna(storage, "sk")
    cal = fit_calibration(recs, n_folds=4)
    assert cal.energy is None and cal.n_records == 16
    assert cal.space["svc_c"].condition == ParamCondition(parent="classifier", values=["SVC"])
    path = tmp_path / "cal.json"
    cal.save(path)
    assert Calibration.load(path).model_dump() == cal.model_dump()
    d = cal.predict_duration_s(cal.sample_params(200, rng=0))
    assert np.all(np.isfinite(d)) and np.all(d > 0)


@pytest.mark.parametrize("energy", [True, False])
def test_conditional_calibration_replays_an_optuna_study(tmp_path: Path, energy: bool) -> None:
    """TPE and a median pruner on the simulated clock over a conditional calibration, with
    measured energy and duration-only (power then from the catalog)."""
    pytest.importorskip("optuna")
    from tunecost.config import CampaignConfig
    from tunecost.simulate import simulate

    recs = [r if energy else r.model_copy(update={"energy_j": None})
            for r in _branch_records()]
    path = tmp_path / "cal.json"
    fit_calibration(recs, n_folds=4, accelerator="h200" if energy else None).save(path)
    cfg = CampaignConfig.model_validate({
        "name": "c", "workers": 2, "pue": 1.0, "carbon": {"g_co2e_per_kwh": 300},
        "studies": [{"name": "s", "hardware": {"accelerator": "h200"},
                     "calibration": {"path": str(path)},
                     "strategy": {"kind": "optuna", "n_trials": 12, "n_evaluations": 3,
                                  "report": None,
                                  "sampler": {"name": "TPESampler", "kwargs": {}},
                                  "pruner": {"name": "NopPruner", "kwargs": {}}}}]})
    r = simulate(cfg, engine="replay", replicates=2, seed=0)
    assert (r.metrics["n_trials"] == 12).all()
    kwh, gpu_h = r.metrics["energy_kwh"], r.metrics["gpu_hours"]
    assert np.all(np.isfinite(kwh)) and np.all(kwh > 0)
    if not energy:  # the H200's TDP, 700 W
        np.testing.assert_allclose(kwh / gpu_h, 0.7, rtol=0.1)
