"""The Optuna wrapper stores a measurement on every trial, whatever the trial's outcome."""

from __future__ import annotations

import json

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from tunecost.calibrate.importers import from_optuna
from tunecost.calibrate.measure import TrialMeter
from tunecost.calibrate.optuna import CURVE_ATTR, USER_ATTR, measured, open_storage

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
    """COMPLETE, PRUNED and FAIL trials all hold flat numeric attrs, one curve point a report."""
    study = optuna.create_study(storage=storage, sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(measured(objective), n_trials=5, catch=(Boom,))

    trials = optuna.load_study(study_name=study.study_name, storage=storage).trials
    states = [t.state for t in trials]
    assert states == [TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL,
                      TrialState.COMPLETE, TrialState.COMPLETE]
    for t in trials:
        attrs = t.user_attrs
        assert USER_ATTR not in attrs  # the old one-blob attribute is no longer written
        for key in ("duration_s", "t_start", "t_end", "cpu_s", "cpu_energy_j"):
            assert isinstance(attrs[f"tunecost:{key}"], float), key  # numbers: sortable
        assert attrs["tunecost:duration_s"] > 0
        assert attrs["tunecost:t_end"] - attrs["tunecost:t_start"] == pytest.approx(
            attrs["tunecost:duration_s"], abs=1e-5)
        assert t.datetime_start.timestamp() <= attrs["tunecost:t_start"] + 1e-3
        assert (attrs["tunecost:energy_source"], attrs["tunecost:cpu_energy_source"]) == (
            meter_sources)
        assert "tunecost:accelerator" not in attrs
        curve = attrs[CURVE_ATTR]
        n = 2 if t.number == PRUNED_NUMBER else 3
        assert curve["step"] == sorted(t.intermediate_values) == list(range(n))
        times = curve["t_s"]
        assert all(0 <= a <= b for a, b in zip(times, times[1:], strict=False))
        assert times[-1] <= attrs["tunecost:duration_s"]
        assert "value" not in curve  # Optuna's intermediate values hold those


def test_the_importer_reads_what_the_wrapper_wrote(storage):
    """Round trip: the records carry the wrapper's figures and the curve joined by step."""
    study = optuna.create_study(storage=storage, sampler=optuna.samplers.RandomSampler(seed=0),
                                direction="maximize")
    study.optimize(measured(objective), n_trials=4, catch=(Boom,))
    recs = from_optuna(storage)
    for rec, t in zip(recs, study.trials, strict=True):
        assert rec.duration_s == t.user_attrs["tunecost:duration_s"]
        assert rec.cpu_energy_j == t.user_attrs["tunecost:cpu_energy_j"]
        assert [p.value for p in rec.curve] == [t.intermediate_values[s] for s in
                                                 t.user_attrs[CURVE_ATTR]["step"]]
        assert [p.t_s for p in rec.curve] == t.user_attrs[CURVE_ATTR]["t_s"]
        assert rec.attrs["direction"] == "maximize"
        assert rec.attrs["cpu_s"] == t.user_attrs["tunecost:cpu_s"]
        assert rec.attrs["meter_t_start"] >= rec.attrs["t_start"] - 1e-3
        assert rec.fidelity == t.user_attrs[CURVE_ATTR]["step"][-1]


def test_curve_attr_stays_small_and_long_curves_are_chunked(tmp_path):
    """100 reports fit in about 2 kB; 4,500 reports are split into attrs of <= 64 kB.

    On a journal storage: what is stored is the same on any storage, and 4,500 reports on
    SQLite are 4,500 commits (15–20 s of the suite)."""
    storage = f"journal:///{tmp_path / 'study.log'}"

    def many_reports(trial: optuna.Trial) -> float:
        n = trial.suggest_categorical("n", [100, 4500])
        for step in range(n):
            trial.report(1.0 / (step + 1), step)
        trial.report(0.0, 0)  # a repeated step: Optuna ignores it, and so does the curve
        return 0.0

    study = optuna.create_study(storage=open_storage(storage, create=True))
    study.enqueue_trial({"n": 100})
    study.enqueue_trial({"n": 4500})
    with pytest.warns(UserWarning, match="already reported"):
        study.optimize(measured(many_reports), n_trials=2)
    short, long = study.trials
    size = len(json.dumps(short.user_attrs[CURVE_ATTR]))
    assert size < 2500, size
    keys = sorted(k for k in long.user_attrs if k.startswith(CURVE_ATTR))
    assert keys == [CURVE_ATTR, f"{CURVE_ATTR}.1", f"{CURVE_ATTR}.2"]
    assert all(len(json.dumps(long.user_attrs[k])) < 64_000 for k in keys)
    (_, rec) = from_optuna(storage)
    assert [p.step for p in rec.curve] == list(range(4500))


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
    attrs = trial.user_attrs
    assert attrs["tunecost:accelerator"] == "h100-sxm"
    if attrs["tunecost:devices"] == ["h100-sxm"]:  # no NVML here: estimated from the TDP
        assert attrs["tunecost:energy_source"] == "estimated" and attrs["tunecost:energy_j"] > 0
    assert attrs["tunecost:duration_s"] > 0 and len(attrs[CURVE_ATTR]["step"]) == 1


def test_objective_sees_the_real_trial(tmp_path):
    """The objective gets Optuna's own Trial: isinstance holds, artifacts upload, and
    ``report`` is Optuna's again once the objective has ended."""
    from optuna.artifacts import FileSystemArtifactStore, upload_artifact

    store = FileSystemArtifactStore(str(tmp_path / "artifacts"))
    (tmp_path / "artifacts").mkdir()
    seen = {}

    def probe(trial: optuna.Trial) -> float:
        assert isinstance(trial, optuna.Trial) and type(trial) is optuna.Trial
        trial.set_user_attr("mine", 7)
        seen["trial"] = trial
        seen["number"] = trial.number
        seen["study"] = trial.study
        seen["should_prune"] = trial.should_prune()
        model = tmp_path / f"model-{trial.number}.txt"
        model.write_text("weights")
        seen["artifact"] = upload_artifact(
            artifact_store=store, file_path=str(model), study_or_trial=trial
        )
        return trial.suggest_int("n", 1, 1)

    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'a.db'}")
    wrapped = measured(probe)
    assert wrapped.__name__ == "probe"
    study.optimize(wrapped, n_trials=1)
    (trial,) = study.trials
    assert trial.user_attrs["mine"] == 7 and trial.params == {"n": 1} and trial.value == 1
    assert (seen["number"], seen["study"], seen["should_prune"]) == (0, study, False)
    assert trial.user_attrs[CURVE_ATTR] == {"step": [], "t_s": []}
    assert "report" not in vars(seen["trial"])  # the shadowing is undone
    (meta,) = optuna.artifacts.get_all_artifact_meta(trial, storage=study._storage)
    assert meta.artifact_id == seen["artifact"]
    with store.open_reader(seen["artifact"]) as fh:
        assert fh.read() == b"weights"


def test_ask_and_tell_and_threads(storage):
    """The wrapper works with ask-and-tell and with Optuna's n_jobs threads (one curve each)."""
    study = optuna.create_study(storage=storage, sampler=optuna.samplers.RandomSampler(seed=1))
    trial = study.ask()
    value = measured(lambda t: (t.report(0.5, 0), t.suggest_float("x", 0, 1))[1])(trial)
    study.tell(trial, value)
    study.optimize(measured(objective), n_trials=4, n_jobs=2, catch=(Boom,))
    for t in study.trials:
        assert t.user_attrs[CURVE_ATTR]["step"] == sorted(t.intermediate_values)
