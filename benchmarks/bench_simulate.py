"""Speed of the vectorised simulator against the raw cost of the random draws it needs.

For each shipped campaign (every scenario of a scenario set), for LISA at 10,000 replicates,
and for a random search of 1,000 and of 10,000 trials on 8 workers, times ``simulate`` and,
in the same process, interleaved with it, ``Generator.lognormal`` drawing one number per
trial per replicate (the least any Monte Carlo of these trials does). Each figure is the
median over ``--repeats`` runs; the machine's load average is printed with it. One JSON line
per campaign:

    {"config", "replicates", "jobs", "trials",
     "seconds": s,                     # simulate, backend "local" (this process, one core)
     "raw_draw_seconds": r,            # Generator.lognormal, replicates × trials numbers
     "ratio_vs_raw_draws": s / r,      # the goal: <= 5
     "parallel_seconds": p,            # simulate, backend "processes" (every core)
     "parallel_ratio_vs_raw_draws": p / r,   # the goal: <= 2.5 on 2 cores
     "parallel_cpu_seconds": c,        # CPU of the parent and its workers in that run
     "cores", "chunk_size", "chunks", "kernel": "compiled" | "fallback", "load_avg",
     # the fields of the first version of this benchmark, same meaning:
     "draw_seconds": d,                # the duration models' own draws (one per trial), in
                                       # one call per instance (the run makes one per chunk)
     "ratio_vs_draws": s / d,
     "replicates_per_second": n / s}

The LISA line adds ``stage_seconds`` (the same chunks run step by step: the draw, of which
the duration models' own ``sample`` calls, the scheduling kernel, the accounting),
``peak_rss_mb`` (a fresh process simulating it, backend local; ``peak_rss_mb_processes``:
the parent and the largest worker with the processes backend) and ``ratio_10x_replicates``
(its seconds over those of a tenth of the replicates: 10 when time is linear). The
10,000-trial random search adds ``ratio_10x_trials`` (its seconds over the 1,000-trial
one's at the same replicates).

Run: python benchmarks/bench_simulate.py [--replicates 2000] [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from tunecost._rng import as_generator
from tunecost.config import CampaignConfig, ScenarioSet, load_config
from tunecost.simulate import simulate
from tunecost.simulate._backends import available_cores
from tunecost.simulate._kernel import kernel_path
from tunecost.simulate.pipeline import build_jobs, resolve

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
LISA = CONFIGS / "lisa_rnd.yaml"

_RSS_CODE = """
import resource, sys
from tunecost.config import load_config
from tunecost.simulate import simulate
r = simulate(load_config(sys.argv[1]), replicates=int(sys.argv[2]), seed=0, backend=sys.argv[3])
assert r.replicates == int(sys.argv[2])
# VmHWM: this image's peak (ru_maxrss would also count the forking parent's pages, which
# Linux keeps across exec). Workers: their largest ru_maxrss, pages shared with it included.
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM"))
child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
print(int(hwm.split()[1]) / 1024, child_mb)
"""


def _random_search(n_trials: int) -> CampaignConfig:
    return CampaignConfig.model_validate({
        "name": f"random_search_{n_trials}", "workers": 8, "pue": 1.2,
        "carbon": {"g_co2e_per_kwh": 400}, "pricing": {"usd_per_accelerator_hour": 2.0},
        "studies": [{"name": "sweep", "strategy": {"kind": "random", "n_trials": n_trials},
                     "duration": {"dist": "lognormal", "median_h": 2.0, "sigma": 0.6},
                     "hardware": {"accelerator": "a100-sxm4-80gb"},
                     "power": {"kind": "tdp_fraction", "utilization": 0.8, "idle_w": 60}}]})


def _shape(campaign: CampaignConfig) -> tuple[int, int, list[int]]:
    """Jobs and trials of one replicate, and trials of one instance of each study."""
    resolved = resolve(campaign)
    probe = build_jobs(resolved, 1, rng=np.random.default_rng(0))
    per_instance = [int(probe.n_trials[i]) // s.count for i, s in enumerate(resolved.studies)]
    return probe.duration_h.shape[1], int(probe.n_trials.sum()), per_instance


def _raw_draws(n_reps: int, n_trials: int) -> float:
    """Seconds of Generator.lognormal drawing n_reps × n_trials numbers (in blocks of about
    16 MB, so the memory it touches is the simulator's order, not one huge array)."""
    rng = np.random.default_rng(0)
    block = max(1, 2_000_000 // max(n_trials, 1))
    t0 = time.perf_counter()
    for start in range(0, n_reps, block):
        rng.lognormal(0.0, 1.0, size=(min(block, n_reps - start), n_trials))
    return time.perf_counter() - t0


def _model_draws(campaign: CampaignConfig, n_reps: int, per_instance: list[int]) -> float:
    """Seconds of the duration models' own draws (the first benchmark's ``draw_seconds``)."""
    resolved = resolve(campaign)
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    for study, n in zip(resolved.studies, per_instance, strict=True):
        if study.duration is None:
            continue
        for _ in range(study.count):
            study.duration.sample((n_reps, n), rng=rng)
    return time.perf_counter() - t0


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _timed(campaign: CampaignConfig, n_reps: int, backend: str) -> tuple[float, Any, float]:
    """Wall seconds, the result, and the CPU seconds of this process and its workers."""
    c0 = time.process_time() + _children_cpu()
    t0 = time.perf_counter()
    result = simulate(campaign, replicates=n_reps, seed=0, backend=backend)
    return time.perf_counter() - t0, result, time.process_time() + _children_cpu() - c0


def measure(name: str, campaign: CampaignConfig, n_reps: int, repeats: int,
            parallel: bool = True) -> dict[str, Any]:
    jobs, trials, per_instance = _shape(campaign)
    simulate(campaign, replicates=min(n_reps, 50), seed=0, backend="local")  # warm-up
    secs, raws, pars, par_cpus, draws = [], [], [], [], []
    result = None
    for _ in range(repeats):
        s, result, _ = _timed(campaign, n_reps, "local")
        r = _raw_draws(n_reps, trials)
        secs.append(s)
        raws.append(r)
        if parallel:
            p, _, cpu = _timed(campaign, n_reps, "processes")
            pars.append(p)
            par_cpus.append(cpu)
        draws.append(_model_draws(campaign, n_reps, per_instance))
    assert result is not None
    s, r, d = (statistics.median(x) for x in (secs, raws, draws))
    line: dict[str, Any] = {
        "config": name, "replicates": n_reps, "jobs": jobs, "trials": trials,
        "seconds": round(s, 4), "raw_draw_seconds": round(r, 4),
        # Median of the per-repeat ratios: each pairs runs made under the same load.
        "ratio_vs_raw_draws": round(
            statistics.median(a / b for a, b in zip(secs, raws, strict=True)), 2),
    }
    if parallel:
        line["parallel_seconds"] = round(statistics.median(pars), 4)
        line["parallel_ratio_vs_raw_draws"] = round(
            statistics.median(a / b for a, b in zip(pars, raws, strict=True)), 2)
        # CPU of the parent and its workers: about "seconds" when the pool costs nothing, so
        # a parallel ratio above half the single one is the machine's other load.
        line["parallel_cpu_seconds"] = round(statistics.median(par_cpus), 4)
    line.update({
        "cores": available_cores(), "chunk_size": result.chunk_size,
        "chunks": -(-n_reps // result.chunk_size), "kernel": kernel_path(jobs, result.chunk_size),
        "load_avg": round(os.getloadavg()[0], 2),
        "draw_seconds": round(d, 4), "ratio_vs_draws": round(s / d, 1) if d > 0 else None,
        "replicates_per_second": round(n_reps / s, 1),
    })
    line["_secs"] = secs
    return line


def stage_seconds(campaign: CampaignConfig, n_reps: int, chunk_size: int) -> dict[str, float]:
    """The engine's chunks run step by step (what run_chunk does, timed per step); the
    duration models' own sampling is timed inside the draw (each instance's call)."""
    from tunecost.simulate._draw import draw_chunk
    from tunecost.simulate._list_scheduler import schedule_usage
    from tunecost.simulate._totals import totals

    resolved = resolve(campaign)
    cfg = resolved.config
    root = np.random.SeedSequence(0)
    out = {"draw": 0.0, "of_which_duration_sampling": 0.0, "kernel": 0.0, "accounting": 0.0}
    models = {type(s.duration) for s in resolved.studies if s.duration is not None}
    originals = {cls: cls.sample for cls in models}

    def timed(original: Any) -> Any:
        def sample(self: Any, *a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return original(self, *a, **k)
            finally:
                out["of_which_duration_sampling"] += time.perf_counter() - t0
        return sample

    try:
        for cls, original in originals.items():
            cls.sample = timed(original)
        done = 0
        while done < n_reps:
            m = min(chunk_size, n_reps - done)
            rng = as_generator(root.spawn(1)[0])
            t0 = time.perf_counter()
            draw = draw_chunk(resolved, m, rng=rng, rows=0)
            t1 = time.perf_counter()
            use, _ = schedule_usage(draw, cfg.workers, sequential=cfg.schedule == "sequential")
            t2 = time.perf_counter()
            totals(resolved, use)
            t3 = time.perf_counter()
            out["draw"] += t1 - t0
            out["kernel"] += t2 - t1
            out["accounting"] += t3 - t2
            done += m
    finally:
        for cls, original in originals.items():
            cls.sample = original
    return {k: round(v, 3) for k, v in out.items()}


def peak_rss_mb(path: Path, n_reps: int, backend: str) -> tuple[float, float]:
    proc = subprocess.run([sys.executable, "-c", _RSS_CODE, str(path), str(n_reps), backend],
                          capture_output=True, text=True, check=True)
    own, child = proc.stdout.split()
    return round(float(own), 1), round(float(child), 1)


def _emit(line: dict[str, Any]) -> None:
    line = {k: v for k, v in line.items() if not k.startswith("_")}
    print(json.dumps(line), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=2000)
    parser.add_argument("--lisa-replicates", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="LISA and the random searches only")
    parser.add_argument("--no-rss", action="store_true")
    args = parser.parse_args()
    # Import numba (and load the cached kernel) before any timing: a small warm-up run
    # would otherwise take the numpy fallback (auto does, before numba is imported).
    kernel_path()

    if not args.quick:
        for path in sorted(CONFIGS.iterdir()):
            loaded = load_config(path)
            campaigns = loaded.scenarios if isinstance(loaded, ScenarioSet) else [loaded]
            for campaign in campaigns:
                _emit(measure(f"{path.name}:{campaign.name}", campaign, args.replicates,
                              args.repeats))

    lisa = load_config(LISA)
    n = args.lisa_replicates
    line = measure(f"{LISA.name}:lisa_rnd", lisa, n, args.repeats)
    tenth = measure(f"{LISA.name}:lisa_rnd", lisa, n // 10, args.repeats, parallel=False)
    line["ratio_10x_replicates"] = round(line["seconds"] / tenth["seconds"], 2)
    line["stage_seconds"] = stage_seconds(lisa, n, line["chunk_size"])
    if not args.no_rss:
        line["peak_rss_mb"] = peak_rss_mb(LISA, n, "local")[0]
        parent, worker = peak_rss_mb(LISA, n, "processes")
        line["peak_rss_mb_processes"] = {"parent": parent, "largest_worker": worker}
    _emit(line)

    small = measure("random_search_1000_trials_8_workers", _random_search(1000),
                    args.replicates, args.repeats)
    _emit(small)
    big = measure("random_search_10000_trials_8_workers", _random_search(10_000),
                  args.replicates, args.repeats)
    big["ratio_10x_trials"] = round(big["seconds"] / small["seconds"], 2)
    _emit(big)


if __name__ == "__main__":
    main()
