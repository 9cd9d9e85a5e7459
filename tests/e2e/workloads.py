"""The objectives of the end-to-end studies, written the way users write them.

Small real trainings on CPU (scikit-learn's bundled data sets: no download), each a few
milliseconds to a fraction of a second, so that a whole study runs in seconds on a loaded
2-core machine. BLAS stays at whatever the process has: a trial's cost is what it is.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np


@functools.cache
def iris() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_iris

    data = load_iris()
    return data.data, data.target


@functools.cache
def digits_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Digits, 75/25 stratified split, standardised (the same split in every process)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    x, y = load_digits(return_X_y=True)
    x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    scaler = StandardScaler().fit(x_tr)
    return scaler.transform(x_tr), scaler.transform(x_va), y_tr, y_va


def conditional_classifier(trial: Any) -> float:
    """A classifier family, then that family's own hyperparameter: 3-fold CV accuracy.

    ``svc_c`` exists only in SVC trials and ``rf_max_depth`` only in random-forest trials:
    the conditional space of Optuna's canonical scikit-learn example.
    """
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import cross_val_score
    from sklearn.svm import SVC

    x, y = iris()
    classifier = trial.suggest_categorical("classifier", ["SVC", "RandomForest"])
    if classifier == "SVC":
        svc_c = trial.suggest_float("svc_c", 1e-4, 1e4, log=True)
        model: Any = SVC(C=svc_c, gamma="auto")
    else:
        rf_max_depth = trial.suggest_int("rf_max_depth", 2, 32, log=True)
        model = RandomForestClassifier(max_depth=rf_max_depth, n_estimators=20, random_state=0)
    # n_jobs=1: one process, so the trial's CPU time is this process's (joblib workers are a
    # separate question, measured elsewhere).
    return float(cross_val_score(model, x, y, cv=3, n_jobs=1).mean())


SGD_EPOCHS = 30
"""Epochs of a full SGD trial; it reports after each (``step = epoch``)."""


def sgd_partial_fit(trial: Any) -> float:
    """SGD on digits, one ``partial_fit`` pass per epoch, validation error reported each
    epoch; the pruner may stop the trial at any report."""
    import optuna
    from sklearn.linear_model import SGDClassifier

    x_tr, x_va, y_tr, y_va = digits_split()
    classes = np.unique(y_tr)
    alpha = trial.suggest_float("alpha", 1e-6, 1e-1, log=True)
    eta0 = trial.suggest_float("eta0", 1e-4, 1e-1, log=True)
    clf = SGDClassifier(alpha=alpha, learning_rate="constant", eta0=eta0, random_state=0)
    error = 1.0
    for epoch in range(1, SGD_EPOCHS + 1):
        clf.partial_fit(x_tr, y_tr, classes=classes)
        error = 1.0 - float(clf.score(x_va, y_va))
        trial.report(error, epoch)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return error


def matmul_work(n: int, reps: int, seed: int) -> float:
    """CPU work that scales with ``n`` and ``reps`` (about n^3 * reps flops): a stand-in for a
    model's training step. Returns a number so that nothing is optimised away."""
    a = np.random.default_rng(seed).standard_normal((n, n)) / np.sqrt(n)
    for _ in range(reps):
        a = np.tanh(a @ a.T)
    return float(np.abs(a).mean())
