"""tunecost: what a hyperparameter search or an R&D campaign will cost, before you run it.

Public API:

* :mod:`tunecost.catalog`: reference figures (accelerators, grid intensity, PUE, prices), each
  with its source;
* :mod:`tunecost.accounting`: vectorised energy, CO2e and cost arithmetic;
* :func:`estimate_run`: the cost of one run;
* :mod:`tunecost.papers`: reproductions of Strubell et al. 2019 and Patterson et al. 2021;
* :func:`forecast`: a running study's final totals with a band (:mod:`tunecost.live`;
  imported on first use, it brings the calibration and the replay).
"""

from __future__ import annotations

from typing import Any

from tunecost import accounting, catalog, papers, units
from tunecost.estimate import RunEstimate, RunSpec, estimate_run
from tunecost.exceptions import CatalogKeyError, ConfigError, MissingExtraError, TunecostError

__version__ = "0.1.0"

__all__ = [
    "CatalogKeyError",
    "ConfigError",
    "MissingExtraError",
    "RunEstimate",
    "RunSpec",
    "TunecostError",
    "accounting",
    "catalog",
    "estimate_run",
    "forecast",
    "papers",
    "units",
]


def __getattr__(name: str) -> Any:
    # ``tunecost.forecast`` loads the calibration and the replay engine: only when asked for.
    if name == "forecast":
        from tunecost.live import forecast

        return forecast
    raise AttributeError(f"module 'tunecost' has no attribute {name!r}")
