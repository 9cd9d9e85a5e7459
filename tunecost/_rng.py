"""The one place where random generators are made.

Every stochastic public function takes a keyword-only ``rng`` (``int``, ``Generator``,
``SeedSequence`` or ``None``) and normalises it here, once, at the boundary (scipy SPEC 7).
Independent streams come from :func:`spawn`, never from re-seeding.
"""

from __future__ import annotations

from typing import TypeAlias

import numpy as np

RngLike: TypeAlias = int | np.random.Generator | np.random.SeedSequence | None


def as_generator(rng: RngLike) -> np.random.Generator:
    """Return a ``numpy.random.Generator`` for ``rng``.

    A ``Generator`` is returned as is (the caller shares its stream); an int, a
    ``SeedSequence`` or ``None`` seed a new PCG64 generator.
    """
    if isinstance(rng, bool) or not (
        rng is None
        or isinstance(rng, int | np.integer | np.random.Generator | np.random.SeedSequence)
    ):
        raise TypeError(
            f"rng must be an int, a numpy Generator, a SeedSequence or None, got {rng!r}"
        )
    return np.random.default_rng(rng)


def spawn(rng: RngLike, n: int) -> list[np.random.Generator]:
    """Return ``n`` statistically independent child generators of ``rng``."""
    return as_generator(rng).spawn(n)


def root_sequence(rng: RngLike) -> np.random.SeedSequence:
    """The root ``SeedSequence`` of a run, from which every stream is spawned.

    An int seeds the root (same seed, same results in any process); a ``SeedSequence`` is
    copied as it was made (its entropy and spawn key; children it has already spawned do not
    change the run, and the run's spawning does not change it); a ``Generator`` gives one
    draw of four 64-bit words (so the caller's stream moves on); ``None`` takes fresh
    entropy from the OS. ``SeedSequence(root.entropy, spawn_key=root.spawn_key)`` reproduces
    the run.

    Example:
        >>> root_sequence(2019).entropy
        2019
        >>> ss = np.random.SeedSequence(7)
        >>> _ = ss.spawn(3)
        >>> root_sequence(ss).spawn(1)[0].spawn_key   # as if ss had spawned nothing
        (0,)
    """
    if isinstance(rng, np.random.SeedSequence):
        return np.random.SeedSequence(rng.entropy, spawn_key=rng.spawn_key,
                                      pool_size=rng.pool_size)
    if isinstance(rng, np.random.Generator):
        return np.random.SeedSequence(rng.integers(0, 2**63, size=4).tolist())
    as_generator(rng)  # the type check, one rule for every rng argument
    return np.random.SeedSequence(rng)
