"""Optuna study on CPU: an MLP on scikit-learn's digits, every trial measured by tunecost.

    python studies/optuna_mlp_digits/run.py

runs 20 trials (TPE, median pruning) into ``study.db`` beside this file, prints a line per
trial, and writes every measured trial to ``results.local.jsonl`` as tunecost TrialRecords (the
committed ``results.jsonl`` is the recorded run; pass ``--results`` to replace it). Run it
again and it resumes: a trial left RUNNING by a killed run is marked FAIL (heartbeat), and only
COMPLETE and PRUNED trials count toward ``--n-trials``.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from tunecost.calibrate.importers import optuna_measurement
from tunecost.calibrate.optuna import measured
from tunecost.calibrate.records import TrialRecord, write_records

HERE = Path(__file__).resolve().parent
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
# Fields of the tunecost user attribute that map to TrialRecord fields of the same name.
_RECORD_FIELDS = (
    "duration_s", "energy_j", "energy_source", "cpu_energy_j", "dram_energy_j",
    "cpu_energy_source", "power_mean_w", "accelerator",
)


def load_data(seed: int = 0) -> dict[str, np.ndarray]:
    """Digits (1,797 8x8 images, bundled with scikit-learn), 75/25 split, standardised."""
    x, y = load_digits(return_X_y=True)
    x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=0.25, random_state=seed, stratify=y)
    scaler = StandardScaler().fit(x_tr)
    return {"x_tr": scaler.transform(x_tr), "y_tr": y_tr, "x_va": scaler.transform(x_va),
            "y_va": y_va, "classes": np.unique(y)}


def make_objective(data: dict[str, np.ndarray], max_epochs: int, epoch_sleep_s: float) -> Any:
    """Validation error (1 - accuracy) after training epoch by epoch with ``partial_fit``."""

    def objective(trial: optuna.Trial) -> float:
        n_layers = trial.suggest_int("n_layers", 1, 2)
        hidden_units = trial.suggest_int("hidden_units", 16, 256, log=True)
        clf = MLPClassifier(
            hidden_layer_sizes=(hidden_units,) * n_layers,
            learning_rate_init=trial.suggest_float("learning_rate_init", 1e-4, 1e-1, log=True),
            alpha=trial.suggest_float("alpha", 1e-6, 1e-2, log=True),
            batch_size=trial.suggest_categorical("batch_size", [16, 32, 64, 128]),
            random_state=trial.number,
        )
        epochs = trial.suggest_int("epochs", 5, max_epochs)
        error = 1.0
        for epoch in range(1, epochs + 1):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                clf.partial_fit(data["x_tr"], data["y_tr"], classes=data["classes"])
            error = 1.0 - clf.score(data["x_va"], data["y_va"])
            trial.report(error, epoch)  # the step is the number of epochs trained
            if trial.should_prune():
                raise optuna.TrialPruned()
            if epoch_sleep_s:
                time.sleep(epoch_sleep_s)
        return error

    return objective


def to_records(study: optuna.Study) -> list[TrialRecord]:
    """TrialRecords of every finished trial that carries a tunecost measurement.

    A trial left RUNNING by a killed run and later marked FAIL has no measurement (its
    process died before storing one) and is left out.
    """
    records = []
    for t in study.get_trials(deepcopy=False):
        attr = optuna_measurement(t)
        if attr is None or t.state not in (*FINISHED, TrialState.FAIL):
            continue
        curve = attr.get("curve", [])
        value = t.value
        if value is None and t.state == TrialState.PRUNED and curve:
            value = curve[-1]["value"]
        records.append(TrialRecord(
            study=study.study_name,
            number=t.number,
            state=t.state.name,
            params=t.params,
            value=value,
            fidelity=curve[-1]["step"] if curve else None,
            curve=curve,
            **{k: attr[k] for k in _RECORD_FIELDS if attr.get(k) is not None},
            attrs={k: v for k, v in attr.items() if k not in _RECORD_FIELDS and k != "curve"},
        ))
    return records


def _progress(target: int) -> Any:
    def callback(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        attr = optuna_measurement(trial) or {}
        curve = attr.get("curve", [])
        n_done = len(study.get_trials(deepcopy=False, states=FINISHED))
        value = f"{curve[-1]['value']:.4f}" if curve else "-"
        cpu_j = attr.get("cpu_energy_j")
        energy = "-" if cpu_j is None else f"{cpu_j:.1f} J ({attr.get('cpu_energy_source')})"
        print(f"[{n_done:>3}/{target}] trial {trial.number:>3} {trial.state.name:<8} "
              f"error={value} epochs={len(curve):>2} {attr.get('duration_s', 0.0):6.2f} s "
              f"cpu {energy}", flush=True)

    return callback


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-trials", type=int, default=20,
                        help="finished (COMPLETE or PRUNED) trials the study should reach")
    parser.add_argument("--study-name", default="optuna_mlp_digits")
    parser.add_argument("--storage", default=f"sqlite:///{HERE / 'study.db'}",
                        help="SQLAlchemy URL of the study's storage")
    parser.add_argument("--results", type=Path, default=HERE / "results.local.jsonl",
                        help="JSON Lines file the TrialRecords are written to")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-epochs", type=int, default=30)
    parser.add_argument("--heartbeat-interval", type=int, default=2, help="seconds")
    parser.add_argument("--grace-period", type=int, default=6,
                        help="seconds without a heartbeat before a RUNNING trial counts as dead")
    parser.add_argument("--epoch-sleep", type=float, default=0.0,
                        help="seconds to sleep after each epoch (tests use it to slow trials)")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    storage = optuna.storages.RDBStorage(
        args.storage, heartbeat_interval=args.heartbeat_interval, grace_period=args.grace_period
    )
    study = optuna.create_study(
        study_name=args.study_name, storage=storage, direction="minimize", load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=args.seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=3),
    )
    optuna.storages.fail_stale_trials(study)  # a trial left RUNNING by a killed run -> FAIL
    n_done = len(study.get_trials(deepcopy=False, states=FINISHED))
    remaining = max(args.n_trials - n_done, 0)
    print(f"study {args.study_name!r}: {n_done} finished trials, running {remaining} more",
          flush=True)
    if remaining:
        objective = make_objective(load_data(args.seed), args.max_epochs, args.epoch_sleep)
        study.optimize(measured(objective), n_trials=remaining,
                       callbacks=[_progress(args.n_trials)])

    records = to_records(study)
    write_records(records, args.results)
    counts = {s.name: len(study.get_trials(deepcopy=False, states=(s,)))
              for s in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)}
    sources = sorted({f"{r.energy_source}/{r.cpu_energy_source}" for r in records})
    cpu_j = sum(r.cpu_energy_j or 0.0 for r in records)
    best = study.best_trial if counts["COMPLETE"] else None
    print(f"done in {time.perf_counter() - t0:.1f} s: " + ", ".join(
        f"{n} {k}" for k, n in counts.items()))
    print(f"trial time {sum(r.duration_s for r in records):.1f} s, host CPU energy "
          f"{cpu_j:.1f} J, energy sources (accelerator/cpu) {', '.join(sources)}")
    if best is not None:
        print(f"best: trial {best.number} error={best.value:.4f} {best.params}")
    print(f"{len(records)} records -> {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
