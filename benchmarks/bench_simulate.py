"""Speed of the vectorised simulator against the raw cost of the random draws it needs.

For each shipped campaign, times ``simulate`` and, in the same process, the bare draws of
the durations it samples (one full-fidelity duration per trial per replicate, with the same
duration models). Prints one JSON line per campaign:

    {"config": ..., "replicates": n, "jobs": J, "seconds": s, "draw_seconds": d,
     "ratio_vs_draws": s/d, "replicates_per_second": n/s}

Run: python benchmarks/bench_simulate.py [--replicates 2000]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from tunecost.config import CampaignConfig, ScenarioSet, load_config
from tunecost.simulate import simulate
from tunecost.simulate.pipeline import build_jobs, resolve

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def _draws(campaign: CampaignConfig, n_reps: int) -> float:
    resolved = resolve(campaign)
    probe = build_jobs(resolved, 1, rng=np.random.default_rng(0))
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    for study, n in zip(resolved.studies, _trials_per_instance(probe, resolved), strict=True):
        for _ in range(study.count):
            study.duration.sample((n_reps, n), rng=rng)
    return time.perf_counter() - t0


def _trials_per_instance(probe, resolved) -> list[int]:
    return [int(probe.n_trials[i]) // s.count for i, s in enumerate(resolved.studies)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=2000)
    args = parser.parse_args()
    for path in sorted(CONFIGS.iterdir()):
        loaded = load_config(path)
        campaigns = loaded.scenarios if isinstance(loaded, ScenarioSet) else [loaded]
        for campaign in campaigns:
            t0 = time.perf_counter()
            result = simulate(campaign, replicates=args.replicates, seed=0)
            seconds = time.perf_counter() - t0
            draw_seconds = _draws(campaign, args.replicates)
            probe = build_jobs(resolve(campaign), 1, rng=np.random.default_rng(0))
            jobs = probe.duration_h.shape[1]
            print(json.dumps({
                "config": f"{path.name}:{campaign.name}",
                "replicates": result.replicates,
                "jobs": jobs,
                "seconds": round(seconds, 4),
                "draw_seconds": round(draw_seconds, 4),
                "ratio_vs_draws": round(seconds / draw_seconds, 1),
                "replicates_per_second": round(result.replicates / seconds, 1),
            }))


if __name__ == "__main__":
    main()
