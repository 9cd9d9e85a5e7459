"""The opt-in TPE accelerator: SciPy's ``log_ndtr`` for Optuna's pure-Python one, only for
the replay's asks, with the same proposals to float precision and the same totals."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.samplers._tpe import _truncnorm
from scipy import special

from tunecost.config import CampaignConfig
from tunecost.simulate import simulate
from tunecost.simulate.events import fast_log_ndtr

STUDY = Path(__file__).resolve().parents[3] / "studies" / "h200_transformer_lm"


def _proposals(n: int, *, fast: bool) -> list[dict]:
    """``n`` TPE trials (seed 0) over a mixed space: log and linear floats, ints,
    categoricals, a conditional branch."""
    from optuna.distributions import CategoricalDistribution as C
    from optuna.distributions import FloatDistribution as F
    from optuna.distributions import IntDistribution as I

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = {"lr": F(1e-5, 1e-1, log=True), "dropout": F(0.0, 0.5), "layers": I(1, 8),
             "width": I(32, 1024, log=True), "batch": C([16, 32, 64, 128])}
    out = []
    with fast_log_ndtr(fast):
        study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
        for _ in range(n):
            trial = study.ask(space)
            p = dict(trial.params)
            if p["layers"] > 4:  # define-by-run: sampled at suggest time
                p["wd"] = trial.suggest_float("wd", 1e-6, 1e-2, log=True)
            value = (np.log10(p["lr"]) + 3) ** 2 + p["dropout"] + 0.1 * p["layers"] \
                + np.log(p["width"]) / 7 + p["batch"] / 128 + p.get("wd", 0.0) * 10
            study.tell(trial, float(value))
            out.append(p)
    return out


def test_tpe_proposes_the_same_parameters_to_float_precision():
    """Same seed, 60 trials: every parameter equal within 1e-12 relative (integers and
    categories exactly)."""
    ref, fast = _proposals(60, fast=False), _proposals(60, fast=True)
    assert [sorted(p) for p in ref] == [sorted(p) for p in fast]
    for a, b in zip(ref, fast, strict=True):
        for k, v in a.items():
            if isinstance(v, float):
                assert b[k] == pytest.approx(v, rel=1e-12, abs=0), k
            else:
                assert b[k] == v, k


def test_scipy_log_ndtr_is_optunas_function():
    """Over the range TPE uses and in both tails (Optuna's asymptotic series below -20):
    equal to a few ulps relative, or within 1e-15 absolute where log Φ is tiny (x > 5, where
    Optuna's ``log(1 - erfc/2)`` cancels and SciPy's is the accurate one)."""
    x = np.concatenate([np.linspace(-40.0, 40.0, 20_001), [-1e3, -25.0, 6.0, 6.5, 37.0]])
    ours = _truncnorm._log_ndtr(x)
    with fast_log_ndtr():
        fast = _truncnorm._log_ndtr(x)
    np.testing.assert_array_equal(fast, special.log_ndtr(x))
    np.testing.assert_allclose(fast, ours, rtol=1e-13, atol=1e-15)


def test_the_swap_is_undone_nested_threaded_and_on_error():
    original = _truncnorm._log_ndtr
    with fast_log_ndtr() as on:
        assert on and _truncnorm._log_ndtr is not original
        with fast_log_ndtr():
            pass
        assert _truncnorm._log_ndtr is not original  # the outer block still holds it
    assert _truncnorm._log_ndtr is original
    with fast_log_ndtr(False) as on:
        assert not on and _truncnorm._log_ndtr is original
    with pytest.raises(RuntimeError), fast_log_ndtr():
        raise RuntimeError
    assert _truncnorm._log_ndtr is original

    inside = threading.Barrier(4)

    def worker() -> None:
        with fast_log_ndtr():
            inside.wait()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert _truncnorm._log_ndtr is original


def _tpe(fast: bool) -> CampaignConfig:
    return CampaignConfig.model_validate({
        "name": "t", "workers": 4, "pue": 1.0, "carbon": {"g_co2e_per_kwh": 400},
        "studies": [{
            "name": "s", "hardware": {"accelerator": "h200"},
            "calibration": {"path": str(STUDY / "calib_small.json")},
            "strategy": {"kind": "optuna", "n_trials": 40, "n_evaluations": 4,
                         "sampler": {"name": "TPESampler", "fast_log_ndtr": fast,
                                     "kwargs": {"n_startup_trials": 5}},
                         "pruner": {"name": "MedianPruner"}}}]})


def test_replay_totals_are_equal_with_the_accelerator():
    """The H200 calibration, TPE + MedianPruner, 40 trials, 3 replicates: the same totals
    (to float precision: a proposal one ulp apart costs one ulp more or less, and events that
    move by an ulp can sum in another order; on this case they are the same bits); and the
    swap lasts only while the replay asks."""
    original = _truncnorm._log_ndtr
    ref = simulate(_tpe(False), engine="replay", replicates=3, seed=0, backend="local")
    fast = simulate(_tpe(True), engine="replay", replicates=3, seed=0, backend="local")
    assert _truncnorm._log_ndtr is original
    for k, v in ref.metrics.items():
        np.testing.assert_allclose(fast.metrics[k], v, rtol=1e-12, atol=0, err_msg=k)
    assert (fast.metrics["n_trials"] == ref.metrics["n_trials"]).all()
