"""Patterson et al. 2021: the NAS correction and Table 4 from their inputs."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tunecost.cli import app
from tunecost.papers import patterson2021


@pytest.fixture(scope="module")
def result() -> dict:
    return patterson2021.reproduce().to_dict()


def test_table4_within_two_percent_of_published(result: dict) -> None:
    names = [r["name"] for r in result["rows"]]
    for model in ("T5", "Meena", "GShard-600B", "Switch Transformer", "GPT-3"):
        assert model in names
    for r in result["rows"]:
        assert r["energy_mwh"] == pytest.approx(r["published_energy_mwh"], rel=0.02), r["name"]
        assert r["tco2e"] == pytest.approx(r["published_tco2e"], rel=0.02), r["name"]


def test_table4_closed_form_gpt3(result: dict) -> None:
    gpt3 = next(r for r in result["rows"] if r["name"] == "GPT-3")
    # 10,000 V100 × 330 W × 14.8 days × 24 h × PUE 1.10 / 1e6
    assert gpt3["energy_mwh"] == pytest.approx(10_000 * 330 * 14.8 * 24 * 1.10 / 1e6)
    assert gpt3["tco2e"] == pytest.approx(gpt3["energy_mwh"] * 0.429)


def test_nas_correction_chain(result: dict) -> None:
    steps = result["nas_correction"]
    assert [round(s["co2e_lbs"]) for s in steps[:2]] == [626_155, 33_544]
    assert [round(s["tco2e"], 1) for s in steps] == [284.0, 15.2, 3.2]
    assert round(steps[1]["reduction_vs_strubell"], 1) == 18.7
    assert round(steps[2]["reduction_vs_strubell"]) == 88


def test_cli_json_shape() -> None:
    out = CliRunner().invoke(app, ["reproduce", "patterson2021", "--json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)["rows"]
    keys = {"name", "energy_mwh", "published_energy_mwh", "tco2e", "published_tco2e"}
    assert rows and all(keys <= set(r) for r in rows)
