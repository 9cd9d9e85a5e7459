"""Summaries of Monte Carlo outputs: mean, spread and the quantiles people plan with."""

from __future__ import annotations

import numpy as np

__all__ = ["QUANTILES", "summarize"]

QUANTILES = {"p5": 5.0, "p50": 50.0, "p95": 95.0}
"""Reported percentiles."""


def summarize(values: np.ndarray) -> dict[str, float] | None:
    """``{"mean", "std", "p5", "p50", "p95"}`` of a 1-D sample; ``None`` if it is all NaN
    (a quantity the campaign did not price, e.g. dollars without a pricing section)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0 or np.isnan(values).all():
        return None
    out = {
        "mean": float(values.mean()),
        "std": float(values.std(ddof=1) if values.size > 1 else 0.0),
    }
    qs = np.percentile(values, list(QUANTILES.values()))
    out.update({k: float(q) for k, q in zip(QUANTILES, qs, strict=True)})
    return out
