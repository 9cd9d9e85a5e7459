"""Typed rows of the reference catalogs.

Each CSV row is validated into one of these frozen pydantic models when the catalog is first
read, so a bad number in a data file fails at load time with the file, the row and the rule.
Every row carries ``source`` and ``retrieved``: a figure without provenance is not accepted.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    source: str = Field(min_length=4, description="Where the figure comes from (URL or citation).")
    retrieved: dt.date = Field(description="When the source was read.")
    notes: str = ""

    @field_validator("notes", mode="before")
    @classmethod
    def _none_to_empty(cls, value: object) -> object:
        return "" if value is None else value


class AcceleratorSpec(_Row):
    """One accelerator model (a GPU or TPU chip), or ``none`` for CPU-only trials.

    Attributes:
        name: canonical key, lowercase with hyphens (``"v100-sxm2"``).
        aliases: other names that resolve to this row (``("V100",)``).
        kind: ``gpu``, ``tpu``, or ``none`` (no device: 0 W; the trial's power is the host's).
        tdp_w: board power / thermal design power, W (> 0 for a device).
        idle_w: measured idle power, W, where a source gives it.
        peak_bf16_tflops: dense bf16/fp16 tensor peak, TFLOPS per chip.
        memory_gb: on-device memory, GB.
        embodied_kgco2e: manufacturing emissions per chip, kgCO2e, where a source gives it.
    """

    name: str
    aliases: tuple[str, ...] = ()
    vendor: str
    kind: Literal["gpu", "tpu", "none"]
    tdp_w: float = Field(ge=0)
    idle_w: float | None = Field(default=None, ge=0)
    peak_bf16_tflops: float | None = Field(default=None, gt=0)
    memory_gb: float | None = Field(default=None, gt=0)
    embodied_kgco2e: float | None = Field(default=None, ge=0)
    year: int | None = None

    @model_validator(mode="after")
    def _device_has_power(self) -> AcceleratorSpec:
        if self.kind != "none" and self.tdp_w <= 0:
            raise ValueError(f"a {self.kind} needs tdp_w > 0, but {self.name} has {self.tdp_w}")
        return self

    @field_validator("aliases", mode="before")
    @classmethod
    def _split_aliases(cls, value: object) -> object:
        if value is None:
            return ()
        if isinstance(value, str):
            return tuple(a.strip() for a in value.split(";") if a.strip())
        return value


class GridIntensity(_Row):
    """Average carbon intensity of the electricity a region draws.

    Attributes:
        region: key (``"FR"``, ``"aws:us-east-1"``, ``"us-epa-2018"``).
        g_co2e_per_kwh: grams CO2-equivalent per kWh consumed.
        year: the year the figure describes.
    """

    region: str
    name: str
    kind: Literal["country", "cloud_region", "datacenter", "grid_average", "world"]
    g_co2e_per_kwh: float = Field(ge=0)
    year: int


class PueFigure(_Row):
    """A power usage effectiveness figure (facility energy / IT energy, >= 1)."""

    key: str
    name: str
    pue: float = Field(ge=1.0)
    year: int


class CloudPrice(_Row):
    """Hourly price of one cloud instance (or one chip, for per-chip price lists).

    Attributes:
        usd_per_hour: price of the whole instance, US dollars per hour.
        n_accelerators: accelerators in the instance; ``usd_per_accelerator_hour`` divides by it.
        pricing: ``on_demand``, ``spot`` or ``preemptible``.
    """

    provider: str
    instance: str
    region: str
    accelerator: str
    n_accelerators: int = Field(ge=1)
    pricing: Literal["on_demand", "spot", "preemptible"]
    usd_per_hour: float = Field(gt=0)
    year: int

    @property
    def usd_per_accelerator_hour(self) -> float:
        """Instance price divided by its accelerator count, US dollars per accelerator-hour."""
        return self.usd_per_hour / self.n_accelerators


class ElectricityPrice(_Row):
    """Average retail electricity price of a region, US dollars per kWh."""

    region: str
    name: str
    usd_per_kwh: float = Field(gt=0)
    year: int


class CpuSpec(_Row):
    """One CPU model.

    Attributes:
        name: canonical key, lowercase with hyphens (``"xeon-gold-6248"``, ``"generic"``).
        cores: physical cores per package.
        tdp_w: thermal design power of the package, W.
    """

    name: str
    cores: int = Field(gt=0)
    tdp_w: float = Field(gt=0)

    @property
    def tdp_w_per_core(self) -> float:
        """TDP divided evenly over the cores, W per core."""
        return self.tdp_w / self.cores
