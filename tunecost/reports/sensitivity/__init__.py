"""Which assumption moves a campaign's totals most: one-at-a-time (tornado) and Sobol indices.

Seven assumptions, each a range around the campaign's own value (:func:`default_assumptions`):

* ``pue``, ``grid_intensity``, ``power`` (IT power per trial, accelerator and host), ``price``
  (rental rate and electricity price): these scale totals exactly (energy is linear in PUE
  and power; CO2e in energy and intensity; dollars in price), so they are applied as factors
  on the simulated totals;
* ``duration_spread`` (the log-sd ``sigma`` of every study's duration model, or the residual
  spread of a calibrated one; the mean or median the config states is kept),
  ``failure_rate`` (crash probability per job) and ``n_trials`` (trials per study, or
  study instances for strategies whose trials are not independent): these change the jobs, so
  the vectorised simulator is re-run, with a fixed seed so every evaluation uses the same
  random numbers (common random numbers: differences come from the assumption, not from
  sampling noise).

:func:`tornado` moves one assumption at a time to each end of its range; :func:`sobol`
samples all of them at once (SALib's Sobol' sequence and estimator) and splits the variance of
each total into first-order and total-effect indices. :func:`sobol_indices` is the generic
SALib wrapper both use (tested on the Ishigami function).
"""

from tunecost.reports.sensitivity.assumptions import (
    ASSUMPTIONS,
    LABELS,
    RANK_BY,
    SHORT,
    SPREAD_LEVELS,
    TOTALS,
    Assumption,
    default_assumptions,
)
from tunecost.reports.sensitivity.sobol import SobolResult, sobol, sobol_indices
from tunecost.reports.sensitivity.tornado import TornadoResult, dollars_key, tornado
from tunecost.reports.sensitivity.totals_model import (
    SCALE_ASSUMPTIONS,
    ScaledTotalsModel,
    TotalsModel,
)

__all__ = [
    "ASSUMPTIONS",
    "LABELS",
    "RANK_BY",
    "SHORT",
    "SPREAD_LEVELS",
    "TOTALS",
    "dollars_key",
    "SCALE_ASSUMPTIONS",
    "Assumption",
    "ScaledTotalsModel",
    "SobolResult",
    "TornadoResult",
    "TotalsModel",
    "default_assumptions",
    "sobol",
    "sobol_indices",
    "tornado",
]
