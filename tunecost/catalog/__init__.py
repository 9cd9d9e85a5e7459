"""Reference data: accelerators, grid carbon intensity, PUE, cloud and electricity prices.

The figures live in CSV files under ``tunecost/catalog/data`` (one row per figure, each with
its ``source`` and ``retrieved`` date) and are validated into frozen pydantic rows on first
use. Lookups are case-insensitive; an unknown name raises
:class:`~tunecost.exceptions.CatalogKeyError` listing the closest names.

Example:
    >>> from tunecost import catalog
    >>> catalog.accelerator("V100").tdp_w
    300.0
    >>> round(catalog.grid_intensity("us-epa-2018").g_co2e_per_kwh, 3)
    432.727
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from tunecost.catalog._load import CatalogDataError, load_rows
from tunecost.catalog._models import (
    AcceleratorSpec,
    CloudPrice,
    CpuSpec,
    ElectricityPrice,
    GridIntensity,
    PueFigure,
)
from tunecost.exceptions import CatalogKeyError

__all__ = [
    "LISTINGS",
    "AcceleratorSpec",
    "CatalogDataError",
    "CloudPrice",
    "CpuSpec",
    "ElectricityPrice",
    "GridIntensity",
    "PueFigure",
    "accelerator",
    "accelerators",
    "cloud_price",
    "cloud_prices",
    "cpu",
    "cpus",
    "electricity_price",
    "electricity_prices",
    "grid_intensities",
    "grid_intensity",
    "listing",
    "pue",
    "pue_figures",
]

T = TypeVar("T")


def _norm(name: str) -> str:
    return " ".join(name.strip().lower().replace("_", " ").replace("-", " ").split())


def _index(rows: Iterable[T], keys: Callable[[T], Iterable[str]], catalog: str) -> dict[str, T]:
    index: dict[str, T] = {}
    for row in rows:
        for key in keys(row):
            if _norm(key) in index and index[_norm(key)] is not row:
                raise CatalogDataError(f"{catalog}: name {key!r} is used by two rows")
            index[_norm(key)] = row
    return index


def accelerators() -> tuple[AcceleratorSpec, ...]:
    """Every accelerator row, in file order."""
    return load_rows("accelerators.csv", AcceleratorSpec)


def grid_intensities() -> tuple[GridIntensity, ...]:
    """Every grid-intensity row, in file order."""
    return load_rows("grid_intensity.csv", GridIntensity)


def pue_figures() -> tuple[PueFigure, ...]:
    """Every PUE row, in file order."""
    return load_rows("pue.csv", PueFigure)


def cloud_prices() -> tuple[CloudPrice, ...]:
    """Every cloud price row, in file order."""
    return load_rows("cloud_prices.csv", CloudPrice)


def cpus() -> tuple[CpuSpec, ...]:
    """Every CPU row, in file order."""
    return load_rows("cpus.csv", CpuSpec)


def electricity_prices() -> tuple[ElectricityPrice, ...]:
    """Every electricity price row, in file order."""
    return load_rows("electricity_prices.csv", ElectricityPrice)


@functools.cache
def _accelerator_index() -> dict[str, AcceleratorSpec]:
    return _index(accelerators(), lambda r: (r.name, *r.aliases), "accelerators")


@functools.cache
def _grid_index() -> dict[str, GridIntensity]:
    return _index(grid_intensities(), lambda r: (r.region,), "grid intensity")


@functools.cache
def _pue_index() -> dict[str, PueFigure]:
    return _index(pue_figures(), lambda r: (r.key,), "PUE")


@functools.cache
def _cpu_index() -> dict[str, CpuSpec]:
    return _index(cpus(), lambda r: (r.name,), "CPU")


@functools.cache
def _electricity_index() -> dict[str, ElectricityPrice]:
    return _index(electricity_prices(), lambda r: (r.region,), "electricity price")


def _lookup(index: dict[str, T], name: str, catalog: str, known: Iterable[str]) -> T:
    try:
        return index[_norm(name)]
    except KeyError:
        raise CatalogKeyError(catalog, name, known) from None


def accelerator(name: str) -> AcceleratorSpec:
    """Look up an accelerator by canonical name or alias (``"h100-sxm"``, ``"H100"``)."""
    return _lookup(_accelerator_index(), name, "accelerator", (r.name for r in accelerators()))


def grid_intensity(region: str) -> GridIntensity:
    """Look up a region's grid carbon intensity (``"FR"``, ``"gcp:us-central1"``)."""
    return _lookup(_grid_index(), region, "grid region", (r.region for r in grid_intensities()))


def pue(key: str) -> PueFigure:
    """Look up a PUE figure by key (``"uptime-2018"``, ``"google-fleet"``)."""
    return _lookup(_pue_index(), key, "PUE", (r.key for r in pue_figures()))


def cpu(name: str) -> CpuSpec:
    """Look up a CPU by name (``"generic"``, ``"xeon-gold-6248"``)."""
    return _lookup(_cpu_index(), name, "CPU", (r.name for r in cpus()))


def electricity_price(region: str) -> ElectricityPrice:
    """Look up an electricity price by region key (``"us-2019-strubell"``)."""
    return _lookup(
        _electricity_index(), region, "electricity price", (r.region for r in electricity_prices())
    )


def cloud_price(
    instance: str,
    *,
    pricing: str = "on_demand",
    provider: str | None = None,
    region: str | None = None,
) -> CloudPrice:
    """Look up the price of ``instance`` under a pricing model.

    Args:
        instance: instance name as the provider writes it (``"p5.48xlarge"``, ``"p100-2019"``).
        pricing: ``"on_demand"``, ``"spot"`` or ``"preemptible"``.
        provider: restrict to one provider (``"aws"``, ``"gcp"``, ``"azure"``).
        region: restrict to one region; without it the first row in file order is used.

    Raises:
        CatalogKeyError: no row matches; the message lists the closest instance names.
    """
    rows = cloud_prices()
    matches = [
        r
        for r in rows
        if _norm(r.instance) == _norm(instance)
        and r.pricing == pricing
        and (provider is None or _norm(r.provider) == _norm(provider))
        and (region is None or _norm(r.region) == _norm(region))
    ]
    if matches:
        return matches[0]
    wanted = f"{instance} ({pricing}" + (f", {provider}" if provider else "")
    wanted += f", {region})" if region else ")"
    known = {f"{r.instance} ({r.pricing}, {r.provider}, {r.region})" for r in rows}
    if any(_norm(r.instance) == _norm(instance) for r in rows):
        known = {k for k in known if _norm(k.split(" (")[0]) == _norm(instance)}
    raise CatalogKeyError("cloud price", wanted, known)


LISTINGS: dict[str, Callable[[], tuple[Any, ...]]] = {
    "accelerators": accelerators,
    "grid": grid_intensities,
    "pue": pue_figures,
    "prices": cloud_prices,
    "electricity": electricity_prices,
}
"""Each catalog by its ``tunecost catalog`` name, with the function that lists its rows."""


def listing(kind: str) -> tuple[Any, ...]:
    """Every row of the catalog named ``kind`` (a key of :data:`LISTINGS`), in file order.

    Example:
        >>> [row.key for row in listing("pue")][:2]
        ['uptime-2018', 'us-average-2020']

    Raises:
        CatalogKeyError: ``kind`` names no catalog; the message lists the closest names.
    """
    if kind not in LISTINGS:
        raise CatalogKeyError("catalog", kind, LISTINGS)
    return LISTINGS[kind]()
