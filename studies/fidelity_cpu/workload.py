"""The fidelity study's workload: an MLP trained epoch by epoch on CPU, validation log loss.

scikit-learn's ``MLPClassifier`` trained with ``partial_fit`` (one call per epoch) on a fixed
synthetic classification set from ``sklearn.datasets.make_classification`` (12,000 samples,
40 features, 6 classes; 75/25 stratified split, standardised): no download, the same data in
every process. After each epoch the objective reports the validation log loss at
``step = epoch``, the way users write it, so pruners and schedulers act on real curves in
real resource units. Trials take about 0.2–6 s on one core; BLAS is held to one thread so a
trial's CPU time is its own.

The search spaces are shared by the Optuna and Ray Tune studies: :data:`CAL_SPACE` is the
calibration's, :data:`WIDE_SPACE` widens ``hidden_units`` to twice the calibrated maximum
(the extrapolation users do when they plan a bigger search from a small one).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

# Imported here, not in train(): a Ray Tune actor imports this module before the trial's
# function starts, so the import is framework start-up, not the first trial's training time.
from sklearn.datasets import make_classification
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

MAX_EPOCHS = 12
"""Epochs of a full trial; the objective reports after each (step = epoch)."""

# (type, low, high, log) or ("categorical", choices)
CAL_SPACE: dict[str, tuple[Any, ...]] = {
    "n_layers": ("int", 1, 2, False),
    "hidden_units": ("int", 16, 128, True),
    "learning_rate_init": ("float", 1e-4, 3e-2, True),
    "alpha": ("float", 1e-6, 1e-1, True),
    "batch_size": ("categorical", (16, 32, 64, 128)),
}
WIDE_SPACE: dict[str, tuple[Any, ...]] = {**CAL_SPACE, "hidden_units": ("int", 16, 256, True)}


@functools.cache
def data() -> dict[str, np.ndarray]:
    """The data set, built once per process (about 20 ms)."""
    x, y = make_classification(n_samples=12_000, n_features=40, n_informative=20,
                               n_redundant=10, n_classes=6, n_clusters_per_class=2,
                               class_sep=1.0, flip_y=0.02, random_state=0)
    x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    scaler = StandardScaler().fit(x_tr)
    return {"x_tr": scaler.transform(x_tr), "y_tr": y_tr, "x_va": scaler.transform(x_va),
            "y_va": y_va, "classes": np.unique(y)}


def train(params: dict[str, Any], report: Callable[[float, int], None], *,
          max_epochs: int = MAX_EPOCHS, seed: int = 0) -> float:
    """Train one configuration; call ``report(val_loss, epoch)`` after every epoch.

    ``report`` may raise to stop the trial (Optuna's ``TrialPruned``; Ray stops the thread).

    Returns:
        The validation log loss after the last epoch (nats).
    """
    d = data()
    clf = MLPClassifier(
        hidden_layer_sizes=(int(params["hidden_units"]),) * int(params["n_layers"]),
        learning_rate_init=float(params["learning_rate_init"]),
        alpha=float(params["alpha"]),
        batch_size=int(params["batch_size"]),
        random_state=seed,
    )
    loss = float("nan")
    for epoch in range(1, max_epochs + 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning after every partial_fit
            clf.partial_fit(d["x_tr"], d["y_tr"], classes=d["classes"])
        loss = float(log_loss(d["y_va"], clf.predict_proba(d["x_va"]), labels=d["classes"]))
        report(loss, epoch)
    return loss


def suggest(trial: Any, space: dict[str, tuple[Any, ...]]) -> dict[str, Any]:
    """Optuna: suggest every dimension of ``space`` on ``trial``."""
    out: dict[str, Any] = {}
    for name, dim in space.items():
        if dim[0] == "categorical":
            out[name] = trial.suggest_categorical(name, list(dim[1]))
        elif dim[0] == "int":
            out[name] = trial.suggest_int(name, dim[1], dim[2], log=dim[3])
        else:
            out[name] = trial.suggest_float(name, dim[1], dim[2], log=dim[3])
    return out


def optuna_objective(space: dict[str, tuple[Any, ...]], *,
                     seed_base: int = 0) -> Callable[[Any], float]:
    """The Optuna objective users write for this workload: suggest ``space``, train, report
    the validation loss every epoch and raise ``TrialPruned`` when the study's pruner says
    so; trial ``n`` initialises its model with seed ``seed_base + n``."""
    import optuna

    def objective(trial: optuna.Trial) -> float:
        params = suggest(trial, space)

        def report(loss: float, epoch: int) -> None:
            trial.report(loss, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()

        return train(params, report, seed=seed_base + trial.number)

    return objective


def ray_space(space: dict[str, tuple[Any, ...]]) -> dict[str, Any]:
    """Ray Tune: the same space as ``tune`` sampling domains."""
    from ray import tune

    out: dict[str, Any] = {}
    for name, dim in space.items():
        if dim[0] == "categorical":
            out[name] = tune.choice(list(dim[1]))
        elif dim[0] == "int":
            # lograndint's upper bound is exclusive
            out[name] = (tune.lograndint(dim[1], dim[2] + 1) if dim[3]
                         else tune.randint(dim[1], dim[2] + 1))
        else:
            out[name] = tune.loguniform(dim[1], dim[2]) if dim[3] else tune.uniform(*dim[1:3])
    return out
