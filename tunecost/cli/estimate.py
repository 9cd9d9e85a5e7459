"""``tunecost estimate``: energy, CO2e and dollars of one run on catalog hardware."""

from __future__ import annotations

from typing import Annotated

import typer

from tunecost.cli.console import number, print_json, render_table
from tunecost.cli.errors import user_errors
from tunecost.estimate import RunEstimate, RunSpec, estimate_run
from tunecost.papers import TextTable

__all__ = ["estimate"]


def estimate(
    accelerator: Annotated[str, typer.Option(help="Catalog accelerator, e.g. h100-sxm, V100.")],
    hours: Annotated[float, typer.Option(help="Wall-clock hours of the run.")],
    gpus: Annotated[int, typer.Option(help="Accelerators used.")] = 1,
    power_w: Annotated[
        float | None, typer.Option(help="Average W per accelerator (default: TDP × utilization).")
    ] = None,
    utilization: Annotated[float, typer.Option(help="Fraction of TDP drawn.")] = 1.0,
    host_power_w: Annotated[float, typer.Option(help="CPU + DRAM power, W.")] = 0.0,
    pue: Annotated[float | None, typer.Option(help="Facility PUE (default 1).")] = None,
    pue_key: Annotated[str | None, typer.Option(help="Catalog PUE row, e.g. uptime-2018.")] = None,
    region: Annotated[
        str | None, typer.Option(help="Catalog grid region for CO2e, e.g. FR.")
    ] = None,
    instance: Annotated[str | None, typer.Option(help="Catalog cloud instance for $.")] = None,
    pricing: Annotated[str, typer.Option(help="on_demand, spot or preemptible.")] = "on_demand",
    electricity: Annotated[
        str | None, typer.Option(help="Catalog electricity-price region for the power bill.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Energy, CO2e and dollars of one run on catalog hardware."""
    with user_errors():
        result = estimate_run(
            RunSpec(
                accelerator=accelerator,
                n_accelerators=gpus,
                hours=hours,
                accelerator_power_w=power_w,
                utilization=utilization,
                host_power_w=host_power_w,
                pue=pue,
                pue_key=pue_key,
                region=region,
                instance=instance,
                pricing=pricing,
                electricity_region=electricity,
            )
        )
    if as_json:
        print_json(result.model_dump())
        return
    _render_estimate(result, gpus)


def _render_estimate(result: RunEstimate, gpus: int) -> None:
    rows = [
        (
            "accelerator",
            f"{gpus} × {result.accelerator} at {result.accelerator_power_w:g} W "
            f"({result.power_source})",
        ),
        ("PUE", f"{result.pue:g}"),
        ("energy", f"{number(result.energy_kwh)} kWh"),
    ]
    if result.co2e_kg is not None:
        rows.append(("CO2e", f"{number(result.co2e_kg)} kg at {result.g_co2e_per_kwh:g} g/kWh"))
    if result.embodied_co2e_kg is not None:
        rows.append(("embodied CO2e share", f"{number(result.embodied_co2e_kg)} kg"))
    if result.cloud_cost_usd is not None:
        rows.append(("cloud cost", f"${number(result.cloud_cost_usd)}"))
    if result.electricity_cost_usd is not None:
        rows.append(("electricity", f"${number(result.electricity_cost_usd)}"))
    render_table(
        TextTable(
            "Run estimate",
            ("quantity", "value"),
            tuple(rows),
            tuple(f"{k}: {v}" for k, v in result.sources.items()),
        )
    )
