"""Ray Tune study on CPU: ASHA + OptunaSearch over an MLP on scikit-learn's digits.

    python studies/ray_asha_mlp_digits/run.py

starts a local 2-CPU Ray cluster, runs 8 trials (each one epoch per ``training_iteration``, up
to 30; ASHA stops the weak ones early) into ``ray_results/`` beside this file, every result
carrying tunecost's cumulative ``tunecost/*`` measurement keys, prints a line per trial, writes
the trials to ``results.local.jsonl`` as tunecost TrialRecords (the committed ``results.jsonl``
is the recorded run; ``--results`` replaces it), and shuts Ray down.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

# Before Ray is imported: no token-auth file in ~/.ray, no usage reporting.
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.metrics import log_loss  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from tunecost.calibrate.ray import KEY_PREFIX, measured_trainable, report  # noqa: E402
from tunecost.calibrate.records import TrialRecord, write_records  # noqa: E402

HERE = Path(__file__).resolve().parent
NAME = "ray_asha_mlp_digits"
METRIC = "val_error"


def load_data(seed: int = 0) -> dict[str, np.ndarray]:
    """Digits (1,797 8x8 images, bundled with scikit-learn), 75/25 split, standardised."""
    x, y = load_digits(return_X_y=True)
    x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=0.25, random_state=seed, stratify=y)
    scaler = StandardScaler().fit(x_tr)
    return {"x_tr": scaler.transform(x_tr), "y_tr": y_tr, "x_va": scaler.transform(x_va),
            "y_va": y_va, "classes": np.unique(y)}


def make_trainable(max_epochs: int) -> Any:
    """The trainable; ``max_epochs`` is bound here so that it is no hyperparameter."""

    def train_mlp(config: dict[str, Any]) -> None:
        """One trial: train epoch by epoch with ``partial_fit``; report after each epoch."""
        _train(config, max_epochs)

    return train_mlp


def _train(config: dict[str, Any], max_epochs: int) -> None:
    data = load_data()
    clf = MLPClassifier(
        hidden_layer_sizes=(config["hidden_units"],) * config["n_layers"],
        learning_rate_init=config["learning_rate_init"],
        alpha=config["alpha"],
        batch_size=config["batch_size"],
        random_state=0,
    )
    for epoch in range(1, max_epochs + 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf.partial_fit(data["x_tr"], data["y_tr"], classes=data["classes"])
        proba = clf.predict_proba(data["x_va"])
        error = float(np.mean(data["classes"][proba.argmax(axis=1)] != data["y_va"]))
        report({METRIC: error, "val_loss": float(log_loss(data["y_va"], proba)),
                "epoch": epoch})


def to_records(result_grid: Any, study: str) -> list[TrialRecord]:
    """TrialRecords from the run's results (ASHA-stopped trials are ``PRUNED``)."""
    frames = [(r, r.metrics_dataframe) for r in result_grid]
    max_iter = max(int(df["training_iteration"].max()) for _, df in frames if df is not None)
    records = []
    for number, (result, df) in enumerate(frames):
        rows = [] if df is None else df.to_dict("records")
        last = rows[-1] if rows else {}
        if result.error is not None:
            state = "FAIL"
        elif last.get("training_iteration", 0) < max_iter:
            state = "PRUNED"
        else:
            state = "COMPLETE"

        def key(name: str, row: dict[str, Any] = last) -> Any:
            value = row.get(KEY_PREFIX + name)
            return None if value is None or value != value else value  # NaN from pandas

        records.append(TrialRecord(
            study=study,
            number=number,
            state=state,
            params=dict(result.config),
            value=last.get(METRIC),
            duration_s=key("duration_s") or 0.0,
            energy_j=key("energy_j"),
            energy_source=key("energy_source") or "none",
            cpu_energy_j=key("cpu_energy_j"),
            dram_energy_j=key("dram_energy_j"),
            cpu_energy_source=key("cpu_energy_source") or "none",
            power_mean_w=key("power_mean_w"),
            fidelity=last.get("training_iteration"),
            curve=[{"step": row["training_iteration"], "value": row[METRIC],
                    "t_s": key("duration_s", row), "energy_j": key("energy_j", row)}
                   for row in rows],
            attrs={"trial_id": last.get("trial_id"), "val_loss": last.get("val_loss")},
        ))
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-samples", type=int, default=8, help="trials")
    parser.add_argument("--max-epochs", type=int, default=30)
    parser.add_argument("--storage-path", type=Path, default=HERE / "ray_results",
                        help="folder Tune writes the experiment to (as <storage-path>/" + NAME
                        + ")")
    parser.add_argument("--results", type=Path, default=HERE / "results.local.jsonl",
                        help="JSON Lines file the TrialRecords are written to")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--address", default=None,
                        help="run on this Ray cluster ('auto', HOST:PORT, ray://HOST:10001) "
                        "instead of starting a local 2-CPU one")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.optuna import OptunaSearch

    class Progress(tune.Callback):
        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any):
            r = trial.last_result
            print(f"trial {trial.trial_id} done after {r.get('training_iteration')} epochs: "
                  f"{METRIC}={r.get(METRIC, float('nan')):.4f} "
                  f"{r.get(KEY_PREFIX + 'duration_s', 0.0):.2f} s, cpu "
                  f"{r.get(KEY_PREFIX + 'cpu_energy_j') or 0.0:.1f} J "
                  f"({r.get(KEY_PREFIX + 'cpu_energy_source')})", flush=True)

    experiment = args.storage_path / NAME
    if experiment.exists():  # a fresh run: old trial folders would mix with the new ones
        print(f"removing the previous run's {experiment}", flush=True)
        shutil.rmtree(experiment)
    if args.address is not None:
        temp_dir = None  # the cluster has its own; this driver only connects to it
        ray.init(address=args.address, log_to_driver=False)
    else:
        temp_dir = tempfile.mkdtemp(prefix="r", dir="/tmp")  # Ray's socket paths: keep short
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=temp_dir)
    try:
        t_ray = time.perf_counter()
        tuner = tune.Tuner(
            measured_trainable(make_trainable(args.max_epochs)),
            param_space={
                "n_layers": tune.randint(1, 3),
                "hidden_units": tune.lograndint(16, 257),
                "learning_rate_init": tune.loguniform(1e-4, 1e-1),
                "alpha": tune.loguniform(1e-6, 1e-2),
                "batch_size": tune.choice([16, 32, 64, 128]),
            },
            tune_config=tune.TuneConfig(
                metric=METRIC, mode="min", num_samples=args.num_samples, reuse_actors=True,
                search_alg=OptunaSearch(seed=args.seed),
                scheduler=ASHAScheduler(max_t=args.max_epochs, grace_period=3,
                                        reduction_factor=3),
            ),
            run_config=tune.RunConfig(name=NAME, storage_path=str(args.storage_path.resolve()),
                                      verbose=0, callbacks=[Progress()]),
        )
        grid = tuner.fit()
        t_fit = time.perf_counter() - t_ray
    finally:
        ray.shutdown()  # with --address: disconnects; the cluster stays up
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)

    records = to_records(grid, NAME)
    write_records(records, args.results)
    counts = {s: sum(r.state == s for r in records) for s in ("COMPLETE", "PRUNED", "FAIL")}
    sources = sorted({f"{r.energy_source}/{r.cpu_energy_source}" for r in records})
    best = min((r for r in records if r.value is not None), key=lambda r: r.value)
    print(f"done in {time.perf_counter() - t0:.1f} s (Tuner.fit {t_fit:.1f} s): "
          + ", ".join(f"{n} {k}" for k, n in counts.items()))
    print(f"trial time {sum(r.duration_s for r in records):.1f} s, epochs "
          f"{sum(r.fidelity or 0 for r in records):.0f}, host CPU energy "
          f"{sum(r.cpu_energy_j or 0.0 for r in records):.1f} J, energy sources "
          f"(accelerator/cpu) {', '.join(sources)}")
    print(f"best: {METRIC}={best.value:.4f} after {best.fidelity:.0f} epochs {best.params}")
    print(f"{len(records)} records -> {args.results}; experiment folder "
          f"{experiment}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
