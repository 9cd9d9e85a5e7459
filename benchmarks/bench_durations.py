"""Per-call cost of the duration models of the shipped campaigns.

The vectorised simulator calls ``model.sample((replicates_per_chunk, n_trials), rng=...)``
once per study instance per chunk: thousands of calls of a few thousand elements each (the
LISA campaign: 123 grid searches of 39 jobs, 2,000 replicates in chunks of about 400). So
what matters is the cost of one such call, overhead included, against the floor: the same
number of ``rng.lognormal`` calls of the same shape, i.e. the same total number of draws.

For every distinct duration model (trial durations and crash durations) of every campaign
in ``configs/*.yaml|yml|toml`` prints one JSON line::

    {"config": file:campaign, "study": ..., "role": "duration" | "crash_duration",
     "model": repr, "calls": 3000, "shape": [417, 39], "seconds": s,
     "lognormal_seconds": b, "ratio_vs_lognormal": s / b, "us_per_call": 1e6 * s / calls}

Then the same for a few models no shipped campaign uses but a user config may (``"config":
"extra"``): the other truncated families, a summary with crashes (a mixture), an empirical.

Run: python benchmarks/bench_durations.py [--calls 3000] [--shape 417 39] [--no-extra]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from tunecost._rng import as_generator
from tunecost.config import ScenarioSet, load_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"

EXTRA: dict[str, dict[str, Any]] = {
    "truncated-gamma": {"dist": "gamma", "mean_h": 1.5, "cv": 0.5, "min_h": 0.5, "max_h": 6.0},
    "truncated-gamma-upper-tail": {"dist": "gamma", "mean_h": 1.0, "cv": 0.5, "min_h": 2.0},
    "truncated-weibull": {"dist": "weibull", "shape": 0.8, "scale_h": 3.0, "max_h": 9.0},
    "truncated-lognormal-upper-tail": {
        "dist": "lognormal", "median_h": 1.0, "sigma": 1.0, "min_h": 5.0, "max_h": 50.0,
    },
    "summary-crash": {"dist": "summary", "min_h": 0.05, "mean_h": 52, "max_h": 216,
                      "crash_fraction": 0.0366, "crash_max_h": 0.2},
    "empirical": {"dist": "empirical", "durations_h": [0.5, 1.0, 2.0, 4.0, 8.0]},
}


def _models(path: Path) -> list[tuple[str, str, str, Any]]:
    """(campaign, study, role, duration config) for each distinct duration config."""
    loaded = load_config(path)
    campaigns = loaded.scenarios if isinstance(loaded, ScenarioSet) else [loaded]
    seen: set[str] = set()
    out = []
    for campaign in campaigns:
        for study in campaign.studies:
            for role, cfg in (
                ("duration", study.duration),
                ("crash_duration", study.failures.crash_duration),
            ):
                if cfg is None or repr(cfg) in seen:
                    continue
                seen.add(repr(cfg))
                out.append((campaign.name, study.name, role, cfg))
    return out


def _time(fn: Any, calls: int) -> float:
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return time.perf_counter() - t0


def _extra() -> list[tuple[str, str, str, Any]]:
    from pydantic import TypeAdapter

    from tunecost.durations import DurationConfig

    adapter: TypeAdapter[Any] = TypeAdapter(DurationConfig)
    return [("extra", name, "duration", adapter.validate_python(d)) for name, d in EXTRA.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--shape", type=int, nargs="+", default=[417, 39])
    parser.add_argument("--no-extra", action="store_true", help="shipped configs only")
    args = parser.parse_args()
    shape = tuple(args.shape)
    paths = sorted(p for p in CONFIGS.iterdir() if p.suffix in (".yaml", ".yml", ".toml"))
    cases = [(f"{p.name}:{c}", s, r, cfg) for p in paths for c, s, r, cfg in _models(p)]
    if not args.no_extra:
        cases += _extra()
    for config, study, role, cfg in cases:
        model = cfg.build()
        rng = as_generator(0)
        model.sample(shape, rng=rng)  # warm-up: imports, caches
        seconds = _time(lambda: model.sample(shape, rng=rng), args.calls)  # noqa: B023
        floor = _time(lambda: rng.lognormal(0.0, 1.0, size=shape), args.calls)  # noqa: B023
        print(json.dumps({
            "config": config,
            "study": study,
            "role": role,
            "model": repr(model)[:120],
            "calls": args.calls,
            "shape": list(shape),
            "seconds": round(seconds, 4),
            "lognormal_seconds": round(floor, 4),
            "ratio_vs_lognormal": round(seconds / floor, 2),
            "us_per_call": round(1e6 * seconds / args.calls, 1),
        }), flush=True)


if __name__ == "__main__":
    main()
