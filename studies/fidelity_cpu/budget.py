"""The fidelity study's TPE + MedianPruner search under a kWh budget (README, "Stop at a
budget").

    python studies/fidelity_cpu/budget.py --budget-kwh 4e-5 --stop-when forecast_p95

40 trials of :mod:`workload` on one worker (SQLite under ``runs/``), measured by
``tunecost.calibrate.measured`` and watched by ``tunecost.optuna.CostBudget`` with the random
search's calibration (``calib.json``) as the prior until 16 trials have finished; the
``tunecost`` logger prints every forecast and the stop. A whole run of this search spends
about 8e-5 kWh on this machine's CPU estimate (``data/runs.jsonl``), so 4e-5 is half.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import optuna  # noqa: E402
import workload  # noqa: E402

import tunecost.optuna  # noqa: E402
from tunecost.calibrate import measured  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget-kwh", type=float, default=4e-5)
    ap.add_argument("--stop-when", default="spent",
                    choices=("spent", "forecast_p95", "forecast_p50"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--every", type=int, default=4, help="finished trials between forecasts")
    args = ap.parse_args()
    logging.basicConfig(format="%(message)s")
    logging.getLogger("tunecost").setLevel(logging.INFO)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    (HERE / "runs").mkdir(exist_ok=True)
    db = HERE / "runs" / f"budget_{args.stop_when}.db"
    db.unlink(missing_ok=True)
    study = optuna.create_study(
        study_name="budget", storage=f"sqlite:///{db}", direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=args.seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2))
    budget = tunecost.optuna.CostBudget(
        budget_kwh=args.budget_kwh, n_trials=40, stop_when=args.stop_when, every=args.every,
        prior=HERE / "calib.json", replicates=16)

    objective = workload.optuna_objective(workload.WIDE_SPACE)
    workload.data()
    study.optimize(measured(objective), n_trials=40, callbacks=[budget])
    spent = study.user_attrs["tunecost:spent_energy_kwh"]
    print(f"{len(study.trials)} trials, {spent:.3g} kWh spent of {args.budget_kwh:g}; "
          f"updates took {max(budget.update_s):.2f} s at most")


if __name__ == "__main__":
    main()
