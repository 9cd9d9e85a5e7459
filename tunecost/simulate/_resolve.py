"""Turn a validated campaign config into numbers: catalog look-ups happen here, once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import ValidationError

from tunecost import accounting, catalog
from tunecost._errors import one_line
from tunecost._rng import as_generator
from tunecost.calibrate.calibration import Calibration
from tunecost.calibrate.space import ParamSpace
from tunecost.carbon import IntensitySeries, load_intensity_series
from tunecost.config import (
    MAX_REPLICATES,
    CampaignConfig,
    CarbonConfig,
    PricingConfig,
    StudyCalibrationConfig,
    StudyConfig,
)
from tunecost.durations import DurationModel
from tunecost.exceptions import ConfigError
from tunecost.failures import PreemptionConfig
from tunecost.strategies import Strategy
from tunecost.units import S_PER_H, W_PER_KW


@dataclass(frozen=True, slots=True)
class ResolvedStudy:
    """A study with every figure looked up.

    Attributes:
        busy_kw, idle_kw: IT power of one trial's machine share (``gpus × accelerator + host``)
            while running and while waiting, per accelerator in ``accelerators``, kW; idle is
            NaN where unknown. With a calibration, busy power comes from it per trial and
            ``busy_kw`` holds the host share only.
        usd_per_accelerator_hour: rental rate, NaN when the campaign has no pricing.
        calibration: fitted per-trial cost models, replacing ``duration`` and the power model.
        trial_overhead_s: the framework's seconds before each trial, or ``None`` (the
            calibration's measured overhead, else none).
    """

    name: str
    count: int
    strategy: Strategy
    duration: DurationModel | None
    crash_probability: float
    crash_duration: DurationModel | None
    preemption: PreemptionConfig | None
    accelerators: tuple[str, ...]
    shares: np.ndarray
    busy_kw: np.ndarray
    idle_kw: np.ndarray
    gpus: int
    usd_per_accelerator_hour: float
    power_how: tuple[str, ...]
    calibration: Calibration | None = None
    trial_overhead_s: float | None = None
    calibrated_energy: bool = False
    """Energy per trial comes from the calibration's energy model (else ``busy_kw`` holds the
    whole power: the study's ``power:``, or the catalog TDP for a duration-only one)."""

    @property
    def hours_unit(self) -> str:
        """``"CPU-hours"`` when every accelerator of the study is the catalog's ``none``
        (a CPU-only study), else ``"GPU-hours"``; the unit of its ``gpu_hours``."""
        cpu = all(catalog.accelerator(a).kind == "none" for a in self.accelerators)
        return "CPU-hours" if cpu else "GPU-hours"


@dataclass(frozen=True, slots=True)
class ResolvedCampaign:
    """A campaign with every figure looked up; what the simulators consume."""

    config: CampaignConfig
    studies: tuple[ResolvedStudy, ...]
    pue: float
    g_co2e_per_kwh: float
    series: IntensitySeries | None
    usd_per_kwh: float
    reference_energy_kwh: float
    reference_how: str
    sources: dict[str, str]
    warnings: tuple[str, ...] = ()
    """Results are computed, but something looks wrong (the CLI prints each on stderr)."""


def _rate(
    pricing: PricingConfig | None,
    sources: dict[str, str],
    study: str,
    accelerators: tuple[str, ...],
    gpus: int,
    warnings: list[str],
) -> float:
    """USD per accelerator-hour of ``study``; a catalog instance of another accelerator than
    the study's is priced all the same (papers do: Strubell prices Titan X work at P100
    rates), with a warning naming the mismatch."""
    if pricing is None:
        return float("nan")
    if pricing.usd_per_accelerator_hour is not None:
        return pricing.usd_per_accelerator_hour
    row = catalog.cloud_price(
        str(pricing.instance),
        pricing=pricing.pricing,
        provider=pricing.provider,
        region=pricing.region,
    )
    per_accel = row.usd_per_accelerator_hour
    sources[f"price ({study})"] = (
        f"{row.provider} {row.instance} {row.pricing} ${row.usd_per_hour}/h"
        + (f" / {row.n_accelerators} = ${per_accel:.4g} per accelerator-hour"
           if row.n_accelerators > 1 else "")
        + f": {row.source}"
    )
    instance_acc = catalog.accelerator(row.accelerator).name
    others = [a for a in accelerators if a != instance_acc]
    if others and pricing.proxy:
        sources[f"price ({study})"] += (f"; priced as a proxy for {', '.join(others)} "
                                        "(pricing.proxy)")
    elif others:
        warnings.append(
            f"study {study!r} runs on {', '.join(accelerators)} but is priced as "
            f"{row.instance} ({row.n_accelerators} × {instance_acc}) at ${per_accel:.4g} per "
            f"accelerator-hour, {gpus} per trial; give pricing.usd_per_accelerator_hour for "
            "the hardware it runs on, an instance of it, or proxy: true if this is meant"
        )
    return per_accel


def _load_calibration(cfg: StudyCalibrationConfig, study: str) -> Calibration:
    if cfg.path is None:
        raise ConfigError(
            f"study {study!r} takes its cost from a calibration, but none was given: "
            "pass --calibration FILE or set calibration.path"
        )
    calibration = Calibration.load(cfg.path)  # ConfigError: one line naming the file
    if cfg.search_space is not None:
        space = dict(calibration.space)
        for name, dim in cfg.search_space.items():
            if name not in space:
                raise ConfigError(
                    f"search_space names {name!r}, which the calibration's models do not use; "
                    f"known: {', '.join(sorted(space))}"
                )
            try:
                override = ParamSpace.model_validate(dim)
            except ValidationError as exc:
                raise ConfigError(f"search_space.{name}: {one_line(exc)}") from None
            if "condition" not in dim and space[name].condition is not None:
                # A branch parameter's new range keeps the branch it belongs to.
                override = override.model_copy(update={"condition": space[name].condition})
            space[name] = override
        calibration = calibration.model_copy(update={"space": space})
    # A duration-only calibration (energy None) is fine: power then comes from the study's
    # power model or the catalog (see _study), and the sources say it is estimated.
    return calibration


def _study(
    cfg: StudyConfig, campaign: CampaignConfig, sources: dict[str, str], warnings: list[str]
) -> ResolvedStudy:
    names, shares, busy, idle, how = [], [], [], [], []
    g = cfg.hardware.gpus_per_trial
    calibration = None
    if cfg.calibration is not None:
        calibration = _load_calibration(cfg.calibration, cfg.name)
        errors = [
            f"{name} {model.cv_mdape_pct[model.form]:.1f} %"
            if model.form in model.cv_mdape_pct
            else f"{name} (no CV error for {model.form!r})"
            for name, model in (("duration", calibration.duration), ("energy", calibration.energy))
            if model is not None
        ]
        energy_note = (
            f"energy of the {calibration.energy_scope}"
            + (" (ESTIMATED, not measured)" if calibration.energy_estimated else "")
            if calibration.energy is not None
            else "no energy model: energy ESTIMATED from the "
            + ("study's power model" if cfg.power is not None else "catalog accelerator's TDP")
            + ", not measured"
        )
        sources[f"calibration ({cfg.name})"] = (
            f"{cfg.calibration.path}: {calibration.n_records} trials of {calibration.study!r}; "
            f"CV median abs error {', '.join(errors)}; {energy_note}"
            + (
                ""
                if cfg.calibration.replaced_path is None
                else f"; from --calibration, replacing the study's own "
                f"{cfg.calibration.replaced_path}"
            )
        )
    # Energy, in this order: the calibration's energy model; the study's `power:`; for a
    # duration-only calibration without `power:`, the catalog TDP, flagged as estimated.
    calibrated_energy = calibration is not None and calibration.energy is not None
    for name, share in cfg.hardware.shares.items():
        acc = catalog.accelerator(name)
        names.append(acc.name)
        shares.append(share)
        if calibrated_energy:
            busy.append(cfg.host_power_w / W_PER_KW)
            idle_w = cfg.power.resolve(acc).idle_w if cfg.power is not None else acc.idle_w
            how.append(f"{acc.name}: calibrated per trial + host {cfg.host_power_w:g} W")
        elif cfg.power is not None:
            power = cfg.power.resolve(acc)
            busy.append((g * power.busy_w + cfg.host_power_w) / W_PER_KW)
            idle_w = power.idle_w
            how.append(f"{acc.name}: {power.how}")
        else:
            busy.append((g * acc.tdp_w + cfg.host_power_w) / W_PER_KW)
            idle_w = acc.idle_w
            how.append(
                f"{acc.name}: TDP {acc.tdp_w:g} W + host {cfg.host_power_w:g} W (ESTIMATED: the "
                "calibration has no energy model; set power: to refine)"
            )
        idle.append(np.nan if idle_w is None else (g * idle_w + cfg.host_power_w) / W_PER_KW)
    if calibration is not None and not calibrated_energy:
        warnings.append(
            f"study {cfg.name!r}: the calibration has no energy model (durations only); energy "
            + ("from the study's power:" if cfg.power is not None else
               "ESTIMATED from the catalog TDP (set power: to refine)")
        )
    pricing = cfg.pricing if cfg.pricing is not None else campaign.pricing
    return ResolvedStudy(
        name=cfg.name,
        count=cfg.count,
        strategy=cfg.strategy.build(),
        duration=None if cfg.duration is None else cfg.duration.build(),
        crash_probability=cfg.failures.crash_probability,
        crash_duration=None
        if cfg.failures.crash_duration is None
        else cfg.failures.crash_duration.build(),
        preemption=cfg.preemption,
        accelerators=tuple(names),
        shares=np.array(shares),
        busy_kw=np.array(busy),
        idle_kw=np.array(idle),
        gpus=g,
        usd_per_accelerator_hour=_rate(pricing, sources, cfg.name, tuple(names), g, warnings),
        power_how=tuple(how),
        calibration=calibration,
        trial_overhead_s=cfg.trial_overhead_s,
        calibrated_energy=calibrated_energy,
    )


def replicates_and_seed(
    config: CampaignConfig, replicates: int | None, seed: int | None
) -> tuple[int, int]:
    """The run's replicate count and root seed: the arguments, else the config's; checked."""
    n_reps = config.replicates if replicates is None else replicates
    root_seed = config.seed if seed is None else seed
    if isinstance(n_reps, bool) or not isinstance(n_reps, int | np.integer):
        raise ConfigError(f"`replicates` must be an integer, but got replicates={n_reps!r}")
    if not 1 <= n_reps <= MAX_REPLICATES:
        raise ConfigError(
            f"`1 <= replicates <= {MAX_REPLICATES:,}` must hold, but got replicates={n_reps:,}"
        )
    if not 0 <= root_seed < 2**63:
        raise ConfigError(f"`0 <= seed < 2**63` must hold, but got seed={root_seed}")
    return n_reps, root_seed


def expected_trial(study: ResolvedStudy) -> tuple[float, float]:
    """Mean full-fidelity duration, h, and mean IT power, kW, of one trial of ``study``."""
    if study.calibration is not None:
        # No closed form over the search space: a fixed-seed sample of 4,096 trials.
        rng = as_generator(0)
        params = study.calibration.sample_params(4096, rng=rng)
        duration_s, energy_j = study.calibration.sample_costs(params, rng=rng)
        accel_kw = (
            0.0 if energy_j is None else float(energy_j.mean() / duration_s.mean()) / W_PER_KW
        )
        return float(duration_s.mean()) / S_PER_H, accel_kw + float(study.shares @ study.busy_kw)
    mean_s = getattr(study.duration, "mean_s", None)
    if mean_s is None:
        raise ConfigError(
            f"study {study.name!r}'s duration model has no mean_s; set reference_run.duration_h"
        )
    return float(mean_s) / S_PER_H, float(study.shares @ study.busy_kw)


def carbon_series(carbon: CarbonConfig) -> IntensitySeries | None:
    """The campaign's hourly intensity series, read from ``carbon.series_csv``; ``None`` for
    a constant intensity (a region or a number)."""
    if carbon.series_csv is None:
        return None
    return load_intensity_series(str(carbon.series_csv), step_h=carbon.step_h)


def resolve(config: CampaignConfig) -> ResolvedCampaign:
    """Look up every catalog figure the campaign names and build its models.

    Raises:
        CatalogKeyError: a name is not in the catalog (the message lists close ones).
        ConfigError: a figure the campaign needs is missing.
    """
    sources: dict[str, str] = {}
    if isinstance(config.pue, str):
        row = catalog.pue(config.pue)
        pue, sources["pue"] = row.pue, f"{row.key} = {row.pue}: {row.source}"
    else:
        pue = float(config.pue)
    carbon = config.carbon
    series = carbon_series(carbon)
    if carbon.region is not None:
        grid = catalog.grid_intensity(carbon.region)
        g_per_kwh = grid.g_co2e_per_kwh
        sources["carbon"] = (
            f"{grid.region} {grid.g_co2e_per_kwh:g} g/kWh ({grid.year}): {grid.source}"
        )
    elif carbon.g_co2e_per_kwh is not None:
        g_per_kwh = carbon.g_co2e_per_kwh
    else:  # the series (the config holds exactly one of region, number and series)
        g_per_kwh = series.mean_g_co2e_per_kwh
        sources["carbon"] = f"series {carbon.series_csv} (mean {g_per_kwh:.1f} g/kWh)"
    usd_per_kwh = float("nan")
    if config.electricity is not None:
        if config.electricity.region is not None:
            e = catalog.electricity_price(config.electricity.region)
            usd_per_kwh, sources["electricity"] = e.usd_per_kwh, f"{e.region}: {e.source}"
        else:
            usd_per_kwh = float(config.electricity.usd_per_kwh or 0.0)
    warnings: list[str] = []
    studies = tuple(_study(s, config, sources, warnings) for s in config.studies)

    ref_name = config.reference_run.study or config.studies[0].name
    ref = next(s for s in studies if s.name == ref_name)
    mean_h, power_kw = expected_trial(ref)
    ref_h = mean_h if config.reference_run.duration_h is None else config.reference_run.duration_h
    ref_kwh = float(accounting.energy_kwh(ref_h, power_kw * W_PER_KW, pue=pue))
    how = (
        f"one full-fidelity trial of {ref_name!r}: "
        f"{f'{ref_h:,.2f}' if ref_h >= 1 else f'{ref_h:.3g}'} h × "
        f"{power_kw * W_PER_KW:,.1f} W × PUE {pue:g}"
    )
    if not ref_kwh > 0:
        how += (
            " = 0 kWh: no tuning multiplier (the reference draws no power; set "
            "reference_run.study to a study that does, or host_power_w)"
        )
    return ResolvedCampaign(
        config, studies, pue, g_per_kwh, series, usd_per_kwh, ref_kwh, how, sources,
        tuple(warnings),
    )
