"""The fidelity study's workload as a budgeted Optuna study (tests and their worker processes).

``python tests/_budget_study.py STORAGE STUDY SEED N_TRIALS BUDGET_KWH STOP_WHEN [PRIOR]``
runs one worker of the study with :class:`tunecost.optuna.CostBudget` (what the two-process
test starts twice on one storage).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # a trial's CPU time is its own

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "studies" / "fidelity_cpu"))

import optuna  # noqa: E402
import workload  # noqa: E402  (studies/fidelity_cpu/workload.py)

from tunecost.calibrate import measured  # noqa: E402

PRIOR = REPO / "studies" / "fidelity_cpu" / "calib.json"
"""The fidelity study's random-search calibration (30 trials)."""


objective = workload.optuna_objective(workload.CAL_SPACE)
"""The fidelity study's MLP as users write it (suggest, train, report every epoch, prune)."""


def open_study(storage: str, name: str, seed: int, pruner: Any = None) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(
        study_name=name, storage=storage, load_if_exists=True, direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=pruner or optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2))


def main(argv: list[str]) -> None:
    import tunecost.optuna

    storage, name, seed, n_trials, budget_kwh, stop_when = argv[:6]
    study = open_study(storage, name, int(seed))
    budget = tunecost.optuna.CostBudget(
        budget_kwh=float(budget_kwh), n_trials=int(n_trials), stop_when=stop_when,  # type: ignore[arg-type]
        every=2, replicates=8, prior=argv[6] if len(argv) > 6 else None)
    workload.data()
    study.optimize(measured(objective), n_trials=int(n_trials), callbacks=[budget])
    print(f"stopped: {budget.stop_reason}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
