"""How far each trial ran: the resource parameter, the step offset, a pruned trial's share.

A pruned trial is fitted at the resource it reached: as its resource parameter (``steps``)
where one equals the fidelity, else as its reached share of the complete trials' budget.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tunecost.calibrate.records import TrialRecord


def _resource_param(records: Sequence[TrialRecord]) -> str | None:
    complete = [r for r in records if r.state == "COMPLETE" and r.fidelity is not None]
    if not complete:
        return None
    for name, v in complete[0].params.items():
        if isinstance(v, int | float) and not isinstance(v, bool) and all(
            r.params.get(name) == r.fidelity for r in complete
        ):
            return name
    return None


def _step_offset(steps: Sequence[float]) -> float | None:
    """What to add to reported steps to count the work they follow, or ``None`` (negative).

    0 unless a step is 0: Optuna's ``for step in range(n_epochs): trial.report(v, step)``
    reports the first epoch's value as step 0, so the work is one report spacing more (the
    gcd of integral steps, else the smallest positive one; 1 when every step is 0).

    >>> _step_offset([0, 1, 2, 11]), _step_offset([12, 24]), _step_offset([0, 0])
    (1.0, 0.0, 1.0)
    """
    x = np.asarray(steps, dtype=float)
    if x.size == 0 or np.any(x < 0):
        return None if x.size else 0.0
    if x.min() > 0:
        return 0.0
    positive = x[x > 0]
    if not positive.size:
        return 1.0
    if np.all(positive == np.round(positive)):
        return float(np.gcd.reduce(positive.astype(np.int64)))
    return float(positive.min())


def _reached_shares(records: Sequence[TrialRecord], offset: float | None
                    ) -> dict[int, float] | None:
    """Share of its budget each pruned trial ran, by record index, for a study whose budget
    is not a hyperparameter (``None`` without pruned trials or complete ones to set it).

    The budget is the complete trials' median last step. Steps counted from 0 (Optuna's
    ``for step in range(n_epochs): trial.report(v, step)``) are shifted by the report
    spacing, so a trial pruned at its first report (step 0) ran one report's work, not none.
    """
    complete = [r.fidelity for r in records if r.state == "COMPLETE" and r.fidelity is not None]
    pruned = {i: r.fidelity for i, r in enumerate(records)
              if r.state == "PRUNED" and r.fidelity is not None}
    if not complete or not pruned:
        return None
    if offset is None:
        return None
    budget = float(np.median(complete)) + offset
    if budget <= 0:
        return None
    return {i: min((float(f) + offset) / budget, 1.0) for i, f in pruned.items()}
