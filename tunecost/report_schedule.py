"""At which step numbers a trial reports its objective, in the objective's own units.

A real objective calls ``trial.report(loss, step)`` with ``step`` its own counter (epochs,
iterations), and every pruner argument is in those units: ``n_warmup_steps``,
``HyperbandPruner(min_resource=…, max_resource=…)``, ``SuccessiveHalvingPruner(min_resource=…)``.
A replayed trial must report at the same numbers, or those arguments mean something else.

A :class:`ReportSchedule` gives the steps of a trial whose budget is ``resource`` steps:

- ``every: d``: at ``d, 2d, …`` up to ``resource`` (an objective that evaluates every epoch:
  ``every: 1``);
- ``count: n``: at ``k·(resource // n)`` for ``k = 1..n`` (the H200 objective: 8 reports);
- ``steps: [...]``: at the listed steps that do not pass ``resource``;

each with ``final: true`` adding ``resource`` itself when the rule does not land on it (the
H200 objective's ``steps = 100`` trial reports at 12, 24, …, 96 and 100). The rule gives how
much work a report follows; ``offset`` is subtracted from the number the objective passes to
``trial.report``: Optuna's own ``for step in range(n_epochs): ...; trial.report(v, step)``
reports epoch 1's value as step 0, i.e. ``every: 1, offset: 1``. ``resource`` is the
budget of a full trial when the calibration has no resource parameter (a fixed number of
epochs); with one (``steps`` searched), each trial's own value is its budget.

Example:
    >>> ReportSchedule(count=8).steps_for(100).tolist()
    [12.0, 24.0, 36.0, 48.0, 60.0, 72.0, 84.0, 96.0, 100.0]
    >>> ReportSchedule(every=1, resource=4).steps_for().tolist()
    [1.0, 2.0, 3.0, 4.0]
    >>> ReportSchedule(every=1, resource=4, offset=1).reported(ReportSchedule(every=1,
    ...     resource=4, offset=1).steps_for()).tolist()
    [0.0, 1.0, 2.0, 3.0]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tunecost.exceptions import ConfigError

__all__ = ["ReportSchedule", "infer_schedule"]

_Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class ReportSchedule(BaseModel):
    """The step numbers a trial reports at (exactly one of ``every``, ``count``, ``steps``).

    Attributes:
        every: spacing of the reports, steps.
        count: number of evenly spaced reports (integer division of the budget).
        steps: the report steps themselves, ascending.
        final: also report at the budget itself when the rule does not land on it.
        resource: budget of a full trial, steps; needed where the trial's budget is not a
            hyperparameter.
        offset: subtracted from a report's work step to give the number the objective
            reports it as (1 for a ``range(n)`` loop that reports from step 0).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    every: _Positive | None = None
    count: Annotated[int, Field(ge=1, le=100_000)] | None = None
    steps: list[_Positive] | None = None
    final: bool = True
    resource: _Positive | None = None
    offset: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0

    @model_validator(mode="after")
    def _one_rule(self) -> ReportSchedule:
        given = [k for k in ("every", "count", "steps") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"exactly one of every, count, steps must be given, got "
                             f"{', '.join(given) or 'none'}")
        if self.steps is not None and (not self.steps or sorted(self.steps) != self.steps
                                       or len(set(self.steps)) != len(self.steps)):
            raise ValueError(f"steps must be a non-empty strictly ascending list, got "
                             f"{self.steps}")
        first = self.every if self.every is not None else (self.steps or [None])[0]
        if first is not None and self.offset > first:
            raise ValueError(f"offset <= the first report's step must hold (a report is never "
                             f"numbered below 0), but got offset={self.offset:g} and a first "
                             f"step of {first:g}")
        if (self.every is not None and self.resource is not None
                and self.resource / self.every > 100_000):
            raise ValueError(f"resource / every must be <= 100,000 reports, got "
                             f"{self.resource:g} / {self.every:g}")
        return self

    def steps_for(self, resource: float | None = None) -> np.ndarray:
        """Report steps of a trial with budget ``resource`` (default: :attr:`resource`).

        Returns:
            Ascending steps, shape ``(m,)``, ``m >= 1``; the last is ``resource`` when
            ``final`` holds.

        Raises:
            ConfigError: no budget is known, or the rule puts no report inside it.
        """
        r = self.resource if resource is None else float(resource)
        if r is None or not math.isfinite(r) or r <= 0:
            raise ConfigError(f"a report schedule needs the trial's budget: resource > 0 must "
                              f"hold, but got resource={r}")
        if self.every is not None:
            n = int(math.floor(r / self.every + 1e-9))
            if n > 100_000:
                raise ConfigError(f"a trial reports at most 100,000 times, but every "
                                  f"{self.every:g} steps of a budget of {r:g} is {n:,}")
            out = self.every * np.arange(1, n + 1, dtype=float)
        elif self.count is not None:
            d = math.floor(r / self.count)
            out = (d * np.arange(1, self.count + 1, dtype=float) if d >= 1
                   else np.empty(0))
        else:
            assert self.steps is not None
            out = np.array([s for s in self.steps if s <= r + 1e-9], dtype=float)
        if self.final and (out.size == 0 or out[-1] < r - 1e-9):
            out = np.append(out, r)
        if out.size == 0:
            raise ConfigError(f"the report schedule {self.describe()} puts no report within a "
                              f"budget of {r:g} steps")
        return out

    def reported(self, steps: np.ndarray) -> np.ndarray:
        """The numbers the objective passes to ``trial.report`` for work ``steps``.

        Raises:
            ConfigError: ``offset`` numbers a report below 0 (a ``count`` rule whose spacing
                is smaller than it).
        """
        out = np.asarray(steps, dtype=float) - self.offset
        if out.size and out[0] < 0:
            raise ConfigError(f"offset {self.offset:g} numbers the first report at "
                              f"{out[0]:g}; offset <= the first report's step must hold")
        return out

    def describe(self) -> str:
        """One line for outputs, e.g. ``every 1 step (budget 12)``."""
        if self.every is not None:
            rule = f"every {self.every:g} step{'s' if self.every != 1 else ''}"
        elif self.count is not None:
            rule = f"{self.count} evenly spaced"
        else:
            rule = f"at steps {', '.join(f'{s:g}' for s in (self.steps or []))}"
        extra = [] if self.resource is None else [f"budget {self.resource:g}"]
        if self.final and self.every is None:
            extra.append("and at the end")
        if self.offset:
            extra.append(f"reported as step - {self.offset:g}")
        return rule + (f" ({', '.join(extra)})" if extra else "")


def infer_schedule(curves: Sequence[Sequence[float]], resources: Sequence[float]
                   ) -> ReportSchedule | None:
    """The schedule that produced the report steps of measured trials.

    Args:
        curves: each trial's report steps, ascending.
        resources: each trial's budget (its last step when it ran to the end), same length.

    Returns:
        ``every: d`` when every trial reports at the multiples of one ``d``; ``count: n``
        when every trial reports at ``k·(budget // n)``; else the longest trial's steps;
        ``None`` without curves. ``resource`` is set when every trial had the same budget.
    """
    pairs = [(np.asarray(c, dtype=float), float(r)) for c, r in zip(curves, resources,
                                                                      strict=True) if len(c)]
    if not pairs:
        return None
    budgets = {r for _, r in pairs}
    resource = budgets.pop() if len(budgets) == 1 else None

    def matches(rule: ReportSchedule) -> bool:
        for c, r in pairs:
            try:
                want = rule.steps_for(r)
            except ConfigError:
                return False
            if len(want) != len(c) or not np.allclose(want, c):
                return False
        return True

    first = pairs[0][0]
    candidates = [ReportSchedule(every=float(first[0]), final=f, resource=resource)
                  for f in (True, False)]
    candidates += [ReportSchedule(count=n, final=f, resource=resource)
                   for n in (len(first) - 1, len(first)) if n >= 1 for f in (True, False)]
    for rule in candidates:
        if matches(rule):
            return rule
    longest = max(pairs, key=lambda p: len(p[0]))[0]
    return ReportSchedule(steps=longest.tolist(), final=False, resource=resource)
