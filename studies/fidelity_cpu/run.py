"""Run the fidelity study's real searches on CPU: one calibration, and the targets to predict.

    python studies/fidelity_cpu/run.py --all            # everything not yet in data/ (~25 min)
    python studies/fidelity_cpu/run.py tpe_median --seed 3

Each run is one real study of :mod:`workload` (an MLP trained epoch by epoch, validation log
loss reported at ``step = epoch``), every trial measured by tunecost's wrappers
(``tunecost.calibrate.measured`` for Optuna, ``measured_trainable`` for Ray Tune):

==================  =========================================================================
``calibration``     Optuna RandomSampler(seed=0), no pruner, 30 trials, the calibration space
``ray_calibration`` Ray Tune random search (seed 0), FIFO, 30 trials, 2 at a time
``tpe_median``      TPESampler(seed), MedianPruner(n_startup_trials=5, n_warmup_steps=2),
                    40 trials, ``hidden_units`` up to 256 (the calibration saw up to 128)
``tpe_hyperband``   TPESampler(seed), HyperbandPruner(min_resource=1, max_resource=12,
                    reduction_factor=3) in epochs, 40 trials
``ray_asha``        Ray Tune random search (seed), ASHAScheduler(max_t=12, grace_period=1,
                    reduction_factor=3) in training iterations (= epochs), 30 trials, 2 at a
                    time
==================  =========================================================================

Optuna studies use a SQLite file under ``runs/`` (as users do); Ray Tune experiments go to
``runs/ray/``. A finished run writes its trials to ``data/<study>[_seed<S>].jsonl`` (tunecost
TrialRecords, written to a temporary file and renamed) and appends one summary line to
``data/runs.jsonl``; ``--all`` skips runs whose records exist, so a killed ``--all`` resumes
at the run it was in (that run starts over: its storage is removed first).
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
from typing import Any

# One BLAS thread per trial, set before numpy loads: a trial's CPU time is then its own, and
# Ray Tune's actors (OMP_NUM_THREADS=1 per 1-CPU trial) train the same way.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import workload  # noqa: E402

DATA = HERE / "data"
RUNS = HERE / "runs"
TARGET_SEEDS = tuple(range(1, 11))
OPTUNA_STUDIES = ("calibration", "tpe_median", "tpe_hyperband")
RAY_STUDIES = ("ray_calibration", "ray_asha")
STUDIES = OPTUNA_STUDIES + RAY_STUDIES
N_TRIALS = {"calibration": 30, "tpe_median": 40, "tpe_hyperband": 40, "ray_calibration": 30,
            "ray_asha": 30}


def run_name(study: str, seed: int) -> str:
    """``calibration`` and ``ray_calibration`` run once (seed 0); targets per seed."""
    return study if study.endswith("calibration") else f"{study}_seed{seed}"


# ------------------------------------------------------------------------------------- Optuna


def _optuna_run(study_name: str, seed: int, storage: str, n_trials: int) -> None:
    import optuna

    from tunecost.calibrate import measured

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = workload.WIDE_SPACE if study_name == "tpe_median" else workload.CAL_SPACE
    if study_name == "calibration":
        sampler: Any = optuna.samplers.RandomSampler(seed=seed)
        pruner: Any = optuna.pruners.NopPruner()
    else:
        sampler = optuna.samplers.TPESampler(seed=seed)
        pruner = (optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2)
                  if study_name == "tpe_median" else
                  optuna.pruners.HyperbandPruner(min_resource=1, max_resource=12,
                                                 reduction_factor=3))
    study = optuna.create_study(study_name=study_name, storage=storage, direction="minimize",
                                sampler=sampler, pruner=pruner)

    objective = workload.optuna_objective(space, seed_base=1000 * seed)

    def progress(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        last = max(trial.intermediate_values, default=0)
        print(f"  trial {trial.number:>3} {trial.state.name:<8} epochs {last:>2} "
              f"loss {trial.value if trial.value is not None else float('nan'):.4f}",
              flush=True)

    study.optimize(measured(objective), n_trials=n_trials, callbacks=[progress])


# ------------------------------------------------------------------------------------ Ray Tune


def _ray_trainable(config: dict[str, Any]) -> None:
    import zlib

    from ray import tune

    from tunecost.calibrate.ray import report

    seed = zlib.crc32(tune.get_context().get_trial_id().encode())
    workload.train(config, lambda loss, epoch: report({"val_loss": loss, "epoch": epoch}),
                   seed=seed)


def _ray_run(study_name: str, seed: int, storage_path: Path, n_trials: int) -> Path:
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler
    from ray.tune.search.basic_variant import BasicVariantGenerator

    from tunecost.calibrate.ray import measured_trainable

    tmp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths are limited
    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=tmp, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(HERE)}})
    try:
        scheduler = (FIFOScheduler() if study_name == "ray_calibration" else
                     ASHAScheduler(time_attr="training_iteration", max_t=12, grace_period=1,
                                   reduction_factor=3))
        tuner = tune.Tuner(
            measured_trainable(_ray_trainable),
            param_space=workload.ray_space(workload.CAL_SPACE),
            tune_config=tune.TuneConfig(metric="val_loss", mode="min", scheduler=scheduler,
                                        num_samples=n_trials,
                                        search_alg=BasicVariantGenerator(random_state=seed)),
            run_config=tune.RunConfig(name=run_name(study_name, seed),
                                      storage_path=str(storage_path), verbose=0),
        )
        tuner.fit()
    finally:
        ray.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
    return storage_path / run_name(study_name, seed)


# ------------------------------------------------------------------------------------- one run


def run_one(study_name: str, seed: int, *, n_trials: int | None = None,
            data_dir: Path = DATA) -> dict[str, Any]:
    """Run one study for real; write its records and its summary line; return the summary.

    Args:
        study_name: one of :data:`STUDIES`.
        seed: the sampler's (and the models' initialisation) seed.
        n_trials: trials (default: the study's, :data:`N_TRIALS`).
        data_dir: where the records and ``runs.jsonl`` go.
    """
    from tunecost.calibrate import from_optuna, from_ray, write_records

    name = run_name(study_name, seed)
    n_trials = N_TRIALS[study_name] if n_trials is None else n_trials
    RUNS.mkdir(exist_ok=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    workload.data()  # build the data set and import scikit-learn before the first trial
    t0 = time.time()
    if study_name in OPTUNA_STUDIES:
        db = RUNS / f"{name}.db"
        db.unlink(missing_ok=True)  # a killed run starts over
        storage = f"sqlite:///{db}"
        _optuna_run(study_name, seed, storage, n_trials)
        records = from_optuna(storage, study_name)
    else:
        exp = RUNS / "ray" / name
        shutil.rmtree(exp, ignore_errors=True)
        records = from_ray(_ray_run(study_name, seed, RUNS / "ray", n_trials), metric="val_loss")
    script_wall_s = time.time() - t0
    records = [r.model_copy(update={"study": name}) for r in records]
    write_records(records, data_dir / f"{name}.jsonl")
    starts = [r.attrs["t_start"] for r in records]
    ends = [r.attrs["t_end"] for r in records]
    states = {s: sum(r.state == s for r in records) for s in ("COMPLETE", "PRUNED", "FAIL")}
    summary = {
        "run": name, "study": study_name, "seed": seed, "n_trials": len(records),
        "states": states,
        "trial_s": sum(r.duration_s for r in records),
        "energy_j": sum((r.cpu_energy_j or 0.0) + (r.dram_energy_j or 0.0) for r in records),
        "energy_source": sorted({r.cpu_energy_source for r in records}),
        "wall_s": max(ends) - min(starts),
        "script_wall_s": script_wall_s,
        "epochs": sum(r.fidelity or 0 for r in records),
        "best_value": min((r.value for r in records if r.state == "COMPLETE"
                           and r.value is not None), default=None),
    }
    with (data_dir / "runs.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(summary) + "\n")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", nargs="?", choices=STUDIES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--all", action="store_true",
                        help="run every study (targets with seeds 1-10) missing from data/")
    parser.add_argument("--n-trials", type=int, default=None,
                        help="trials of this run (default: the study's)")
    parser.add_argument("--data", type=Path, default=DATA,
                        help="folder for the records and runs.jsonl (default: data/)")
    args = parser.parse_args(argv)
    if args.all:
        plan = [(s, 0) for s in ("calibration", "ray_calibration")]
        plan += [(s, seed) for s in ("tpe_median", "tpe_hyperband", "ray_asha")
                 for seed in TARGET_SEEDS]
        for study, seed in plan:
            if (DATA / f"{run_name(study, seed)}.jsonl").exists():
                continue
            print(f"== {run_name(study, seed)}", flush=True)
            # One process per run: each starts cold, as a user's script would.
            subprocess.run([sys.executable, __file__, study, "--seed", str(seed)], check=True)
        return 0
    if args.study is None:
        parser.error("name a study or pass --all")
    s = run_one(args.study, args.seed, n_trials=args.n_trials, data_dir=args.data)
    print(json.dumps(s), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
