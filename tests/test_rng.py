"""The one place generators are made (``tunecost/_rng.py``) and the root of a run."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from tunecost._rng import as_generator, root_sequence

PACKAGE = Path(__file__).resolve().parents[1] / "tunecost"


def test_generators_are_made_only_in_rng() -> None:
    """SPEC 7: stochastic functions take ``rng``; only ``_rng.py`` calls ``default_rng`` or
    seeds numpy's global state."""
    pattern = re.compile(r"default_rng\(|np\.random\.seed\(|RandomState\(")
    offenders = [
        f"{p.relative_to(PACKAGE.parent)}:{i}"
        for p in PACKAGE.rglob("*.py") if p.name != "_rng.py"
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert not offenders, offenders


@pytest.mark.parametrize("rng", [0, 2**63 - 1, np.random.SeedSequence(5)])
def test_the_root_reproduces_from_its_entropy(rng) -> None:
    root = root_sequence(rng)
    again = np.random.SeedSequence(root.entropy, spawn_key=root.spawn_key)
    assert root.generate_state(4).tolist() == again.generate_state(4).tolist()


def test_a_generator_root_moves_the_generator_on() -> None:
    gen = as_generator(3)
    a, b = root_sequence(gen), root_sequence(gen)
    assert a.entropy != b.entropy  # two draws, two roots
    assert root_sequence(as_generator(3)).entropy == a.entropy  # but reproducible


def test_a_fresh_root_records_its_os_entropy() -> None:
    a, b = root_sequence(None), root_sequence(None)
    assert a.entropy != b.entropy and isinstance(a.entropy, int)


@pytest.mark.parametrize("bad", [True, 1.5, "0", [1, 2]])
def test_bad_rng_is_refused(bad) -> None:
    with pytest.raises(TypeError, match="rng must be"):
        root_sequence(bad)
