"""Accuracy and cost of the live forecast on the fidelity study's real runs.

    python benchmarks/bench_forecast.py [--replicates 32] [--only tpe_median] [--seeds 1-10]

For every real run of ``studies/fidelity_cpu`` (TPE + MedianPruner, TPE + HyperbandPruner:
10 seeds each, 40 trials; Ray Tune ASHA: 10 seeds, 30 trials, 2 at a time), the study is cut
after 10 %, 25 % and 50 % of its trials (in the order they ended) and rebuilt as a live
Optuna study holding exactly those trials (their measured ``tunecost:*`` attributes, curves,
start and end times), with the run's own sampler (``TPESampler(seed)``) and pruner; the Ray
runs are given as records with their ASHA scheduler. :func:`tunecost.forecast` then forecasts
the final totals, with the random-search calibration (``calib.json``, ``ray_calib.json``) as
the prior, and is compared with what the run really spent in the end.

One JSON line per run and cut::

    {"study", "seed", "cut_pct", "n_done", "basis",
     "measured": {"energy_j", "wall_s"}, "p5", "p50", "p95": {...},
     "p50_error_pct": {...}, "inside_p5_p95": {...},
     "linear": {...}, "linear_error_pct": {...}, "compute_s"}

``linear`` is carbontracker's extrapolation: what was spent so far over the trials so far,
times all the trials (energy: mean finished trial × n; wall clock: elapsed / done × n). Then
one summary line per study and cut (median |P50 error|, runs inside P5–P95, median |linear
error|), and the cost of one :class:`tunecost.optuna.CostBudget` update on a 200-trial study
with 50 trials done (a SQLite study holding 50 real trials), median of 5 calls.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "studies" / "fidelity_cpu"
sys.path.insert(0, str(STUDY))

import optuna  # noqa: E402
import workload  # noqa: E402

from tunecost.calibrate import TrialRecord, read_records  # noqa: E402
from tunecost.live import StudySoFar, forecast, space_of  # noqa: E402
from tunecost.units import J_PER_KWH, S_PER_H  # noqa: E402

CUTS = (0.10, 0.25, 0.50)
METRICS = ("energy_j", "wall_s")
ASHA = {"kind": "ray_tune", "scheduler": {"name": "asha", "grace_period": 1, "max_t": 12,
                                          "reduction_factor": 3}}


def distributions(space: dict[str, tuple[Any, ...]]) -> dict[str, Any]:
    """Optuna distributions of a :mod:`workload` space."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    out: dict[str, Any] = {}
    for name, d in space.items():
        if d[0] == "categorical":
            out[name] = CategoricalDistribution(list(d[1]))
        elif d[0] == "int":
            out[name] = IntDistribution(d[1], d[2], log=d[3])
        else:
            out[name] = FloatDistribution(d[1], d[2], log=d[3])
    return out


def frozen(rec: TrialRecord, dists: dict[str, Any]) -> Any:
    """The record as the Optuna trial that measured it: state, params, intermediate values,
    start and end, and the ``tunecost:*`` attributes :func:`tunecost.calibrate.measured`
    stores."""
    from optuna.trial import FrozenTrial, TrialState

    state = getattr(TrialState, rec.state)
    attrs: dict[str, Any] = {
        "tunecost:duration_s": rec.duration_s, "tunecost:t_start": rec.attrs["t_start"],
        "tunecost:t_end": rec.attrs["t_end"],
        "tunecost:energy_source": rec.energy_source,
        "tunecost:cpu_energy_source": rec.cpu_energy_source,
        "tunecost:curve": {"step": [int(p.step) for p in rec.curve],
                           "t_s": [p.t_s for p in rec.curve]},
    }
    for key in ("energy_j", "cpu_energy_j", "dram_energy_j"):
        if getattr(rec, key) is not None:
            attrs[f"tunecost:{key}"] = getattr(rec, key)
    return FrozenTrial(
        number=rec.number, state=state,
        value=rec.value if state == TrialState.COMPLETE else None,
        datetime_start=dt.datetime.fromtimestamp(rec.attrs["t_start"]),
        datetime_complete=dt.datetime.fromtimestamp(rec.attrs["t_end"]),
        params=dict(rec.params), distributions=dists, user_attrs=attrs, system_attrs={},
        intermediate_values={int(p.step): p.value for p in rec.curve}, trial_id=rec.number)


def live_study(study: str, seed: int, done: list[TrialRecord],
               storage: str | None = None) -> optuna.Study:
    """A live Optuna study holding ``done``, with the run's own sampler and pruner."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = workload.WIDE_SPACE if study == "tpe_median" else workload.CAL_SPACE
    pruner = (optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2)
              if study == "tpe_median" else
              optuna.pruners.HyperbandPruner(min_resource=1, max_resource=12,
                                             reduction_factor=3))
    s = optuna.create_study(study_name=study, storage=storage, direction="minimize",
                            sampler=optuna.samplers.TPESampler(seed=seed), pruner=pruner)
    dists = distributions(space)
    s.add_trials([frozen(r, dists) for r in done])
    return s


def measured(records: list[TrialRecord]) -> dict[str, float]:
    return {"energy_j": sum(r.host_energy_j or 0.0 for r in records),
            "wall_s": max(r.attrs["t_end"] for r in records)
            - min(r.attrs["t_start"] for r in records)}


def one(study: str, seed: int, cut: float, replicates: int,
        calibration: str = "auto", horizon: int | None = 50) -> dict[str, Any]:
    recs = sorted(read_records(STUDY / "data" / f"{study}_seed{seed}.jsonl"),
                  key=lambda r: r.attrs["t_end"])
    n = len(recs)
    k = max(1, round(cut * n))
    done, now = recs[:k], recs[k - 1].attrs["t_end"]
    running = [r.params for r in recs[k:] if r.attrs["t_start"] < now]
    options: dict[str, Any] = {"n_trials": n, "replicates": replicates, "seed": seed,
                               "calibration": calibration, "horizon": horizon}
    if study == "ray_asha":
        so_far = StudySoFar.from_records(done, now_s=now, running=running)
        # The wall clock runs from the experiment's first trial, finished or not.
        so_far = dataclasses.replace(so_far, started_s=min(r.attrs["t_start"] for r in recs))
        f = forecast(so_far, **options, prior=STUDY / "ray_calib.json", strategy=ASHA,
                     space=space_of(distributions(workload.CAL_SPACE)), workers=2)
    else:
        f = forecast(live_study(study, seed, done), now_s=now, **options,
                     prior=STUDY / "calib.json")
    meas = measured(recs)
    pred = {q: {"energy_j": getattr(f, q)["energy_kwh"] * J_PER_KWH,
                "wall_s": getattr(f, q)["wall_clock_h"] * S_PER_H} for q in ("p5", "p50", "p95")}
    linear = {"energy_j": f.spent["energy_kwh"] * J_PER_KWH / k * n,
              "wall_s": f.spent["wall_clock_h"] * S_PER_H / k * n}
    return {
        "study": study, "seed": seed, "cut_pct": round(100 * cut), "n_done": k,
        "basis": f.basis, "measured": {m: round(meas[m], 3) for m in METRICS},
        **{q: {m: round(pred[q][m], 3) for m in METRICS} for q in ("p5", "p50", "p95")},
        "p50_error_pct": {m: round(100 * (pred["p50"][m] / meas[m] - 1), 1) for m in METRICS},
        "inside_p5_p95": {m: bool(pred["p5"][m] <= meas[m] <= pred["p95"][m]) for m in METRICS},
        "linear": {m: round(linear[m], 3) for m in METRICS},
        "linear_error_pct": {m: round(100 * (linear[m] / meas[m] - 1), 1) for m in METRICS},
        "compute_s": round(f.compute_s, 2),
    }


def summary(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for study in dict.fromkeys(line["study"] for line in lines):
        for cut in dict.fromkeys(line["cut_pct"] for line in lines):
            rows = [x for x in lines if x["study"] == study and x["cut_pct"] == cut]
            if not rows:
                continue
            out.append({
                "summary": study, "cut_pct": cut, "runs": len(rows),
                "median_abs_p50_error_pct": {m: round(statistics.median(
                    abs(x["p50_error_pct"][m]) for x in rows), 1) for m in METRICS},
                "inside_p5_p95": {m: f"{sum(x['inside_p5_p95'][m] for x in rows)}/{len(rows)}"
                                  for m in METRICS},
                "median_abs_linear_error_pct": {m: round(statistics.median(
                    abs(x["linear_error_pct"][m]) for x in rows), 1) for m in METRICS},
                "bases": sorted({x["basis"] for x in rows}),
            })
    return out


def callback_cost(**settings: Any) -> dict[str, Any]:
    """CostBudget updates on a SQLite study of 200 trials as its 41st..50th real trials
    finish (the first update, at 40, chooses the curve hyperparameters; later ones reuse
    them): the cost of the update at 50 done, and of the first."""
    import tunecost.optuna

    recs: list[TrialRecord] = []
    for seed in (1, 2):
        for r in read_records(STUDY / "data" / f"tpe_median_seed{seed}.jsonl"):
            if len(recs) < 50:
                recs.append(r.model_copy(update={"number": len(recs)}))
    with tempfile.TemporaryDirectory() as tmp:
        study = live_study("tpe_median", 1, recs[:40], storage=f"sqlite:///{tmp}/s.db")
        budget = tunecost.optuna.CostBudget(budget_kwh=1.0, n_trials=200, every=1,
                                            prior=STUDY / "calib.json", **settings)
        dists = distributions(workload.WIDE_SPACE)
        budget(study, study.trials[-1])
        for rec in recs[40:]:
            study.add_trial(frozen(rec, dists))
            budget(study, study.trials[-1])
    assert budget.last is not None
    return {"callback": "CostBudget update, 200-trial study (SQLite), at 50 done",
            "replicates": budget.settings.replicates, "horizon": budget.settings.horizon,
            "update_at_50_s": round(budget.update_s[-1], 3),
            "first_update_at_40_s": round(budget.update_s[0], 3),
            "updates_41_to_50_s": [round(x, 3) for x in budget.update_s[1:]],
            "basis": budget.last.basis, "goal_s": 2.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--replicates", type=int, default=32, help="the forecast's replays "
                    "(CostBudget's default: 6)")
    ap.add_argument("--horizon", type=int, default=50,
                    help="trials each replay asks of the real sampler (CostBudget: 20)")
    ap.add_argument("--only", choices=("tpe_median", "tpe_hyperband", "ray_asha"))
    ap.add_argument("--seeds", default="1-10", help="seeds, e.g. 1-10 or 1,3")
    ap.add_argument("--calibration", choices=("auto", "prior"), default="auto",
                    help="which calibration the forecast replays from (ForecastSettings)")
    ap.add_argument("--no-callback", action="store_true", help="skip the callback timing")
    args = ap.parse_args()
    if "-" in args.seeds:
        lo, hi = map(int, args.seeds.split("-"))
        seeds = list(range(lo, hi + 1))
    else:
        seeds = [int(s) for s in args.seeds.split(",")]
    lines = []
    for study in ("tpe_median", "tpe_hyperband", "ray_asha"):
        if args.only not in (None, study):
            continue
        for seed in seeds:
            for cut in CUTS:
                line = one(study, seed, cut, args.replicates, args.calibration, args.horizon)
                print(json.dumps(line), flush=True)
                lines.append(line)
    for line in summary(lines):
        print(json.dumps(line), flush=True)
    if not args.no_callback:
        print(json.dumps(callback_cost()), flush=True)


if __name__ == "__main__":
    main()
