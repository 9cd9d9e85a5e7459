"""The campaign's simulation behind a report: every replicate kept, as ``tunecost simulate``.

The breakdown and the sensitivity sections read every replicate's totals, so the report
simulates with ``keep_replicates=True`` (and refuses more replicates than can be kept).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tunecost.config import CampaignConfig
from tunecost.exceptions import ConfigError
from tunecost.reports.totals import hours_unit

if TYPE_CHECKING:
    from tunecost.simulate import CampaignResult
    from tunecost.simulate.pipeline import ResolvedCampaign

__all__ = ["CampaignRun", "simulate_campaign"]

STEP = "simulating the campaign"
"""The progress step's name while the campaign is simulated."""


@dataclass(frozen=True, slots=True)
class CampaignRun:
    """A simulated campaign as the report's sections read it.

    Attributes:
        result: the simulation, with every replicate's totals.
        resolved: the campaign with every study's rates, durations and prices resolved.
        summary: ``result.summary()`` (P5/P50/P95 of each total, the assumptions' sources).
        hours_unit: ``GPU-hours`` or ``CPU-hours`` (CPU-only hardware).
    """

    result: CampaignResult
    resolved: ResolvedCampaign
    summary: dict[str, Any]
    hours_unit: str


def simulate_campaign(
    campaign: CampaignConfig,
    *,
    replicates: int | None,
    seed: int,
    engine: str,
    tick: Callable[[str, int, int], None],
) -> CampaignRun:
    """Simulate ``campaign`` with the same entry point and engine choice as
    ``tunecost simulate``, every replicate kept.

    Args:
        replicates: Monte Carlo replicates (``None``: the campaign's own).
        seed: root seed.
        engine: ``auto``, ``vectorized`` or ``replay``.
        tick: ``tick(step, done, total)`` as replicates are simulated.

    Raises:
        ConfigError: more replicates than :data:`tunecost.simulate.KEEP_REPLICATES_MAX`.
    """
    from tunecost.simulate import KEEP_REPLICATES_MAX, simulate
    from tunecost.simulate.pipeline import resolve

    n_reps = replicates if replicates is not None else campaign.replicates
    if n_reps > KEEP_REPLICATES_MAX:
        # The breakdown and the sensitivity need every replicate's totals.
        raise ConfigError(f"--replicates: a report keeps every replicate, so <= "
                          f"{KEEP_REPLICATES_MAX:,} must hold, but got {n_reps:,}")
    tick(STEP, 0, n_reps)
    result = simulate(
        campaign, replicates=n_reps, seed=seed, engine=engine,  # type: ignore[arg-type]
        progress=lambda d, t: tick(STEP, d, t), keep_replicates=True,
    )
    summary = result.summary()
    return CampaignRun(result, resolve(campaign), summary, hours_unit(summary))
