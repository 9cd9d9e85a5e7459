"""Speed of the event-driven replay against bare Optuna, measured in the same process.

Prints four JSON lines:

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

    {"workload": "tpe_replicates_2_workers", "backend": "processes" | "stand_in_pool",
     "processes_backend": "present" | "missing", "replicates": R, "seconds_local": l,
     "seconds_2_workers": p, "speedup": l/p, "goal": ">= 1.6", "speedups_all_rounds": [...],
     "cpu_seconds_local": [...], "cpu_seconds_2_workers": [...], "identical": true, ...}

Replay replicates in chunks on 2 worker processes against the same replicates in this
process (``backend="local"``), timed end to end (the workers' start-up and the shipping of
the shared state included), the round with the best ratio of 3 alternated ones reported; on a
shared machine the workers' CPU seconds (equal to the local run's when the chunks split the
work without overhead) and the load average tell contention from overhead. It uses the
``"processes"`` backend when one is registered in ``tunecost.simulate.BACKENDS``; else it
says so (``"processes_backend": "missing"``) and measures a stand-in: a 2-process
``ProcessPoolExecutor`` passed as the backend.

    {"workload": "tpe_fast_log_ndtr", "seconds_1000_trials": f, "seconds_1000_trials_without": s,
     "speedup_1000_trials": s/f, "speedup_300_trials_min_of_3": ...,
     "totals_max_rel_diff_1000_trials": ..., ...}

The opt-in accelerator (``sampler: {fast_log_ndtr: true}``) on the first line's workload
(``s`` is that line's ``seconds``), and on 300 trials, best of 3 alternated runs each.

Run: python benchmarks/bench_replay.py [--quick]  (``--quick``: only the last two lines)
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import optuna

from tunecost.calibrate.calibration import Calibration
from tunecost.config import CampaignConfig
from tunecost.report_schedule import ReportSchedule
from tunecost.simulate import BACKENDS, simulate
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


class _StandInPool:
    """Until a ``"processes"`` backend is registered: ``workers`` processes (forked where the
    platform can, one BLAS thread each), chunks mapped in order. The shared state is pickled
    with every chunk (a real process backend may ship it once per worker)."""

    name: ClassVar[str] = "stand_in_pool"

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def map_chunks(self, fn: Callable, shared: Any, args: Iterable[Any]) -> Iterator[Any]:
        args = list(args)
        old = os.environ.get("OMP_NUM_THREADS")
        os.environ["OMP_NUM_THREADS"] = "1"  # one BLAS thread per worker (when spawned)
        try:
            method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
            with ProcessPoolExecutor(self.workers,
                                     mp_context=multiprocessing.get_context(method)) as ex:
                yield from ex.map(fn, [shared] * len(args), args)
        finally:
            if old is None:
                os.environ.pop("OMP_NUM_THREADS", None)
            else:
                os.environ["OMP_NUM_THREADS"] = old


def _tpe(n: int, *, fast: bool = False) -> CampaignConfig:
    return _campaign({"kind": "optuna", "n_trials": n, "n_evaluations": N_EVAL,
                      "sampler": {"name": "TPESampler", "fast_log_ndtr": fast},
                      "pruner": {"name": "MedianPruner"}})


def _same(a: Any, b: Any) -> bool:
    return all(np.array_equal(a.metrics[k], b.metrics[k], equal_nan=True) for k in a.metrics)


def _rel_diff(a: Any, b: Any) -> float:
    """Largest relative difference between two results' totals (NaN totals skipped)."""
    worst = 0.0
    for k, x in a.metrics.items():
        y = b.metrics[k]
        ok = np.isfinite(x) & np.isfinite(y)
        if ok.any():
            worst = max(worst, float(np.max(np.abs(x[ok] - y[ok])
                                            / np.maximum(np.abs(x[ok]), 1e-300))))
    return worst


def two_workers(replicates: int = 6, n_trials: int = 250, rounds: int = 3) -> dict[str, Any]:
    """Replicates on 2 worker processes against this process, end to end; best of
    ``rounds`` alternated runs each (the machine may be shared: the CPU seconds and the load
    say how much of the 2 cores the runs had)."""
    present = "processes" in BACKENDS
    backend: Any = "processes" if present else _StandInPool(2)
    cfg = _tpe(n_trials)
    kwargs = {"engine": "replay", "replicates": replicates, "seed": 0, "chunk_size": 1}
    simulate(_tpe(20), engine="replay", replicates=1, seed=0)  # warm: imports, calibration
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    t_local, t_pool, cpu_local, cpu_pool, same = [], [], [], [], True

    def children_cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        return r.ru_utime + r.ru_stime

    for _ in range(rounds):
        c0, t0 = time.process_time(), time.perf_counter()
        local = simulate(cfg, backend="local", **kwargs)
        c1, t1, k1 = time.process_time(), time.perf_counter(), children_cpu()
        pooled = simulate(cfg, backend=backend, **kwargs)
        t2, k2 = time.perf_counter(), children_cpu()
        t_local.append(t1 - t0)
        t_pool.append(t2 - t1)
        cpu_local.append(c1 - c0)
        cpu_pool.append(k2 - k1)  # workers reaped by the end of the run (0: not reaped)
        same = same and _same(local, pooled)
    best = min(range(rounds), key=lambda i: t_pool[i] / t_local[i])
    return {
        "workload": "tpe_replicates_2_workers", "n_trials": n_trials, "replicates": replicates,
        "backend": "processes" if present else _StandInPool.name,
        "processes_backend": "present" if present else "missing",
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "load_average_1min_before": None if load is None else round(load, 2),
        "seconds_local": round(t_local[best], 3), "seconds_2_workers": round(t_pool[best], 3),
        "speedup": round(t_local[best] / t_pool[best], 3), "goal": ">= 1.6",
        "speedups_all_rounds": [round(a / b, 3) for a, b in zip(t_local, t_pool, strict=True)],
        "cpu_seconds_local": [round(c, 2) for c in cpu_local],
        "cpu_seconds_2_workers": [round(c, 2) for c in cpu_pool],
        "identical": same,
    }


def accelerator(seconds_without: float | None, result_without: Any) -> dict[str, Any]:
    """The opt-in fast_log_ndtr on the 1,000-trial TPE replicate, and on 300 trials."""
    out: dict[str, Any] = {"workload": "tpe_fast_log_ndtr"}
    if seconds_without is not None:
        t0 = time.perf_counter()
        fast = simulate(_tpe(1000, fast=True), engine="replay", replicates=1, seed=0)
        f = time.perf_counter() - t0
        out.update({"seconds_1000_trials": round(f, 3),
                    "seconds_1000_trials_without": round(seconds_without, 3),
                    "speedup_1000_trials": round(seconds_without / f, 3),
                    "totals_max_rel_diff_1000_trials": _rel_diff(result_without, fast)})
    times: dict[bool, list[float]] = {False: [], True: []}
    results = {}
    for _ in range(3):
        for flag in (False, True):
            t0 = time.perf_counter()
            results[flag] = simulate(_tpe(300, fast=flag), engine="replay", replicates=1,
                                     seed=0)
            times[flag].append(time.perf_counter() - t0)
    out.update({"seconds_300_trials": round(min(times[True]), 3),
                "seconds_300_trials_without": round(min(times[False]), 3),
                "speedup_300_trials_min_of_3": round(min(times[False]) / min(times[True]), 3),
                "totals_max_rel_diff_300_trials": _rel_diff(results[False], results[True])})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="only the 2-worker and accelerator lines (300 trials)")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if args.quick:
        print(json.dumps(two_workers()), flush=True)
        print(json.dumps(accelerator(None, None)), flush=True)
        return
    n = 1000
    cal = Calibration.load(CAL)
    space = {k: v for k, v in cal.space.items() if k != cal.resource_param}
    dists = distributions(space)

    tpe = _campaign({"kind": "optuna", "n_trials": n, "n_evaluations": N_EVAL,
                     "sampler": {"name": "TPESampler"}, "pruner": {"name": "MedianPruner"}})
    t0 = time.perf_counter()
    tpe_result = simulate(tpe, engine="replay", replicates=1, seed=0)
    s = time.perf_counter() - t0
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
    print(json.dumps(two_workers()), flush=True)
    print(json.dumps(accelerator(s, tpe_result)), flush=True)


if __name__ == "__main__":
    main()
