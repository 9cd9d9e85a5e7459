"""Several campaigns side by side: a :class:`~tunecost.config.ScenarioSet` simulated in
order, each scenario with its own ledger and timeline file.

Example:
    >>> from tunecost.config import ScenarioSet
    >>> one = {"workers": 1, "carbon": {"g_co2e_per_kwh": 400},
    ...        "studies": [{"name": "s", "strategy": {"kind": "grid", "n_configs": 2},
    ...                     "duration": {"dist": "fixed", "duration_h": 1},
    ...                     "hardware": {"accelerator": "v100-sxm2"},
    ...                     "power": {"kind": "constant", "accelerator_w": 250}}]}
    >>> pair = ScenarioSet.model_validate({"name": "pair", "scenarios": [
    ...     {**one, "name": "one"}, {**one, "name": "two", "workers": 2}]})
    >>> [float(r.metrics["wall_clock_h"][0]) for r in simulate_scenarios(pair, replicates=3)]
    [2.0, 1.0]
    >>> per_scenario_path(Path("ledger.csv"), "a/b", 2)
    PosixPath('ledger.a_b.csv')
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tunecost.config import CampaignConfig, ScenarioSet
from tunecost.simulate._dispatch import check_start_window, simulate
from tunecost.simulate._result import CampaignResult

__all__ = ["per_scenario_path", "simulate_scenarios"]


def per_scenario_path(path: Path | None, scenario: str, n_scenarios: int) -> Path | None:
    """``path`` for one scenario of ``n_scenarios``: with several, one file per scenario,
    named after it (``ledger.csv`` → ``ledger.<scenario>.csv``)."""
    if path is None or n_scenarios == 1:
        return path
    # Only characters safe in a file name: a scenario "a/b" must not become a folder.
    tag = re.sub(r"[^\w.-]+", "_", scenario)
    return path.with_name(f"{path.stem}.{tag}{path.suffix}")


def simulate_scenarios(
    loaded: CampaignConfig | ScenarioSet,
    *,
    ledger: str | Path | None = None,
    timeline: str | Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    **options: Any,
) -> list[CampaignResult]:
    """Simulate a campaign, or every scenario of a set in order.

    Args:
        loaded: what :func:`~tunecost.config.load_config` returned.
        ledger, timeline: as :func:`~tunecost.simulate.simulate`'s; with several scenarios,
            one file per scenario (:func:`per_scenario_path`).
        progress: called as ``progress(scenario, done, total)`` after each chunk.
        options: the other arguments of :func:`~tunecost.simulate.simulate` (replicates,
            seed, backend, engine, ...), the same for every scenario.

    Returns:
        One result per scenario, in the set's order.
    """
    campaigns = list(loaded.scenarios) if isinstance(loaded, ScenarioSet) else [loaded]
    n = len(campaigns)
    if options.get("start_window_h") is not None:  # every scenario, before any one runs
        for campaign in campaigns:
            check_start_window(campaign, options["start_window_h"],
                               options.get("start_step_h", 1.0))
    results = []
    for campaign in campaigns:
        report = None
        if progress is not None:
            def report(done: int, total: int, name: str = campaign.name) -> None:
                progress(name, done, total)
        results.append(simulate(
            campaign,
            ledger=per_scenario_path(None if ledger is None else Path(ledger), campaign.name, n),
            timeline=per_scenario_path(None if timeline is None else Path(timeline),
                                       campaign.name, n),
            progress=report,
            **options,
        ))
    return results
