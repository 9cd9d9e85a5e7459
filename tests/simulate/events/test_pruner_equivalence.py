"""Pruners and schedulers given arguments in resource units prune in the replay exactly where
they prune in a real study fed the same curves.

The real side is a plain ``study.optimize`` (or a real Ray Tune run) whose objective reports a
recorded trial's measured curve at its real step numbers; the replay side replays the same
records (``objective: {records: …, recorded: true}``) through the same pruner on the
simulated clock. Trial by trial, the state and the last step reported must be identical.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest

from tunecost.calibrate import read_records
from tunecost.config import CampaignConfig
from tunecost.simulate.events import Timeline
from tunecost.simulate.events._trials import TrialBank
from tunecost.simulate.events.engine import _run
from tunecost.simulate.events.registry import study_context
from tunecost.simulate.events.schedulers import ASHAPolicy
from tunecost.simulate.pipeline import resolve

STUDIES = Path(__file__).resolve().parents[3] / "studies"
CPU = (STUDIES / "fidelity_cpu" / "data" / "calibration.jsonl",
       STUDIES / "fidelity_cpu" / "calib.json")       # every epoch, 1..12
H200 = (STUDIES / "h200_transformer_lm" / "data" / "calib_random.jsonl",
        STUDIES / "h200_transformer_lm" / "calib_small.json")  # 8 reports of 100-400 steps

CASES = {
    "median_epochs": (CPU, "MedianPruner", {"n_startup_trials": 3, "n_warmup_steps": 3}),
    "halving_epochs": (CPU, "SuccessiveHalvingPruner", {"min_resource": 2,
                                                        "reduction_factor": 3}),
    "hyperband_epochs": (CPU, "HyperbandPruner", {"min_resource": 1, "max_resource": 12,
                                                  "reduction_factor": 3}),
    "percentile_epochs": (CPU, "PercentilePruner", {"percentile": 30.0, "n_warmup_steps": 1}),
    # the case: resource-unit arguments that the old 1..K numbering never reached
    "hyperband_steps": (H200, "HyperbandPruner", {"min_resource": 12, "max_resource": 400,
                                                  "reduction_factor": 3}),
    "median_steps": (H200, "MedianPruner", {"n_startup_trials": 4, "n_warmup_steps": 100}),
    "halving_steps": (H200, "SuccessiveHalvingPruner", {"min_resource": 50,
                                                        "reduction_factor": 2}),
}


def _replayed(records_path: Path, calib: Path, pruner: str, kwargs: dict[str, Any],
              n: int) -> tuple[str, list[tuple[str, int | None]]]:
    """Run the replay on one worker; return its study's name and (state, last step) per
    trial."""
    cfg = CampaignConfig.model_validate({
        "name": "eq", "workers": 1, "pue": 1.0, "carbon": {"g_co2e_per_kwh": 0},
        "studies": [{
            "name": "s",
            "strategy": {"kind": "optuna", "n_trials": n, "sampler": {"name": "RandomSampler"},
                         "pruner": {"name": pruner, "kwargs": kwargs},
                         "objective": {"records": str(records_path), "recorded": True}},
            "hardware": {"accelerator": "cpu"},
            "calibration": {"path": str(calib)},
        }]})
    policy = study_context(resolve(cfg).studies[0]).policy(np.random.default_rng(0))
    _run([policy], 1, sequential=False, tl=Timeline())
    return policy.study.study_name, [(t.state.name, t.last_step) for t in policy.study.trials]


def _real(records: list[Any], pruner: Any, study_name: str) -> list[tuple[str, int | None]]:
    """A real Optuna study whose objective reports record ``trial.number``'s curve."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=study_name, pruner=pruner,
                                sampler=optuna.samplers.RandomSampler(seed=0))

    def objective(trial: optuna.Trial) -> float:
        rec = records[trial.number]
        for p in rec.curve:
            trial.report(p.value, int(p.step))
            if trial.should_prune():
                raise optuna.TrialPruned()
        return rec.curve[-1].value

    study.optimize(objective, n_trials=len(records))
    return [(t.state.name, t.last_step) for t in study.trials]


@pytest.mark.parametrize("case", sorted(CASES))
def test_replay_prunes_where_the_real_pruner_prunes(case):
    (records_path, calib), pruner, kwargs = CASES[case]
    records = [r for r in read_records(records_path) if r.state == "COMPLETE"]
    name, replayed = _replayed(records_path, calib, pruner, kwargs, len(records))
    real = _real(records, getattr(optuna.pruners, pruner)(**kwargs), name)
    assert replayed == real
    states = {s for s, _ in real}
    assert states == {"COMPLETE", "PRUNED"}, f"{case}: the case should prune some trials"


def test_the_old_one_to_k_numbering_is_gone():
    """Reports go out at the objective's steps (12, 24, …, 400), not 1..8: the H200 trials'
    last steps in the replay are the records' own."""
    records = [r for r in read_records(H200[0]) if r.state == "COMPLETE"]
    _, replayed = _replayed(*H200, "NopPruner", {}, len(records))
    assert [s for _, s in replayed] == [int(r.curve[-1].step) for r in records]


# --- Ray Tune ASHA on the same recorded curves ---------------------------------------------


def _asha_stops(records_path: Path, calib: Path, n: int, **asha: Any) -> list[int]:
    cfg = CampaignConfig.model_validate({
        "name": "eq", "workers": 1, "pue": 1.0, "carbon": {"g_co2e_per_kwh": 0},
        "studies": [{"name": "s", "strategy": {
            "kind": "ray_tune", "n_trials": n, "scheduler": {"name": "asha", **asha},
            "objective": {"records": str(records_path), "recorded": True}},
            "hardware": {"accelerator": "cpu"}, "calibration": {"path": str(calib)}}]})
    study = study_context(resolve(cfg).studies[0])
    assert study.surrogate is not None
    bank = TrialBank(study.surrogate, n, host_kw=np.zeros(1), shares=np.ones(1),
                     rng=np.random.default_rng(0))
    policy = ASHAPolicy(bank, n, idle_kw=0.0, mode_sign=1.0, rng=np.random.default_rng(0),
                        brackets=1, **asha)
    tl = Timeline()
    _run([policy], 1, sequential=False, tl=tl)
    last = {t: len([s for s in bank.fraction[t] if s <= r + 1e-12])
            for t, r in zip(tl.job_trial, tl.job_reached, strict=True)}
    return [last[t] for t in range(n)]


@pytest.mark.parametrize("asha", [{"grace_period": 1, "max_t": 12, "reduction_factor": 3},
                                  {"grace_period": 2, "max_t": 9, "reduction_factor": 2}])
def test_asha_in_iterations_matches_ray_on_recorded_curves(ray_stops, asha):
    """ASHA's grace_period and max_t in training iterations (one per epoch): the replay
    stops the recorded trials at the iterations real Ray Tune stops them, including at
    max_t below the trainable's last report."""
    from ray.tune.schedulers import ASHAScheduler

    records = [r for r in read_records(CPU[0]) if r.state == "COMPLETE"][:16]
    ours = _asha_stops(*CPU, len(records), **asha)
    theirs = ray_stops([[p.value for p in r.curve] for r in records],
                       ASHAScheduler(time_attr="training_iteration", **asha))
    assert ours == theirs
    assert len(set(ours)) > 1 and max(ours) == min(asha["max_t"], 12)
