"""Power models: how many watts one accelerator draws while a trial runs, and while it waits.

Three kinds, selected by ``kind`` in the study config:

* ``constant``: a measured or quoted figure per accelerator (Strubell's Table 3 machines,
  Patterson's measured averages);
* ``tdp_fraction``: TDP × utilisation, the ML CO2 Impact / Green Algorithms estimate (TDP
  alone overstates small-model trials about 4× on the H200 data in ``shared/data``);
* ``idle_tdp``: the catalog's measured idle power plus utilisation × (TDP − idle), which keeps
  the idle floor that dominates small trials.

Waiting accelerators (at a synchronisation barrier, or idle in a reserved cluster) draw idle
power: ``idle_w`` from the config, else the catalog's measured idle. When neither exists and
the schedule needs it, resolution fails with a message saying which field to set.

:data:`POWER_CONFIGS` is the registry (``kind`` -> config class); the union
:data:`PowerConfig` is derived from it, so registering a class is the one step that adds a
kind. Every config has ``resolve(acc) -> ResolvedPower``.

Example:
    >>> from tunecost import catalog
    >>> h200 = catalog.accelerator("h200")  # TDP 700 W, measured idle 121.5 W
    >>> IdleTdpPowerConfig(utilization=0.5).resolve(h200).busy_w
    410.75
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tunecost._registry import discriminated_union, registry
from tunecost.catalog import AcceleratorSpec

__all__ = [
    "POWER_CONFIGS",
    "ConstantPowerConfig",
    "IdleTdpPowerConfig",
    "PowerConfig",
    "ResolvedPower",
    "TdpFractionPowerConfig",
]


@dataclass(frozen=True, slots=True)
class ResolvedPower:
    """Watts of one accelerator of a given model.

    Attributes:
        busy_w: while a trial runs, W.
        idle_w: while waiting, W; ``None`` when neither the config nor the catalog gives it.
        how: one line on where the figures come from, for reports.
    """

    busy_w: float
    idle_w: float | None
    how: str


class _Power(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    idle_w: float | None = Field(
        default=None,
        ge=0,
        le=100_000,
        description="Idle W per accelerator (<= 100 kW); default: the catalog's measured idle.",
    )

    def _idle(self, acc: AcceleratorSpec) -> float | None:
        return self.idle_w if self.idle_w is not None else acc.idle_w


class ConstantPowerConfig(_Power):
    """A fixed draw per accelerator while busy, W."""

    kind: Literal["constant"] = "constant"
    # <= 100 kW: a whole wafer-scale system draws about 23 kW; beyond is a unit typo (mW?).
    accelerator_w: float = Field(gt=0, le=100_000)

    def resolve(self, acc: AcceleratorSpec) -> ResolvedPower:
        """Watts for ``acc``."""
        return ResolvedPower(
            self.accelerator_w, self._idle(acc), f"{self.accelerator_w:g} W given"
        )


class TdpFractionPowerConfig(_Power):
    """TDP × utilisation while busy."""

    kind: Literal["tdp_fraction"] = "tdp_fraction"
    utilization: float = Field(gt=0, le=1)

    def resolve(self, acc: AcceleratorSpec) -> ResolvedPower:
        """Watts for ``acc``."""
        return ResolvedPower(
            acc.tdp_w * self.utilization,
            self._idle(acc),
            f"TDP {acc.tdp_w:g} W × {self.utilization:g}",
        )


class IdleTdpPowerConfig(_Power):
    """Measured idle plus utilisation × (TDP − idle) while busy."""

    kind: Literal["idle_tdp"] = "idle_tdp"
    utilization: float = Field(ge=0, le=1)

    def resolve(self, acc: AcceleratorSpec) -> ResolvedPower:
        """Watts for ``acc``; needs an idle figure from the config or the catalog."""
        from tunecost.exceptions import ConfigError

        idle = self._idle(acc)
        if idle is None:
            raise ConfigError(
                f"power kind 'idle_tdp' needs an idle figure, but the catalog has none for "
                f"{acc.name!r}; set power.idle_w"
            )
        busy = idle + self.utilization * (acc.tdp_w - idle)
        return ResolvedPower(
            busy, idle, f"idle {idle:g} W + {self.utilization:g} × (TDP {acc.tdp_w:g} − idle)"
        )


POWER_CONFIGS: dict[str, type[BaseModel]] = registry(
    "kind", ConstantPowerConfig, TdpFractionPowerConfig, IdleTdpPowerConfig
)
"""Registry: ``kind`` → config class (each has ``resolve(acc) -> ResolvedPower``). The one
place a kind is added."""

PowerConfig = discriminated_union(POWER_CONFIGS, "kind")
"""Any power model config, selected by ``kind``; derived from :data:`POWER_CONFIGS`."""
