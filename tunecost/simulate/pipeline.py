"""The simulation pipeline, step by step, for code that runs it on its own terms (the
sensitivity analysis evaluates one set of draws at many assumption values).

Each step is one function, the same ones :func:`tunecost.simulate.simulate` runs:

1. :func:`resolve`: a config to numbers (catalog look-ups, models built;
   :func:`expected_trial` is one full-fidelity trial's mean duration and power);
2. :func:`build_jobs`: draw ``m`` replicates of every job (plan, accelerators, durations or a
   calibration's costs, :func:`apply_crashes`, preemptions), ``(m, J)`` arrays;
3. :func:`schedule`: list-schedule them on the pool (the scheduling kernel,
   :mod:`tunecost.simulate._kernel`);
4. :func:`usage`: what the schedule used, per study (a :class:`Usage`);
5. :func:`totals`: kWh, CO2e and dollars through :mod:`tunecost.accounting`.

The engine itself runs :func:`draw_chunk` and :func:`schedule_usage`, the same draw and the
same sums without the ``(m, J)`` arrays it does not need.

Example:
    >>> from tunecost._rng import as_generator
    >>> from tunecost.config import CampaignConfig
    >>> cfg = CampaignConfig.model_validate({
    ...     "name": "demo", "workers": 2, "pue": 1.5, "carbon": {"g_co2e_per_kwh": 400},
    ...     "studies": [{"name": "grid", "strategy": {"kind": "grid", "n_configs": 5},
    ...                  "duration": {"dist": "fixed", "duration_h": 3},
    ...                  "hardware": {"accelerator": "v100-sxm2"},
    ...                  "power": {"kind": "constant", "accelerator_w": 200}}]})
    >>> campaign = resolve(cfg)
    >>> jobs = build_jobs(campaign, 4, rng=as_generator(0))
    >>> sched = schedule(jobs, cfg.workers, sequential=False)
    >>> t = totals(campaign, usage(campaign, jobs, sched))
    >>> t.campaign["wall_clock_h"].tolist(), round(float(t.campaign["energy_kwh"][0]), 3)
    ([9.0, 9.0, 9.0, 9.0], 4.5)
"""

from tunecost.simulate._draw import (
    COMPLETE,
    CRASHED,
    PRUNED,
    SKIPPED,
    STATE_NAMES,
    Draw,
    Jobs,
    apply_crashes,
    build_jobs,
    draw_chunk,
    draw_study,
)
from tunecost.simulate._list_scheduler import Schedule, schedule, schedule_usage, usage
from tunecost.simulate._resolve import ResolvedCampaign, ResolvedStudy, expected_trial, resolve
from tunecost.simulate._totals import METRICS, STUDY_METRICS, Totals, Usage, totals

__all__ = [
    "COMPLETE",
    "CRASHED",
    "METRICS",
    "PRUNED",
    "SKIPPED",
    "STATE_NAMES",
    "STUDY_METRICS",
    "Draw",
    "Jobs",
    "ResolvedCampaign",
    "ResolvedStudy",
    "Schedule",
    "Totals",
    "Usage",
    "apply_crashes",
    "build_jobs",
    "draw_chunk",
    "draw_study",
    "expected_trial",
    "resolve",
    "schedule",
    "schedule_usage",
    "totals",
    "usage",
]
