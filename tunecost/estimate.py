"""Cost of one training run (or any fixed block of accelerator time), from catalog figures.

This is the single-run calculator that ML CO2 Impact and Green Algorithms offer, with every
input traceable to a catalog row. Campaigns of many trials are :mod:`tunecost.simulate`'s job.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tunecost import accounting, catalog
from tunecost.exceptions import ConfigError

__all__ = ["RunEstimate", "RunSpec", "estimate_run"]


class RunSpec(BaseModel):
    """What a run uses.

    Attributes:
        accelerator: catalog name or alias (``"a100-sxm4-80gb"``, ``"H100"``).
        n_accelerators: accelerators used for the whole run.
        hours: wall-clock hours.
        accelerator_power_w: average power per accelerator, W; default TDP × ``utilization``.
        utilization: fraction of TDP drawn when ``accelerator_power_w`` is not given.
        host_power_w: CPU + DRAM power of the host(s), W.
        pue: facility PUE; or ``pue_key`` names a catalog row.
        region: catalog grid region for CO2e; without it CO2e is not computed.
        instance: catalog cloud instance for the dollar cost; without it cost is not computed.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    accelerator: str
    # Bounds far above any real run and far below float64 overflow of their product.
    n_accelerators: int = Field(default=1, ge=1, le=10_000_000)
    hours: float = Field(ge=0, le=1e6)
    accelerator_power_w: float | None = Field(default=None, gt=0, le=100_000)
    utilization: float = Field(default=1.0, gt=0, le=1)
    host_power_w: float = Field(default=0.0, ge=0, le=10_000_000)
    pue: float | None = Field(default=None, ge=1, le=10)
    pue_key: str | None = None
    region: str | None = None
    instance: str | None = None
    pricing: Literal["on_demand", "spot", "preemptible"] = "on_demand"
    electricity_region: str | None = None


class RunEstimate(BaseModel):
    """The run's cost, with the figures it used (``None`` where an input was not given)."""

    # A non-finite figure fails here, naming it, rather than printing as Infinity.
    model_config = ConfigDict(allow_inf_nan=False)

    accelerator: str
    accelerator_power_w: float
    power_source: str
    pue: float
    energy_kwh: float
    g_co2e_per_kwh: float | None
    co2e_kg: float | None
    co2e_lbs: float | None
    cloud_cost_usd: float | None
    electricity_cost_usd: float | None
    embodied_co2e_kg: float | None
    sources: dict[str, str]


def estimate_run(spec: RunSpec) -> RunEstimate:
    """Energy, CO2e and dollars of one run described by ``spec``.

    Example:
        >>> est = estimate_run(RunSpec(accelerator="V100", n_accelerators=8, hours=10,
        ...                            accelerator_power_w=300, pue=1.1))
        >>> round(est.energy_kwh, 1)
        26.4
    """
    acc = catalog.accelerator(spec.accelerator)
    sources = {"accelerator": acc.source}
    if spec.accelerator_power_w is not None:
        power_w, power_source = spec.accelerator_power_w, "given"
    else:
        power_w = acc.tdp_w * spec.utilization
        power_source = f"TDP {acc.tdp_w:g} W × utilization {spec.utilization:g}"
    if spec.pue is not None and spec.pue_key is not None:
        raise ConfigError(
            f"give pue or pue_key, not both (pue={spec.pue}, pue_key={spec.pue_key!r})"
        )
    if spec.pue_key is not None:
        row = catalog.pue(spec.pue_key)
        pue, sources["pue"] = row.pue, row.source
    else:
        pue = 1.0 if spec.pue is None else spec.pue
    it_w = accounting.it_power_w(
        power_w, n_accelerators=spec.n_accelerators, cpu_power_w=spec.host_power_w
    )
    energy = float(accounting.energy_kwh(spec.hours, it_w, pue=pue))

    g_per_kwh = co2e = co2e_lbs = None
    if spec.region is not None:
        grid = catalog.grid_intensity(spec.region)
        g_per_kwh, sources["grid"] = grid.g_co2e_per_kwh, grid.source
        co2e = float(accounting.co2e_kg(energy, g_per_kwh))
        co2e_lbs = float(accounting.kg_to_lbs(co2e))
    cost = None
    if spec.instance is not None:
        price = catalog.cloud_price(spec.instance, pricing=spec.pricing)
        sources["price"] = price.source
        cost = float(
            accounting.cloud_cost_usd(
                spec.n_accelerators * spec.hours, price.usd_per_accelerator_hour
            )
        )
    elec = None
    if spec.electricity_region is not None:
        e = catalog.electricity_price(spec.electricity_region)
        sources["electricity"] = e.source
        elec = float(accounting.electricity_cost_usd(energy, e.usd_per_kwh))
    embodied = None
    if acc.embodied_kgco2e is not None:
        embodied = float(
            accounting.embodied_co2e_kg(spec.n_accelerators * spec.hours, acc.embodied_kgco2e)
        )
    return RunEstimate(
        accelerator=acc.name,
        accelerator_power_w=power_w,
        power_source=power_source,
        pue=pue,
        energy_kwh=energy,
        g_co2e_per_kwh=g_per_kwh,
        co2e_kg=co2e,
        co2e_lbs=co2e_lbs,
        cloud_cost_usd=cost,
        electricity_cost_usd=elec,
        embodied_co2e_kg=embodied,
        sources=sources,
    )
