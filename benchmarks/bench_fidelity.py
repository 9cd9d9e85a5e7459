"""Fidelity of the replay: predict real pruned searches from a random-search calibration alone.

    python benchmarks/bench_fidelity.py [--replicates 200] [--only tpe_median] [--backend B]

Replicates run in chunks on ``--backend`` (default: the replay's own choice, worker
processes when a ``"processes"`` backend is registered and there are several cores; the
numbers are the same bits on any backend).

For each target study of ``studies/fidelity_cpu`` (TPE + MedianPruner over a wider space,
TPE + HyperbandPruner in epochs, Ray Tune ASHA in iterations), the replay predicts the study
from its calibration only (``calib.json``: 30 random trials without pruning; the Ray study
from ``ray_calib.json``, 20 random trials) and the prediction is compared with every real run
of it (``data/runs.jsonl``, one line per run, each with its own seed). One JSON line per
study::

    {"study", "n_real_runs", "replicates",
     "measured_trial_s", "measured_energy_j", "measured_wall_s",      # median of the runs
     "runs": {metric: [each run]},
     "p5", "p50", "p95": {metric: predicted},
     "p50_error_pct": {metric: P50 / measured median - 1},
     "real_runs_inside_p5_p95": {metric: "k/n"}, "band_p95_over_p5": {metric},
     "baseline_mean_x_n_error_pct": {metric: ...}, "baseline_inside": {metric: "k/n"}}

Metrics: ``trial_s`` (sum of the trials' measured times), ``energy_j`` (sum of the trials'
energies: host CPU, estimated from CPU time on this machine), ``wall_s`` (first trial's start
to last trial's end). The baseline is what a user computes by hand: the calibration's mean
cost per trial times the target's number of trials (for wall clock: the calibration's wall
clock per trial times the number of trials).

The last lines check the same on the H200 measurements (``studies/h200_transformer_lm``),
where no pruned study ran on the GPU: the calibration is fitted on half of the 33 random
trials (even numbers, then odd ones) and predicts a HyperbandPruner and a MedianPruner study
over the *other* half's configurations, whose real cost is what Optuna's pruners decide on
those trials' real measured curves (fed to a plain Optuna loop in record order; a pruned
trial costs its measured time and energy up to the step where it stopped). Each real side is
one set of 16 or 17 configurations: its P50 error includes that set's luck, which swapping
the halves shows.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

import numpy as np

from tunecost.calibrate import fit_calibration, read_records
from tunecost.config import CampaignConfig, load_config
from tunecost.simulate import simulate
from tunecost.simulate.events import default_backend
from tunecost.units import J_PER_KWH, S_PER_H

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "studies" / "fidelity_cpu"
H200 = ROOT / "studies" / "h200_transformer_lm"
TARGETS = {"tpe_median": "calibration", "tpe_hyperband": "calibration",
           "ray_asha": "ray_calibration"}
METRICS = ("trial_s", "energy_j", "wall_s")
# The space the H200 study sampled (its log: d_model in steps of 128, budgets 100/200/400),
# as a user states it; 17 trials alone would suggest a narrower one, and a 300-step budget.
H200_SPACE = {
    "d_model": {"type": "int", "low": 128, "high": 512, "step": 128},
    "n_layers": {"type": "int", "low": 1, "high": 6},
    "batch_size": {"type": "categorical", "choices": [16, 32, 64, 128]},
    "lr": {"type": "float", "low": 1e-4, "high": 3e-3, "log": True},
    "dropout": {"type": "float", "low": 0.0, "high": 0.2},
    "steps": {"type": "categorical", "choices": [100, 200, 400]},
}


def predicted(result: Any) -> dict[str, np.ndarray]:
    """Per-replicate trial time, trial energy and wall clock of a replay result."""
    m = result.metrics
    trial_kwh = m["energy_kwh"] - m["waiting_energy_kwh"] - m["overhead_energy_kwh"]
    return {"trial_s": m["gpu_hours"] * S_PER_H, "energy_j": trial_kwh * J_PER_KWH,
            "wall_s": m["wall_clock_h"] * S_PER_H}


def compare(study: str, pred: dict[str, np.ndarray], runs: dict[str, list[float]],
            baseline: dict[str, float], replicates: int,
            metrics: tuple[str, ...] = METRICS) -> dict[str, Any]:
    """The benchmark's JSON line for one study, over ``metrics``."""
    out: dict[str, Any] = {"study": study, "n_real_runs": len(runs[metrics[0]]),
                           "replicates": replicates}
    q = {k: np.percentile(pred[k], [5, 50, 95]) for k in metrics}
    meas = {k: statistics.median(runs[k]) for k in metrics}
    for k in metrics:
        out[f"measured_{k}"] = round(meas[k], 3)
    out["runs"] = {k: [round(x, 3) for x in runs[k]] for k in metrics}
    for i, name in enumerate(("p5", "p50", "p95")):
        out[name] = {k: round(float(q[k][i]), 3) for k in metrics}
    out["p50_error_pct"] = {k: round(100 * (q[k][1] / meas[k] - 1), 1) for k in metrics}
    out["real_runs_inside_p5_p95"] = {
        k: f"{sum(q[k][0] <= x <= q[k][2] for x in runs[k])}/{len(runs[k])}" for k in metrics}
    out["band_p95_over_p5"] = {k: round(float(q[k][2] / q[k][0]), 2) for k in metrics}
    out["baseline_mean_x_n"] = {k: round(baseline[k], 3) for k in metrics}
    out["baseline_mean_x_n_error_pct"] = {k: round(100 * (baseline[k] / meas[k] - 1), 1)
                                          for k in metrics}
    out["replay_beats_baseline"] = {
        k: bool(abs(q[k][1] / meas[k] - 1) < abs(baseline[k] / meas[k] - 1)) for k in metrics}
    return out


def _runs() -> list[dict[str, Any]]:
    path = STUDY / "data" / "runs.jsonl"
    latest: dict[str, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            latest[r["run"]] = r  # a re-run replaces the earlier line of the same run
    return list(latest.values())


BACKEND: str | None = None
"""``--backend``; ``None``: :func:`~tunecost.simulate.events.default_backend`."""


def _replay(cfg: CampaignConfig, replicates: int) -> Any:
    return simulate(cfg, engine="replay", replicates=replicates, seed=0,
                    backend=BACKEND or default_backend(replicates))


def fidelity_cpu(replicates: int, only: str | None) -> list[dict[str, Any]]:
    runs = _runs()
    lines = []
    for study, calib in TARGETS.items():
        if only is not None and study != only:
            continue
        cfg = load_config(STUDY / f"{study}.yaml")
        assert isinstance(cfg, CampaignConfig)
        result = _replay(cfg, replicates)
        real = [r for r in runs if r["study"] == study]
        cal_run = next(r for r in runs if r["study"] == calib)
        n = cfg.studies[0].strategy.n_trials
        baseline = {k: cal_run[k] / cal_run["n_trials"] * n for k in METRICS}
        line = compare(study, predicted(result), {k: [r[k] for r in real] for k in METRICS},
                       baseline, replicates)
        print(json.dumps(line), flush=True)
        lines.append(line)
    return lines


# ------------------------------------------------------------------------ H200, half-and-half


def _real_pruned_cost(records: list[Any], pruner: Any) -> tuple[float, float]:
    """Trial time, s, and energy, J, of an Optuna study that runs ``records`` in order with
    ``pruner`` deciding on their measured curves (a plain ask/report/tell loop)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name="h200_half", pruner=pruner,
                                sampler=optuna.samplers.RandomSampler(seed=0))
    time_s = energy_j = 0.0
    for rec in records:
        study.enqueue_trial(rec.params)
        trial = study.ask()
        for k, p in enumerate(rec.curve):
            trial.report(p.value, int(p.step))
            last = k == len(rec.curve) - 1
            if not last and trial.should_prune():
                time_s += p.t_s
                energy_j += p.energy_j
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                break
        else:
            time_s += rec.duration_s
            energy_j += rec.energy_j
            study.tell(trial, rec.value)
    return time_s, energy_j


def h200_half(replicates: int) -> list[dict[str, Any]]:
    import tempfile

    import optuna

    records = read_records(H200 / "data" / "calib_random.jsonl")
    pruners = {
        "hyperband": ({"name": "HyperbandPruner",
                       "kwargs": {"min_resource": 50, "max_resource": 400, "reduction_factor": 3}},
                      lambda: optuna.pruners.HyperbandPruner(min_resource=50, max_resource=400,
                                                             reduction_factor=3)),
        "median": ({"name": "MedianPruner",
                    "kwargs": {"n_startup_trials": 4, "n_warmup_steps": 100}},
                   lambda: optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=100)),
    }
    lines = []
    for fitted, parity in (("even", 0), ("odd", 1)):
        fit_on = [r for r in records if r.number % 2 == parity]
        held = [r for r in records if r.number % 2 != parity]
        cal = fit_calibration(fit_on, accelerator="h200", n_folds=4)
        with tempfile.TemporaryDirectory() as tmp:
            cal_path = Path(tmp) / "half.json"
            cal.save(cal_path)
            for pruner, (spec, make) in pruners.items():
                name = f"h200_fit_{fitted}_predict_{pruner}"
                t_real, e_real = _real_pruned_cost(held, make())
                cfg = CampaignConfig.model_validate({
                    "name": name, "workers": 1, "pue": 1.0, "carbon": {"g_co2e_per_kwh": 0},
                    "studies": [{
                        "name": name,
                        # The held-out trials ran at budgets of 100-400 steps drawn like the
                        # other hyperparameters: the budget is searched, as it was.
                        "strategy": {"kind": "optuna", "n_trials": len(held),
                                     "sampler": {"name": "RandomSampler"}, "pruner": spec,
                                     "objective": {"search_resource": True}},
                        "hardware": {"accelerator": "h200"},
                        "calibration": {"path": str(cal_path), "search_space": H200_SPACE},
                    }]})
                pred = predicted(_replay(cfg, replicates))
                n_fit = len(fit_on)
                base = {"trial_s": sum(r.duration_s for r in fit_on) / n_fit * len(held),
                        "energy_j": sum(r.energy_j or 0 for r in fit_on) / n_fit * len(held)}
                # One real side, replayed from records: no wall clock to compare.
                line = compare(name, pred, {"trial_s": [t_real], "energy_j": [e_real]}, base,
                               replicates, metrics=("trial_s", "energy_j"))
                print(json.dumps(line), flush=True)
                lines.append(line)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--only", choices=[*TARGETS, "h200"], default=None)
    parser.add_argument("--backend", default=None, help="where replicate chunks run "
                        "(local, ray, processes; default: the replay's choice)")
    args = parser.parse_args()
    global BACKEND
    BACKEND = args.backend
    if args.only != "h200":
        fidelity_cpu(args.replicates, args.only)
    if args.only in (None, "h200"):
        h200_half(args.replicates)


if __name__ == "__main__":
    main()
