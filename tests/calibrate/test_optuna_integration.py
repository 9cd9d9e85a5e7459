"""The Optuna wrapper stores a measurement on every trial, whatever the trial's outcome."""

from __future__ import annotations

import json

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from tunecost.calibrate.measure import TrialMeter
from tunecost.calibrate.optuna import USER_ATTR, measured

optuna.logging.set_verbosity(optuna.logging.WARNING)


class Boom(RuntimeError):
    """The deliberate failure of a trial."""


PRUNED_NUMBER, FAILED_NUMBER = 1, 2


def objective(trial: optuna.Trial) -> float:
    """A few numpy iterations per step, three reports; trial 1 is pruned, trial 2 fails."""
    x = trial.suggest_float("x", -1.0, 1.0)
    a = np.random.default_rng(trial.number).standard_normal((64, 64))
    for step in range(3):
        for _ in range(5):
            a = np.tanh(a @ a.T / 64.0)
        trial.report(float(np.abs(a).mean()) + x * x, step)
        if trial.number == PRUNED_NUMBER and step == 1:
            raise optuna.TrialPruned()
        if trial.number == FAILED_NUMBER and step == 2:
            raise Boom("deliberate failure")
    return x * x


@pytest.fixture(scope="module")
def meter_sources() -> tuple[str, str]:
    """The energy sources the meter reports on this machine."""
    with TrialMeter() as meter:
        pass
    return meter.result.energy_source, meter.result.cpu_energy_source


@pytest.fixture
def storage(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'study.db'}"


def test_every_trial_carries_its_measurement(storage, meter_sources):
    """COMPLETE, PRUNED and FAIL trials all hold the attr, with one curve point per report."""
    study = optuna.create_study(storage=storage, sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(measured(objective), n_trials=5, catch=(Boom,))

    trials = optuna.load_study(study_name=study.study_name, storage=storage).trials
    states = [t.state for t in trials]
    assert states == [TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL,
                      TrialState.COMPLETE, TrialState.COMPLETE]
    for t in trials:
        attr = t.user_attrs[USER_ATTR]
        json.dumps(attr)  # stored as JSON, so it must be plain data
        assert attr["duration_s"] > 0
        assert (attr["energy_source"], attr["cpu_energy_source"]) == meter_sources
        assert "accelerator" not in attr
        curve = attr["curve"]
        assert len(curve) == len(t.intermediate_values) == (2 if t.number == 1 else 3)
        assert [p["step"] for p in curve] == sorted(t.intermediate_values)
        assert [p["value"] for p in curve] == [t.intermediate_values[s] for s in range(len(curve))]
        times = [p["t_s"] for p in curve]
        assert all(0 <= a <= b for a, b in zip(times, times[1:], strict=False))
        assert times[-1] <= attr["duration_s"]
        assert set(curve[0]) == {"step", "value", "t_s", "energy_j"}


def test_failure_propagates_to_optuna(storage):
    """Without ``catch`` the objective's exception reaches the caller; the trial is FAIL."""

    def always_fails(trial: optuna.Trial) -> float:
        trial.report(1.0, 0)
        raise Boom("deliberate failure")

    study = optuna.create_study(storage=storage)
    with pytest.raises(Boom, match="deliberate"):
        study.optimize(measured(always_fails, accelerator="h100-sxm"), n_trials=1)
    (trial,) = study.trials
    assert trial.state == TrialState.FAIL
    attr = trial.user_attrs[USER_ATTR]
    assert attr["accelerator"] == "h100-sxm"
    if attr["devices"] == ["h100-sxm"]:  # no NVML here: the meter estimates from the TDP
        assert attr["energy_source"] == "estimated" and attr["energy_j"] > 0
    assert attr["duration_s"] > 0 and len(attr["curve"]) == 1


def test_objective_sees_the_real_trial():
    """Everything but ``report`` passes through to the trial Optuna gave."""
    seen = {}

    def probe(trial: optuna.Trial) -> float:
        trial.set_user_attr("mine", 7)
        seen["number"] = trial.number
        seen["study"] = trial.study
        seen["should_prune"] = trial.should_prune()
        return trial.suggest_int("n", 1, 1)

    study = optuna.create_study()
    wrapped = measured(probe)
    assert wrapped.__name__ == "probe"
    study.optimize(wrapped, n_trials=1)
    (trial,) = study.trials
    assert trial.user_attrs["mine"] == 7 and trial.params == {"n": 1} and trial.value == 1
    assert seen == {"number": 0, "study": study, "should_prune": False}
    assert trial.user_attrs[USER_ATTR]["curve"] == []
