"""Campaign simulation: the distribution of a campaign's trials, hours, energy, CO2e and cost.

:func:`simulate` chooses an engine and returns a :class:`CampaignResult` holding every
replicate's totals. Both engines share one pipeline: the job draw
(:mod:`~tunecost.simulate._draw`), a scheduler (the vectorised list scheduler,
:mod:`~tunecost.simulate._list_scheduler`, or the event engine,
:mod:`~tunecost.simulate.events`) reduced to a :class:`~tunecost.simulate._totals.Usage`, and
one accounting step (:mod:`~tunecost.simulate._totals`, through :mod:`tunecost.accounting`).

Example:
    >>> from tunecost.config import CampaignConfig
    >>> cfg = CampaignConfig.model_validate({
    ...     "name": "demo", "workers": 2, "pue": 1.5, "carbon": {"g_co2e_per_kwh": 400},
    ...     "studies": [{"name": "grid", "strategy": {"kind": "grid", "n_configs": 5},
    ...                  "duration": {"dist": "fixed", "duration_h": 3},
    ...                  "hardware": {"accelerator": "v100-sxm2"},
    ...                  "power": {"kind": "constant", "accelerator_w": 200}}]})
    >>> result = simulate(cfg, replicates=10, seed=1)
    >>> float(result.metrics["wall_clock_h"][0])   # ceil(5 / 2) × 3 h
    9.0
    >>> round(float(result.metrics["energy_kwh"][0]), 3)   # 5 × 3 h × 200 W × 1.5
    4.5
"""

from tunecost.simulate._backends import (
    BACKENDS,
    Backend,
    LocalBackend,
    ProcessBackend,
    RayBackend,
    get_backend,
    ray_connect,
)
from tunecost.simulate._dispatch import ENGINES, simulate
from tunecost.simulate._ledger import LEDGER_COLUMNS
from tunecost.simulate._result import (
    KEEP_REPLICATES_MAX,
    SCHEMA_VERSION,
    CampaignResult,
    StudyResult,
)
from tunecost.simulate.scenarios import per_scenario_path, simulate_scenarios
from tunecost.simulate.start_time import PowerProfile, StartChoice, best_start

__all__ = [
    "BACKENDS",
    "ENGINES",
    "KEEP_REPLICATES_MAX",
    "LEDGER_COLUMNS",
    "SCHEMA_VERSION",
    "Backend",
    "CampaignResult",
    "LocalBackend",
    "PowerProfile",
    "ProcessBackend",
    "RayBackend",
    "StartChoice",
    "StudyResult",
    "best_start",
    "get_backend",
    "ray_connect",
    "per_scenario_path",
    "simulate",
    "simulate_scenarios",
]

