"""The packaged catalogs: present in the installed package, sourced, and looked up by name."""

from __future__ import annotations

import csv
import io
from importlib import resources

import pytest

from tunecost import catalog
from tunecost.exceptions import CatalogKeyError

FILES = {
    "accelerators.csv": catalog.accelerators,
    "grid_intensity.csv": catalog.grid_intensities,
    "pue.csv": catalog.pue_figures,
    "cloud_prices.csv": catalog.cloud_prices,
    "electricity_prices.csv": catalog.electricity_prices,
    "cpus.csv": catalog.cpus,
}


@pytest.mark.parametrize("filename", sorted(FILES))
def test_file_ships_in_installed_package_and_every_row_has_a_source(filename: str) -> None:
    text = resources.files("tunecost.catalog").joinpath("data", filename).read_text("utf-8")
    raw = list(csv.DictReader(io.StringIO(text)))
    assert raw, filename
    for i, row in enumerate(raw, start=2):
        assert (row.get("source") or "").strip(), f"{filename}:{i} has no source"
        assert (row.get("retrieved") or "").strip(), f"{filename}:{i} has no retrieved date"
    rows = FILES[filename]()
    assert len(rows) == len(raw)


def test_no_accelerator_row_for_cpu_only_studies() -> None:
    """``cpu`` (and ``none``) is no device: 0 W busy and idle; a real device needs a TDP."""
    from tunecost.catalog._models import AcceleratorSpec

    row = catalog.accelerator("cpu")
    assert row.name == "none" and row.kind == "none" and row.tdp_w == 0 and row.idle_w == 0
    bad = row.model_dump() | {"name": "x", "kind": "gpu"}
    with pytest.raises(ValueError, match="tdp_w > 0"):
        AcceleratorSpec.model_validate(bad)


def test_required_accelerators_are_present() -> None:
    names = {a.name for a in catalog.accelerators()}
    for required in (
        "titan-x",
        "m40",
        "gtx-1080-ti",
        "p100-pcie",
        "p100-sxm2",
        "v100-pcie",
        "v100-sxm2",
        "a100-pcie-40gb",
        "a100-sxm4-40gb",
        "a100-pcie-80gb",
        "a100-sxm4-80gb",
        "h100-pcie",
        "h100-sxm",
        "h200",
        "l4",
        "t4",
        "tpu-v2",
        "tpu-v3",
        "tpu-v4",
    ):
        assert required in names


def test_h200_idle_is_the_measured_figure() -> None:
    assert catalog.accelerator("h200").idle_w == pytest.approx(121.5, abs=0.1)


def test_lookups_are_case_and_separator_insensitive_and_follow_aliases() -> None:
    assert catalog.accelerator("V100").name == catalog.accelerator("v100_sxm2").name
    assert catalog.accelerator("H100 SXM").name == "h100-sxm"


def test_unknown_names_list_close_ones() -> None:
    with pytest.raises(CatalogKeyError, match=r"unknown accelerator name 'h10'.*closest: .*h100"):
        catalog.accelerator("h10")
    with pytest.raises(CatalogKeyError, match="unknown grid region name 'atlantis'"):
        catalog.grid_intensity("atlantis")
    with pytest.raises(KeyError):  # CatalogKeyError is also a KeyError
        catalog.pue("nope")


def test_grid_intensity_covers_countries_and_the_three_clouds() -> None:
    rows = catalog.grid_intensities()
    assert sum(r.kind == "country" for r in rows) >= 30
    for provider in ("aws:", "gcp:", "azure:"):
        assert sum(r.region.startswith(provider) for r in rows) >= 3, provider
    assert all(r.year >= 2000 for r in rows)


def test_paper_constants() -> None:
    # EPA eGRID 2018 as Strubell used it: 0.954 lb/kWh.
    g = catalog.grid_intensity("us-epa-2018").g_co2e_per_kwh
    assert g / 453.59237 == pytest.approx(0.954, rel=1e-9)
    assert catalog.pue("uptime-2018").pue == 1.58
    assert catalog.electricity_price("us-2019-strubell").usd_per_kwh == 0.12
    rates = {
        ("p100-2019", "preemptible"): 0.43,
        ("p100-2019", "on_demand"): 1.46,
        ("v100-2019", "preemptible"): 0.74,
        ("v100-2019", "on_demand"): 2.48,
        ("tpu-v2-2019", "preemptible"): 1.35,
        ("tpu-v2-2019", "on_demand"): 4.50,
        ("tpu-v3-2019", "preemptible"): 2.40,
        ("tpu-v3-2019", "on_demand"): 8.00,
    }
    for (instance, pricing), usd in rates.items():
        assert catalog.cloud_price(instance, pricing=pricing, provider="gcp").usd_per_hour == usd


def test_cloud_prices_name_catalog_accelerators_and_current_rows_exist() -> None:
    for row in catalog.cloud_prices():
        catalog.accelerator(row.accelerator)
    assert sum(r.year >= 2024 for r in catalog.cloud_prices()) >= 8
    assert {r.pricing for r in catalog.cloud_prices()} >= {"on_demand", "spot", "preemptible"}


def test_unknown_price_lists_known_instances() -> None:
    with pytest.raises(CatalogKeyError, match="p100-2019"):
        catalog.cloud_price("p100-2019", pricing="spot")
