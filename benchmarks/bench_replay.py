"""Speed of the event-driven replay against bare Optuna, measured in the same process.

Prints two JSON lines:

    {"workload": "tpe_median_1000_trials_8_workers", "seconds": s, "bare_optuna_seconds": b,
     "ratio_vs_bare_optuna": s/b, ...}
    {"workload": "asha_1000_trials_8_workers", "seconds": s, "bare_optuna_random_seconds": b,
     "ratio_vs_bare_optuna_random": s/b, "seconds_4000_trials": s4, ...}

``s``: one replicate of the replay on the H200 calibration (``studies/h200_transformer_lm``),
8 workers. ``b`` (first line): the same sampler (TPESampler, same seed) asked and told 1000
trials with a zero-cost objective, no pruner, nothing reported: the issue's baseline. Because
TPE itself works harder on a history of pruned trials (it ranks them by their intermediate
values), the line also gives ``bare_optuna_same_pruner_seconds``: the same sampler *and*
MedianPruner in a plain ask/report/tell loop fed the same kind of surrogate curves at zero
cost, so ``ratio_vs_bare_optuna_same_pruner`` is the replay's own overhead (clock, workers,
surrogate). ``b`` (second line): RandomSampler asked and told 1000 trials, zero cost.

Run: python benchmarks/bench_replay.py
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import optuna

from tunecost.calibrate.calibration import Calibration
from tunecost.config import CampaignConfig
from tunecost.report_schedule import ReportSchedule
from tunecost.simulate import simulate
from tunecost.simulate.events import Surrogate
from tunecost.simulate.events.optuna_replay import distributions

STUDY = Path(__file__).resolve().parents[1] / "studies" / "h200_transformer_lm"
CAL = STUDY / "calib_small.json"
N_EVAL = 8


def _campaign(strategy: dict) -> CampaignConfig:
    return CampaignConfig.model_validate({
        "name": "bench", "workers": 8, "pue": 1.0, "carbon": {"g_co2e_per_kwh": 400},
        "studies": [{"name": "s", "strategy": strategy, "hardware": {"accelerator": "h200"},
                     "calibration": {"path": str(CAL)}}],
    })


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _curves(n: int) -> list[list[float]]:
    """n surrogate learning curves of random configurations (the bare loop's zero-cost
    objective: a table look-up)."""
    cal = Calibration.load(CAL)
    sur = Surrogate(ReportSchedule(count=N_EVAL), calibration=cal, duration=None)
    rng = np.random.default_rng(0)
    return [v.tolist() for v in sur.draw(sur.sample_params(n, rng=rng), n, rng=rng).values]


def _bare(sampler: optuna.samplers.BaseSampler, n: int, dists: dict,
          curves: list[list[float]] | None = None, pruner=None) -> None:
    study = optuna.create_study(sampler=sampler, pruner=pruner or optuna.pruners.NopPruner())
    for i in range(n):
        trial = study.ask(dists)
        if curves is None:
            study.tell(trial, 0.0)
            continue
        values = curves[i]
        for k, v in enumerate(values, start=1):
            trial.report(v, k)
            if trial.should_prune():
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                break
        else:
            study.tell(trial, values[-1])


def main() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    n = 1000
    cal = Calibration.load(CAL)
    space = {k: v for k, v in cal.space.items() if k != cal.resource_param}
    dists = distributions(space)

    tpe = _campaign({"kind": "optuna", "n_trials": n, "n_evaluations": N_EVAL,
                     "sampler": {"name": "TPESampler"}, "pruner": {"name": "MedianPruner"}})
    s = _timed(lambda: simulate(tpe, engine="replay", replicates=1, seed=0))
    b = _timed(lambda: _bare(optuna.samplers.TPESampler(seed=0), n, dists))
    curves = _curves(n)
    b_same = _timed(lambda: _bare(optuna.samplers.TPESampler(seed=0), n, dists, curves,
                                  optuna.pruners.MedianPruner()))
    print(json.dumps({
        "workload": "tpe_median_1000_trials_8_workers", "seconds": round(s, 3),
        "bare_optuna_seconds": round(b, 3), "ratio_vs_bare_optuna": round(s / b, 3),
        "bare_optuna_same_pruner_seconds": round(b_same, 3),
        "ratio_vs_bare_optuna_same_pruner": round(s / b_same, 3),
    }), flush=True)

    def asha(n_trials: int) -> float:
        cfg = _campaign({"kind": "ray_tune", "n_trials": n_trials, "n_evaluations": 16,
                         "scheduler": {"name": "asha"}})
        simulate(cfg,
            engine="replay", replicates=1, seed=0)  # warm: imports, calibration load, value fit
        return min(_timed(lambda: simulate(cfg,
            engine="replay", replicates=1, seed=0)) for _ in range(3))

    s1 = asha(n)
    b1 = min(_timed(lambda: _bare(optuna.samplers.RandomSampler(seed=0), n, dists))
             for _ in range(3))
    s4 = asha(4 * n)
    print(json.dumps({
        "workload": "asha_1000_trials_8_workers", "seconds": round(s1, 4),
        "bare_optuna_random_seconds": round(b1, 4),
        "ratio_vs_bare_optuna_random": round(s1 / b1, 3),
        "seconds_4000_trials": round(s4, 4), "ratio_4000_vs_1000": round(s4 / s1, 2),
    }), flush=True)


if __name__ == "__main__":
    main()
