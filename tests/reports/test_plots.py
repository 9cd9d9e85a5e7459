"""The report's figures hold plain text: units such as ``$/GPU-h`` are never mathtext."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.text import Text

from tunecost.reports import plots
from tunecost.reports.sensitivity import Assumption, SobolResult, TornadoResult

PRICE_LABEL = "price (× base $/GPU-h and $/kWh)"  # two $: mathtext would typeset between them


def _tornado() -> TornadoResult:
    names = ["price", "pue"]
    assumptions = [Assumption("price", 1.0, 0.5, 1.5, "× base", "±50 %"),
                   Assumption("pue", 1.2, 1.1, 1.59, "", "fleet to global")]
    totals = ("energy_kwh", "co2e_kg", "cost_usd", "electricity_usd")
    base = dict.fromkeys(totals, 100.0)
    low = {n: dict.fromkeys(totals, 80.0) for n in names}
    high = {n: dict.fromkeys(totals, 130.0) for n in names}
    return TornadoResult(assumptions, base, low, high, names, dict.fromkeys(names, 0.5),
                         "cost_usd", 4, 0)


def _texts(fig) -> list[Text]:
    return [t for t in fig.findobj(Text) if t.get_text()]


def test_tornado_labels_are_plain_text() -> None:
    fig = plots.tornado_figure(_tornado(), ["energy_kwh", "cost_usd"])
    texts = _texts(fig)
    labels = [t.get_text() for t in texts]
    assert PRICE_LABEL in labels and "cloud cost ($)" in labels
    assert all(t.get_parse_math() is False for t in texts)
    # What the renderer is handed: the string itself, not a mathtext expression.
    price = next(t for t in texts if t.get_text() == PRICE_LABEL)
    assert price._preprocess_math(price.get_text()) == (PRICE_LABEL, False)


def test_sobol_labels_are_plain_text() -> None:
    names = ["price", "pue"]
    idx = {"S1": [0.6, 0.3], "S1_conf": [0.05, 0.05], "ST": [0.7, 0.35],
           "ST_conf": [0.05, 0.05]}
    sr = SobolResult(names, {"cost_usd": idx}, 8, 32, 0)
    fig = plots.sobol_figure(sr, ["cost_usd"], {"price": PRICE_LABEL, "pue": "PUE"})
    texts = _texts(fig)
    assert PRICE_LABEL in [t.get_text() for t in texts]
    assert "Sobol index of cloud cost ($)" in [t.get_text() for t in texts]
    assert all(t.get_parse_math() is False for t in texts)


@pytest.mark.parametrize("name", [n for n in plots.__all__ if n.endswith("_png")])
def test_every_plot_is_drawn_as_plain_text(name: str) -> None:
    # Built and saved under PLAIN_TEXT, so tick labels made at draw time are plain too:
    # each *_png is the plain-text wrapper itself (not merely some decorator).
    fn = getattr(plots, name)
    assert fn.__code__ is plots._plain_text(lambda: None).__code__
    assert fn.__wrapped__.__name__ == name


def test_the_plain_text_wrapper_turns_math_off_while_it_runs() -> None:
    import matplotlib

    @plots._plain_text
    def seen() -> tuple[bool, bool]:
        return matplotlib.rcParams["text.parse_math"], matplotlib.rcParams["text.usetex"]

    before = matplotlib.rcParams["text.parse_math"], matplotlib.rcParams["text.usetex"]
    with matplotlib.rc_context({"text.parse_math": True}):
        assert seen() == (False, False)
        assert matplotlib.rcParams["text.parse_math"] is True  # restored afterwards
    assert (matplotlib.rcParams["text.parse_math"], matplotlib.rcParams["text.usetex"]) == before


def test_a_parameter_named_with_dollars_is_saved(tmp_path: Path) -> None:
    # Mathtext would fail on "$x_{$" (unbalanced braces) at save time; plain text saves.
    imp = {"ped_anova": {"objective": {"lr$x_{$": 0.7, "width": 0.3}}}
    png = plots.importance_png(imp, ["lr$x_{$", "width"], tmp_path / "importance.png")
    assert png.stat().st_size > 1000
    assert np.frombuffer(png.read_bytes()[:8], dtype=np.uint8).tolist()[1:4] == [80, 78, 71]
