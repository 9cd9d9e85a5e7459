"""Strubell et al. 2019, Tables 1, 3 and 4: every computed value rounds to the printed one."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tunecost.cli import app
from tunecost.papers import strubell2019

# As printed in the paper (shared/reference/papers.md, verified in the ACL text).
TABLE1 = {
    "NLP pipeline (parsing, SRL)": 39,
    "w/ tuning & experimentation": 78_468,
    "Transformer (big)": 192,
    "w/ neural architecture search": 626_155,
}
# (model, hardware): (power_w, hours, kwh_pue, co2e_lbs, cost_low, cost_high)
TABLE3 = {
    ("T2T_base", "P100x8"): (1415.78, 12, 27, 26, 41, 140),
    ("T2T_big", "P100x8"): (1515.43, 84, 201, 192, 289, 981),
    ("ELMo", "P100x3"): (517.66, 336, 275, 262, 433, 1472),
    ("BERT_base", "V100x64"): (12041.51, 79, 1507, 1438, 3751, 12571),
    ("BERT_base", "TPUv2x16"): (None, 96, None, None, 2074, 6912),
    ("NAS", "P100x8"): (1515.43, 274_120, 656_347, 626_155, 942_973, 3_201_722),
    ("NAS", "TPUv2x1"): (None, 32_623, None, None, 44_055, 146_848),
    ("GPT-2", "TPUv3x32"): (None, 168, None, None, 12_902, 43_008),
}
# models: (hours, cost_low, cost_high, electricity); costs of the last row printed in $k.
TABLE4 = {
    1: (120, 52, 175, 5),
    24: (2880, 1238, 4205, 118),
    4789: (239_942, 103_000, 350_000, 9870),
}


@pytest.fixture(scope="module")
def result() -> dict:
    return strubell2019.reproduce().to_dict()


def test_table1_model_rows_round_to_print(result: dict) -> None:
    got = {r["consumption"]: r["co2e_lbs"] for r in result["table1"]}
    assert set(got) == set(TABLE1)
    for name, printed in TABLE1.items():
        assert round(got[name]) == printed, name


def test_table3_every_value_rounds_to_print(result: dict) -> None:
    rows = {(r["model"], r["hardware"]): r for r in result["table3"]}
    assert set(rows) == set(TABLE3)
    for key, (power, hours, kwh, lbs, low, high) in TABLE3.items():
        r = rows[key]
        assert r["power_w"] == power
        assert round(r["hours_printed"]) == hours
        if kwh is None:
            assert r["kwh_pue"] is None and r["co2e_lbs"] is None
        else:
            assert round(r["kwh_pue"]) == kwh, key
            assert round(r["co2e_lbs"]) == lbs, key
        assert round(r["cloud_cost_usd"][0]) == low, key
        if key == ("NAS", "TPUv2x1"):
            # The printed $146,848 follows from neither 32,623 h nor 32,633.3 h exactly.
            assert r["cloud_cost_usd"][1] == pytest.approx(high, rel=1e-4)
        else:
            assert round(r["cloud_cost_usd"][1]) == high, key


def test_table3_quirks_use_the_documented_inputs(result: dict) -> None:
    rows = {(r["model"], r["hardware"]): r for r in result["table3"]}
    assert rows[("BERT_base", "V100x64")]["hours"] == pytest.approx(79.2)
    assert rows[("NAS", "TPUv2x1")]["hours"] == pytest.approx(32_633.333, abs=1e-3)
    assert rows[("NAS", "P100x8")]["hours"] == pytest.approx(274_120)
    # TPU v2 pre-emptible at $1.35, not footnote 7's $1.46.
    assert rows[("BERT_base", "TPUv2x16")]["cloud_cost_usd"][0] == pytest.approx(16 * 96 * 1.35)
    assert "79.2" in rows[("BERT_base", "V100x64")]["note"]


def test_table4_rows_round_to_print(result: dict) -> None:
    rows = {r["models"]: r for r in result["table4"]}
    for models, (hours, low, high, elec) in TABLE4.items():
        r = rows[models]
        assert r["gpu_hours"] == hours
        scale = 1000 if models == 4789 else 1
        assert round(r["cloud_cost_usd"][0] / scale) * scale == low
        assert round(r["cloud_cost_usd"][1] / scale) * scale == high
        assert round(r["electricity_usd"]) == elec


def test_lisa_power_is_pinned_by_all_five_printed_figures() -> None:
    power_w, low, high = strubell2019.derive_lisa_power_w()
    assert low < power_w < high
    assert high - low < 0.01  # the printed figures pin it to within 10 mW
    assert 216.9 < power_w < 217.0


def test_per_gpu_power_matches_patterson_189w(result: dict) -> None:
    nas = next(r for r in result["table3"] if r["model"] == "NAS" and r["n_chips"] == 8)
    assert nas["per_chip_power_w"] == pytest.approx(189.43, abs=0.005)


def test_cli_json_has_the_documented_shape() -> None:
    out = CliRunner().invoke(app, ["reproduce", "strubell2019", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert {"consumption", "co2e_lbs"} <= set(data["table1"][0])
    keys = {"model", "hardware", "power_w", "hours", "kwh_pue", "co2e_lbs", "cloud_cost_usd"}
    assert all(keys <= set(r) for r in data["table3"])
    assert [r["model"] for r in data["table3"]] == [
        "T2T_base",
        "T2T_big",
        "ELMo",
        "BERT_base",
        "BERT_base",
        "NAS",
        "NAS",
        "GPT-2",
    ]
    assert all(
        {"models", "gpu_hours", "cloud_cost_usd", "electricity_usd"} <= set(r)
        for r in data["table4"]
    )


def test_cli_tables_print_the_paper_figures() -> None:
    out = CliRunner().invoke(app, ["reproduce", "strubell2019"], terminal_width=200)
    assert out.exit_code == 0, out.output
    for figure in ("626,155", "78,468", "1,507", "$103k–$350k", "$9,870", "79.2", "32,633.3"):
        assert figure in out.output, figure
