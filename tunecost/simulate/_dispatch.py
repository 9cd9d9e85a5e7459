"""The dispatcher: :func:`simulate` chooses an engine (the :data:`ENGINES` registry) and
hands it the run's root seed."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from tunecost._atomic import check_writable
from tunecost._rng import RngLike, root_sequence
from tunecost.carbon import IntensitySeries
from tunecost.config import CampaignConfig
from tunecost.exceptions import ConfigError
from tunecost.simulate._backends import Backend
from tunecost.simulate._resolve import carbon_series, replicates_and_seed
from tunecost.simulate._result import CampaignResult, finite_totals
from tunecost.simulate._vectorized import run_vectorized
from tunecost.simulate.events import needs_replay, run_events
from tunecost.simulate.start_time import best_start, start_offsets_h

__all__ = ["ENGINES", "check_start_window", "simulate"]

ENGINES = {"vectorized": run_vectorized, "replay": run_events}
"""Registry: engine name -> its runner, ``run(config, *, replicates, root, ledger, progress,
**options)``; ``"auto"`` picks ``"replay"`` when a study needs it."""


@finite_totals
def simulate(
    config: CampaignConfig,
    *,
    replicates: int | None = None,
    seed: int | None = None,
    rng: RngLike = None,
    chunk_size: int | None = None,
    ledger: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    backend: str | Backend = "auto",
    address: str | None = None,
    keep_replicates: bool | None = None,
    engine: str = "auto",
    timeline: str | Path | None = None,
    start_window_h: float | None = None,
    start_step_h: float = 1.0,
) -> CampaignResult:
    """Simulate ``replicates`` independent runs of a campaign.

    Args:
        config: the campaign.
        replicates: number of Monte Carlo replicates (default: the config's).
        seed: root seed (default: the config's); the same seed gives identical results, in
            any process. Chunks draw from independent streams spawned from it.
        rng: instead of ``seed``, the root as an int, a ``SeedSequence`` or a ``Generator``
            (one draw from it seeds the run); the entropy used is in the summary's
            ``seed_entropy``.
        chunk_size: replicates simulated at once (default: sized to bound memory). The
            vectorised engine's results depend on it, so it is reported; the replay's do not
            (each replicate is simulated on its own).
        ledger: write replicate 0's per-job rows to this CSV file (atomically).
        progress: called as ``progress(done, total)`` after each chunk.
        backend: where chunks run: ``"auto"`` (``"processes"`` for a run of several chunks
            on a machine of several cores, else ``"local"``), ``"local"`` (this process),
            ``"processes"`` (a worker process per core), ``"ray"`` (one Ray task per chunk),
            or a :class:`Backend`. The result is identical, bit for bit, on every backend for
            the same seed and chunk size, on either engine.
        address: Ray cluster to connect to when Ray is not yet initialised (``"auto"``,
            ``"HOST:PORT"``, ``"ray://HOST:10001"``); ``None`` starts a local one.
        keep_replicates: keep every replicate's totals in ``metrics`` (default: only up to
            :data:`KEEP_REPLICATES_MAX` replicates). Otherwise ``stats`` holds streaming
            summaries, memory does not grow with ``replicates``, and the summary's
            percentiles are within 0.1 % relative error (``quantile_method`` says which).
        engine: a name in :data:`ENGINES`: ``"vectorized"`` (i.i.d. trials, list-scheduled
            in chunks: :mod:`tunecost.simulate._vectorized`), ``"replay"`` (the event-driven
            replay of :mod:`tunecost.simulate.events`: real samplers, pruners and schedulers
            on a simulated clock), or ``"auto"``: the replay when a study's strategy is one
            only the replay runs (``optuna``, ``ray_tune``).
        timeline: replay only: write replicate 0's per-worker timeline CSV and Gantt PNG.
        start_window_h: also find the start, within this many hours after the carbon
            series' hour 0 (where the campaign is simulated to start), every
            ``start_step_h`` hours, at which the campaign's power profile
            (:meth:`CampaignResult.power_profile`) emits the least CO2e: the result's
            ``start_time`` (:func:`~tunecost.simulate.start_time.best_start`). Needs an
            hourly carbon series (``carbon.series_csv``).
        start_step_h: hours between the candidate starts.
    """
    # Checked before any work: a ledger path that is a folder must not fail after the run.
    if ledger is not None:
        check_writable(ledger, what="ledger")
    if timeline is not None:
        check_writable(timeline, what="timeline")
    if engine != "auto" and engine not in ENGINES:
        raise ConfigError(
            f"engine must be one of 'auto', {', '.join(map(repr, ENGINES))}, but got {engine!r}"
        )
    if rng is not None and seed is not None:
        raise ConfigError("pass `seed` or `rng`, not both")
    # Checked before the run: a constant intensity or a bad window must not fail after it.
    series = (None if start_window_h is None
              else check_start_window(config, start_window_h, start_step_h))
    name = engine if engine != "auto" else "replay" if needs_replay(config) else "vectorized"
    n_reps, root_seed = replicates_and_seed(config, replicates, seed)
    root = root_sequence(root_seed if rng is None else rng)
    options: dict[str, object] = {"chunk_size": chunk_size, "backend": backend,
                                  "address": address, "keep_replicates": keep_replicates}
    if timeline is not None:
        if name != "replay":
            raise ConfigError("a worker timeline comes from the replay engine: pass "
                              "engine='replay' (tunecost simulate --engine replay)")
        options["timeline"] = timeline
    result = ENGINES[name](config, replicates=n_reps, root=root, ledger=ledger,
                           progress=progress, **options)
    if start_window_h is None or series is None:
        return result
    choice = best_start(result.power_profile(), series, window_h=start_window_h,
                        step_h=start_step_h)
    return dataclasses.replace(result, start_time=choice)


def check_start_window(
    config: CampaignConfig, window_h: float, step_h: float
) -> IntensitySeries:
    """The campaign's carbon series, for a start-time search over ``window_h`` hours in
    ``step_h`` steps, checked before any simulation runs.

    Raises:
        ConfigError: the campaign's intensity is constant (no ``carbon.series_csv``), or
            the window or step breaks a rule of
            :func:`~tunecost.simulate.start_time.start_offsets_h`.
    """
    series = carbon_series(config.carbon)
    if series is None:
        raise ConfigError(
            f"campaign {config.name!r}: a carbon-aware start (start_window_h; tunecost "
            "simulate --start-window) needs an hourly carbon series: set carbon.series_csv "
            "(under a constant intensity every start emits the same)"
        )
    start_offsets_h(window_h=window_h, step_h=step_h)
    return series
