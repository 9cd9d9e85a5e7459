"""Event-driven replay: real Optuna samplers and pruners and Ray Tune schedulers on a
simulated clock with N workers, against a surrogate objective built from a calibration.

The vectorised path (:mod:`tunecost.simulate`) treats trials as independent draws; here the
search decides, from the values its trials report at their simulated times, which trial runs
next and which stop, so what TPE, a pruner, or a synchronisation barrier does to the bill is
measured rather than assumed.

Example:
    >>> from tunecost.config import CampaignConfig
    >>> cfg = CampaignConfig.model_validate({
    ...     "name": "demo", "workers": 2, "carbon": {"g_co2e_per_kwh": 400},
    ...     "studies": [{"name": "s", "strategy": {"kind": "random", "n_trials": 4},
    ...                  "duration": {"dist": "fixed", "duration_h": 1},
    ...                  "hardware": {"accelerator": "v100-sxm2"},
    ...                  "power": {"kind": "constant", "accelerator_w": 250}}]})
    >>> result = replay(cfg, replicates=3, seed=0)
    >>> float(result.metrics["wall_clock_h"][0]), float(result.metrics["energy_kwh"][0])
    (2.0, 1.0)
"""

from tunecost.replay._events import EventQueue, Timeline
from tunecost.replay.engine import TIMELINE_COLUMNS, needs_replay, replay, report_schedule
from tunecost.replay.surrogate import Draws, Surrogate

__all__ = ["TIMELINE_COLUMNS", "Draws", "EventQueue", "Surrogate", "Timeline", "needs_replay",
           "replay", "report_schedule"]
