"""The event engine: real Optuna samplers and pruners and Ray Tune schedulers on a simulated
clock with N workers, against a surrogate objective built from a calibration.

The vectorised engine (:mod:`tunecost.simulate._vectorized`) treats trials as independent
draws; here the search decides, from the values its trials report at their simulated times,
which trial runs next and which stop, so what TPE, a pruner, or a synchronisation barrier does
to the bill is measured rather than assumed. It shares the job draw and the accounting with
the vectorised engine; run it with ``simulate(config, engine="replay")``.

Each strategy is replayed by the policy the registry (:data:`POLICIES`) names for it; a
policy is a :class:`Policy` with one required method, ``next_job``. Replicates run in chunks
on a backend (:func:`run_events`' ``backend``), with the same bits on any.

Example:
    >>> from tunecost.config import CampaignConfig
    >>> from tunecost.simulate import simulate
    >>> cfg = CampaignConfig.model_validate({
    ...     "name": "demo", "workers": 2, "carbon": {"g_co2e_per_kwh": 400},
    ...     "studies": [{"name": "s", "strategy": {"kind": "random", "n_trials": 4},
    ...                  "duration": {"dist": "fixed", "duration_h": 1},
    ...                  "hardware": {"accelerator": "v100-sxm2"},
    ...                  "power": {"kind": "constant", "accelerator_w": 250}}]})
    >>> result = simulate(cfg, engine="replay", replicates=3, seed=0)
    >>> float(result.metrics["wall_clock_h"][0]), float(result.metrics["energy_kwh"][0])
    (2.0, 1.0)
"""

from tunecost.simulate.events._fast_tpe import fast_log_ndtr
from tunecost.simulate.events._job import WAIT, Continuation, Job, Policy
from tunecost.simulate.events._queue import EventQueue, Timeline
from tunecost.simulate.events.engine import (
    MAX_REPLAY_TRIALS,
    TIMELINE_COLUMNS,
    needs_replay,
    report_schedule,
    run_events,
    run_replicates,
)
from tunecost.simulate.events.registry import (
    POLICIES,
    StudyContext,
    policy_class,
    policy_key,
    register_policy,
    study_context,
)
from tunecost.simulate.events.surrogate import Draws, Surrogate

__all__ = ["MAX_REPLAY_TRIALS", "POLICIES", "TIMELINE_COLUMNS", "WAIT", "Continuation", "Draws",
           "EventQueue", "Job", "Policy", "StudyContext", "Surrogate", "Timeline",
           "fast_log_ndtr", "needs_replay", "policy_class", "policy_key", "register_policy",
           "report_schedule", "run_events", "run_replicates", "study_context"]
