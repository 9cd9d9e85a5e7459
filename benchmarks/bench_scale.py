"""Scale-out: Ray backend against the local one, and memory at a million replicates.

Times ``simulate`` of the 100-trial campaign ``configs/bayesian_spot_l4.toml`` on the local
backend and on a local Ray cluster with one worker per core (Ray's start-up and a warm-up run
excluded: a cluster is started once and reused), checks that both give identical JSON, then
measures the peak RSS of a fresh process that simulates 10^6 replicates (streaming summary,
local backend: the whole run in that one process). Prints one JSON line:

    {"workers": w, "local_seconds": a, "ray_seconds": b, "speedup": a/b,
     "peak_rss_mb_1e6_replicates": m}

Run: python benchmarks/bench_scale.py [--replicates 200000] [--chunk-size 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "bayesian_spot_l4.toml"

_RSS_CODE = """
import resource, sys
from tunecost.config import load_config
from tunecost.simulate import simulate
summary = simulate(load_config(sys.argv[1]), replicates=int(sys.argv[2]), seed=0).summary()
assert summary["replicates"] == int(sys.argv[2])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # KiB on Linux -> MiB
"""


def _timed(cfg, backend: str, replicates: int, chunk_size: int) -> tuple[float, str]:
    from tunecost.simulate import simulate

    t0 = time.perf_counter()
    result = simulate(
        cfg, replicates=replicates, seed=0, chunk_size=chunk_size, backend=backend,
        keep_replicates=False,
    )
    return time.perf_counter() - t0, json.dumps(result.summary(), sort_keys=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=200_000, help="timed replicates")
    parser.add_argument("--chunk-size", type=int, default=10_000)
    parser.add_argument("--rss-replicates", type=int, default=1_000_000)
    args = parser.parse_args()

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    from tunecost.config import load_config

    cfg = load_config(CONFIG)
    local_s, local_json = _timed(cfg, "local", args.replicates, args.chunk_size)

    temp_dir = tempfile.mkdtemp(prefix="r", dir="/tmp")  # Ray's socket paths must stay short
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, _temp_dir=temp_dir)
    try:
        workers = int(ray.cluster_resources()["CPU"])
        _timed(cfg, "ray", 4 * workers * 100, 100)  # warm-up: start the worker processes
        ray_s, ray_json = _timed(cfg, "ray", args.replicates, args.chunk_size)
    finally:
        ray.shutdown()
        shutil.rmtree(temp_dir, ignore_errors=True)
    if ray_json != local_json:
        sys.exit("the Ray backend's summary differs from the local one's")

    proc = subprocess.run(
        [sys.executable, "-c", _RSS_CODE, str(CONFIG), str(args.rss_replicates)],
        capture_output=True, text=True, check=True,
    )
    print(f"# {args.replicates:,} replicates in chunks of {args.chunk_size:,}; identical JSON; "
          f"RSS measured at {args.rss_replicates:,} replicates", file=sys.stderr)
    print(json.dumps({
        "workers": workers,
        "local_seconds": round(local_s, 3),
        "ray_seconds": round(ray_s, 3),
        "speedup": round(local_s / ray_s, 3),
        "peak_rss_mb_1e6_replicates": round(float(proc.stdout.strip().splitlines()[-1]), 1),
    }))


if __name__ == "__main__":
    main()
