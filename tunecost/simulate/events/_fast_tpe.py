"""An opt-in accelerator for Optuna's TPE sampler: ``scipy.special.log_ndtr`` in place of
Optuna's pure-Python ``optuna.samplers._tpe._truncnorm._log_ndtr``.

TPE spends about half its time in that function: it applies a cached Python scalar function
to every element through ``np.frompyfunc`` (the truncated-normal masses of every kernel at
every candidate). SciPy's ufunc computes the same function (``log Φ(x)``, with the same
asymptotic series in the left tail) in C, so proposals agree to float precision and a
replicate of a 1,000-trial study runs 1.6 to 1.9 times faster (``benchmarks/bench_replay.py``).

:func:`fast_log_ndtr` swaps the module attribute in for the body of a ``with`` block and
restores the original after; nested and concurrent uses count, so the original comes back
when the last one leaves. The swap is per process (each backend worker swaps its own), and
while a block is open every TPE sampler *of that process* uses SciPy's function, threads
that did not ask for it included: equal to float precision, so harmless, but a run that
must be bit-for-bit Optuna's own should not share a process with one that opted in.

Example:
    >>> from optuna.samplers._tpe import _truncnorm
    >>> before = _truncnorm._log_ndtr
    >>> with fast_log_ndtr():
    ...     _truncnorm._log_ndtr is before
    False
    >>> _truncnorm._log_ndtr is before
    True
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

__all__ = ["fast_log_ndtr", "scipy_log_ndtr"]

_lock = threading.Lock()
_depth = 0
_original: Any = None


def scipy_log_ndtr(a: np.ndarray) -> np.ndarray:
    """``log Φ(a)`` elementwise, float64, by ``scipy.special.log_ndtr`` (Optuna's
    ``_log_ndtr`` signature: an array in, a float array out)."""
    from scipy.special import log_ndtr

    return np.asarray(log_ndtr(np.asarray(a, dtype=np.float64)), dtype=np.float64)


def _module() -> Any:
    """Optuna's truncated-normal module, or ``None`` where it has no ``_log_ndtr`` (another
    Optuna version: then there is nothing to swap and the block runs unchanged)."""
    try:
        from optuna.samplers._tpe import _truncnorm
    except ImportError:
        return None
    return _truncnorm if callable(getattr(_truncnorm, "_log_ndtr", None)) else None


@contextmanager
def fast_log_ndtr(enabled: bool = True) -> Iterator[bool]:
    """Use :func:`scipy_log_ndtr` in Optuna's TPE for the block (``enabled=False``: a
    no-op, for ``with fast_log_ndtr(flag):``). Yields whether the swap is in place."""
    global _depth, _original
    mod = _module() if enabled else None
    if mod is None:
        yield False
        return
    with _lock:
        if _depth == 0:
            _original = mod._log_ndtr
            mod._log_ndtr = scipy_log_ndtr
        _depth += 1
    try:
        yield True
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                mod._log_ndtr = _original
                _original = None
