"""Sobol indices of the totals over every assumption at once (SALib's Saltelli scheme)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunecost._rng import RngLike, root_sequence
from tunecost.exceptions import ConfigError, MissingExtraError
from tunecost.reports.sensitivity.assumptions import SPREAD_LEVELS, TOTALS, Assumption
from tunecost.reports.sensitivity.totals_model import Progress, TotalsModel


@dataclass(frozen=True, slots=True)
class SobolResult:
    """Variance-based indices of each total.

    Attributes:
        names: the inputs.
        indices: total → ``{"S1", "S1_conf", "ST", "ST_conf"}`` → one value per input
            (NaN for a total with no variance, e.g. dollars without prices).
        n_base: SALib's base sample size ``N``; ``n_evals`` = ``N × (D + 2)``.
    """

    names: list[str]
    indices: dict[str, dict[str, list[float]]]
    n_base: int
    n_evals: int
    seed: int

    def to_rows(self) -> list[dict[str, Any]]:
        rows = []
        for total, idx in self.indices.items():
            for i, name in enumerate(self.names):
                rows.append({"total": total, "assumption": name,
                             **{k: idx[k][i] for k in ("S1", "S1_conf", "ST", "ST_conf")}})
        return rows


def _salib() -> tuple[Any, Any]:
    try:
        from SALib.analyze import sobol as analyze
        from SALib.sample import sobol as sample
    except ImportError:  # pragma: no cover - depends on the environment
        raise MissingExtraError("SALib", "sensitivity") from None
    return sample, analyze


def _int_seed(rng: RngLike) -> int:
    """An int seed for a library that takes only ints (SALib)."""
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool):
        return int(rng)
    return int(root_sequence(rng).generate_state(1, np.uint32)[0])


def sobol_indices(
    func: Callable[[np.ndarray], Mapping[str, np.ndarray]],
    names: Sequence[str],
    bounds: Sequence[tuple[float, float]],
    *,
    n_base: int,
    rng: RngLike = 0,
) -> SobolResult:
    """First-order and total Sobol indices of each output of ``func`` (SALib, Saltelli scheme).

    Args:
        func: maps an ``(n, D)`` array of inputs to ``{output: (n,) values}``.
        names, bounds: the inputs and their uniform ranges.
        n_base: SALib's ``N``, a power of 2; ``func`` sees ``N × (D + 2)`` rows.
        rng: seeds the scrambled Sobol' sequence and the bootstrap intervals (SALib takes an
            int: an int is passed as it is, anything else gives one draw of 32 bits).
    """
    seed = _int_seed(rng)
    if n_base < 2 or n_base & (n_base - 1):
        raise ConfigError(f"n_base must be a power of 2 >= 2, got {n_base}")
    sample, analyze = _salib()
    problem = {"num_vars": len(names), "names": list(names), "bounds": [list(b) for b in bounds]}
    X = sample.sample(problem, n_base, calc_second_order=False, seed=seed)
    Y = func(X)
    indices = {}
    for out, y in Y.items():
        y = np.asarray(y, dtype=np.float64)
        if np.isnan(y).any() or np.ptp(y) == 0:
            nan = [float("nan")] * len(names)
            indices[out] = {"S1": nan, "S1_conf": nan, "ST": nan, "ST_conf": nan}
            continue
        res = analyze.analyze(problem, y, calc_second_order=False, seed=seed)
        indices[out] = {k: [float(v) for v in res[k]] for k in ("S1", "S1_conf", "ST", "ST_conf")}
    return SobolResult(list(names), indices, n_base, len(X), seed)


def sobol(
    model: TotalsModel,
    assumptions: Sequence[Assumption],
    *,
    n_base: int,
    rng: RngLike = 0,
    progress: Progress | None = None,
) -> SobolResult:
    """Sobol indices of the campaign totals over the assumptions' ranges (uniform).

    The duration spread is evaluated at :data:`SPREAD_LEVELS` evenly spaced levels (each
    level rebuilds every job); the other assumptions take every sampled value.
    """

    spread = next((a for a in assumptions if a.name == "duration_spread"), None)
    levels = None
    if spread is not None:
        levels = sorted({*np.linspace(spread.low, spread.high, SPREAD_LEVELS), spread.base})

    def func(X: np.ndarray) -> dict[str, np.ndarray]:
        totals = model.evaluate(X, spread_levels=levels, progress=progress)
        return {t: v.mean(axis=1) for t, v in totals.items() if t in TOTALS}

    return sobol_indices(
        func,
        [a.name for a in assumptions],
        [(a.low, a.high) for a in assumptions],
        n_base=n_base,
        rng=rng,
    )
