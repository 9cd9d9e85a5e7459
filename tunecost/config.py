"""Campaign configuration: the pydantic models a YAML or TOML campaign file loads into.

A campaign is a list of studies sharing a pool of workers, a datacenter (PUE, grid carbon
intensity) and prices. A file holds one campaign, or ``scenarios:``, a list of campaigns to
compare side by side (e.g. Strubell's NAS estimate against the search that really ran).

Every model forbids unknown keys, so a typo fails with the field's path; every number states
its rule (``gt=0``...), so a bad value fails with the rule and the value.

Example:
    >>> cfg = CampaignConfig.model_validate({
    ...     "name": "demo", "workers": 4, "pue": 1.1, "carbon": {"g_co2e_per_kwh": 400},
    ...     "studies": [{"name": "sweep", "strategy": {"kind": "random", "n_trials": 20},
    ...                  "duration": {"dist": "fixed", "duration_h": 2},
    ...                  "hardware": {"accelerator": "a100-sxm4-80gb"},
    ...                  "power": {"kind": "constant", "accelerator_w": 300}}]})
    >>> cfg.studies[0].strategy.n_trials
    20
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from tunecost._paths import ConfigPath
from tunecost._text import read_user_text
from tunecost.carbon import MAX_G_CO2E_PER_KWH
from tunecost.durations import DurationConfig
from tunecost.exceptions import ConfigError
from tunecost.failures import FailureConfig, PreemptionConfig
from tunecost.power import PowerConfig
from tunecost.strategies import REPLAY_STRATEGIES, StrategyConfig, replay_only

__all__ = [
    "MAX_REPLICATES",
    "CampaignConfig",
    "CarbonConfig",
    "ElectricityConfig",
    "HardwareConfig",
    "PricingConfig",
    "ReferenceRunConfig",
    "ScenarioSet",
    "StudyCalibrationConfig",
    "StudyConfig",
    "load_config",
    "with_calibration",
]


MAX_REPLICATES = 100_000_000
"""Most Monte Carlo replicates of one run (config or ``--replicates``): summaries are
streamed above 200,000, so memory is not the limit; time is (10**8 replicates of even a
one-job campaign take hours), and percentiles settle long before."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _exactly_one(model: BaseModel, *names: str) -> None:
    given = [n for n in names if getattr(model, n) is not None]
    if len(given) != 1:
        raise ValueError(
            f"exactly one of {', '.join(names)} must be given, got "
            + (", ".join(f"{n}={getattr(model, n)!r}" for n in given) if given else "none")
        )


class HardwareConfig(_Model):
    """What one trial runs on: one accelerator model, or a mix drawn per trial.

    Attributes:
        accelerator: catalog name or alias.
        mix: catalog name → share of trials, shares summing to 1 (e.g. LISA's Titan X 72 %,
            M40 28 %).
        gpus_per_trial: accelerators each trial uses.
    """

    accelerator: str | None = None
    mix: dict[str, float] | None = None
    gpus_per_trial: int = Field(default=1, ge=1, le=1_000_000)

    @model_validator(mode="after")
    def _check(self) -> HardwareConfig:
        _exactly_one(self, "accelerator", "mix")
        if self.mix is not None:
            if not self.mix or any(not (0 < w <= 1) for w in self.mix.values()):
                raise ValueError(f"mix shares must be in (0, 1], got {self.mix}")
            if abs(sum(self.mix.values()) - 1) > 1e-9:
                raise ValueError(f"mix shares must sum to 1, got {sum(self.mix.values()):g}")
        return self

    @property
    def shares(self) -> dict[str, float]:
        """Accelerator name → share of trials."""
        return dict(self.mix) if self.mix is not None else {str(self.accelerator): 1.0}


class PricingConfig(_Model):
    """Rental price: a catalog instance under a pricing model, or a rate given directly.

    An instance of another accelerator than the study's is priced per accelerator all the
    same, with a warning; ``proxy: true`` says it is meant (Strubell et al. price Titan X
    and M40 hours at P100 rates) and turns the warning into a line of the sources.
    """

    instance: str | None = None
    pricing: Literal["on_demand", "spot", "preemptible"] = "on_demand"
    provider: str | None = None
    region: str | None = None
    usd_per_accelerator_hour: float | None = Field(default=None, gt=0, le=10_000)
    proxy: bool = False

    @model_validator(mode="after")
    def _check(self) -> PricingConfig:
        _exactly_one(self, "instance", "usd_per_accelerator_hour")
        return self


class CarbonConfig(_Model):
    """Grid carbon intensity: a catalog region, a number, or an hourly series (CSV).

    ``series_csv`` has a ``g_co2e_per_kwh`` column and optionally an ``hour`` column (hours
    since the series began: 0 first, strictly increasing). Each row holds until the next
    row's hour (a gap holds the value before it); without ``hour``, rows are ``step_h`` apart;
    the last row holds ``step_h``. The series repeats with that period
    (:mod:`tunecost.carbon`).
    """

    region: str | None = None
    g_co2e_per_kwh: float | None = Field(default=None, ge=0, le=MAX_G_CO2E_PER_KWH)
    series_csv: ConfigPath | None = None
    step_h: float = Field(default=1.0, gt=0, le=8760)

    @model_validator(mode="after")
    def _check(self) -> CarbonConfig:
        _exactly_one(self, "region", "g_co2e_per_kwh", "series_csv")
        return self


class ElectricityConfig(_Model):
    """Electricity price: a catalog region or a number, US dollars per kWh."""

    region: str | None = None
    usd_per_kwh: float | None = Field(default=None, gt=0, le=100)

    @model_validator(mode="after")
    def _check(self) -> ElectricityConfig:
        _exactly_one(self, "region", "usd_per_kwh")
        return self


class ReferenceRunConfig(_Model):
    """The "one final run" the tuning multiplier divides by.

    By default it is one full-fidelity trial of the first study, at that study's expected
    duration; ``duration_h`` replaces the duration (e.g. Table 4's 120 h for one model).
    """

    study: str | None = None
    duration_h: float | None = Field(default=None, gt=0)


class StudyCalibrationConfig(_Model):
    """Per-trial cost from a calibration (``tunecost calibrate``) instead of given models.

    Each trial draws its hyperparameters from the search space, and its duration and power
    from the models fitted on the real study, with their measured residual spread.

    Attributes:
        path: calibration JSON; default: the one given with ``tunecost simulate --calibration``.
        search_space: overrides the space inferred from the calibration's trials, e.g.
            ``{"d_model": {"type": "int", "low": 256, "high": 2048, "log": true}}``.
    """

    path: ConfigPath | None = None
    search_space: dict[str, dict[str, Any]] | None = None
    replaced_path: ConfigPath | None = Field(
        default=None,
        description="Set by ``--calibration`` (:func:`with_calibration`) when it replaces the "
        "study's own ``path``; reported in the simulation's sources.",
    )


class StudyConfig(_Model):
    """One study: a search strategy, the trials' durations, hardware and power.

    Attributes:
        count: the study is run this many times, independently (e.g. 123 grid searches).
        duration, power: the full-fidelity duration model and the power model. With a
            ``calibration``, ``duration`` is omitted, and ``power`` is used only when the
            calibration has no energy model (else the catalog TDP, flagged as estimated).
        host_power_w: CPU + DRAM power per trial while it runs, W.
        trial_overhead_s: the framework's time on a worker before each trial (the sampler,
            the storage, a trial's process start-up), s, at the slot's idle power; default:
            what the calibration measured between its trials, else none. Modelled for the
            real search algorithms (``optuna``, ``ray_tune``; the replay engine).
        pricing: overrides the campaign's pricing for this study.
    """

    name: str = Field(min_length=1)
    count: int = Field(default=1, ge=1, le=10**9)
    strategy: StrategyConfig
    duration: DurationConfig | None = None
    hardware: HardwareConfig
    power: PowerConfig | None = None
    calibration: StudyCalibrationConfig | None = None
    host_power_w: float = Field(default=0.0, ge=0, le=100_000)
    trial_overhead_s: float | None = Field(default=None, ge=0, le=1e7, allow_inf_nan=False)
    failures: FailureConfig = FailureConfig()
    preemption: PreemptionConfig | None = None
    pricing: PricingConfig | None = None

    @model_validator(mode="before")
    @classmethod
    def _calibration_from_flag(cls, data: Any, info: ValidationInfo) -> Any:
        # `tunecost simulate --calibration FILE` (load_config(..., calibration=FILE)): every
        # study takes FILE's cost model, with no `calibration: {}` to write; FILE's durations
        # replace the study's (with_calibration), and its `power:` stays for a calibration
        # without an energy model.
        if isinstance(data, dict) and (info.context or {}).get("calibration") is not None:
            rest = {k: v for k, v in data.items() if k != "duration"}
            return {**rest, "calibration": data.get("calibration") or {}}
        return data

    @model_validator(mode="after")
    def _models_or_calibration(self) -> StudyConfig:
        if self.calibration is None and (self.duration is None or self.power is None):
            missing = [n for n in ("duration", "power") if getattr(self, n) is None]
            raise ValueError(
                f"study {self.name!r} needs {' and '.join(missing)} (or a calibration: "
                "calibration.path, or tunecost simulate --calibration FILE)"
            )
        if self.calibration is not None and self.duration is not None:
            raise ValueError(
                f"study {self.name!r} takes its durations from its calibration; "
                "remove duration or calibration"
            )
        if self.trial_overhead_s is not None and not replay_only(self.strategy):
            raise ValueError(
                f"study {self.name!r}: trial_overhead_s is modelled for the real search "
                f"algorithms (kind {' or '.join(REPLAY_STRATEGIES)}), but the strategy is "
                f"{self.strategy.kind!r}; got trial_overhead_s={self.trial_overhead_s}"
            )
        return self


class CampaignConfig(_Model):
    """A whole campaign: studies, the worker pool, the datacenter and prices.

    Attributes:
        workers: trials that may run at once (the pool's slots).
        schedule: ``pooled``: every study's jobs queue for the same pool in study order;
            ``sequential``: a study starts when the previous one has ended.
        reserved: the pool is reserved for the campaign's whole wall clock: idle slots draw
            idle power and are paid for. Needs one accelerator model for every study.
        pue: a number, or a catalog PUE key (``"uptime-2018"``).
        replicates, seed: defaults for ``tunecost simulate`` (flags override them).
    """

    name: str = Field(min_length=1)
    description: str = ""
    workers: int = Field(default=1, ge=1, le=10**12)
    schedule: Literal["pooled", "sequential"] = "pooled"
    reserved: bool = False
    pue: float | str = 1.0
    carbon: CarbonConfig
    pricing: PricingConfig | None = None
    electricity: ElectricityConfig | None = None
    reference_run: ReferenceRunConfig = ReferenceRunConfig()
    studies: list[StudyConfig] = Field(min_length=1)
    replicates: int = Field(default=1000, ge=1, le=MAX_REPLICATES)
    seed: int = Field(default=0, ge=0, lt=2**63)

    @field_validator("pue", mode="before")
    @classmethod
    def _pue_at_least_one(cls, value: Any) -> Any:
        # Before parsing: a NaN or inf would otherwise fail both arms of ``float | str``, and
        # the user would read two errors for one mistake.
        if isinstance(value, float | int) and not isinstance(value, bool):
            if not (1 <= value < math.inf):
                raise ValueError(f"`1 <= pue < inf` must hold, but got pue={value}")
            return float(value)
        return value

    @model_validator(mode="after")
    def _check(self) -> CampaignConfig:
        names = [s.name for s in self.studies]
        if len(set(names)) != len(names):
            raise ValueError(f"study names must be unique, got {names}")
        ref = self.reference_run.study
        if ref is not None and ref not in names:
            raise ValueError(f"reference_run.study {ref!r} is not a study; studies: {names}")
        if self.reserved:
            kinds = {
                (tuple(sorted(s.hardware.shares)), s.hardware.gpus_per_trial) for s in self.studies
            }
            if len(kinds) != 1:
                raise ValueError(
                    "a reserved pool needs every study on the same hardware and gpus_per_trial"
                )
        return self


class ScenarioSet(_Model):
    """Several campaigns compared side by side."""

    name: str = Field(min_length=1)
    description: str = ""
    scenarios: list[CampaignConfig] = Field(min_length=1)


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def load_config(
    path: str | Path, *, calibration: str | Path | None = None
) -> CampaignConfig | ScenarioSet:
    """Read a campaign (or a set of scenarios) from a ``.yaml``/``.yml`` or ``.toml`` file.

    With ``calibration`` (``tunecost simulate --calibration FILE``), every study takes its
    per-trial cost from that file (:func:`with_calibration`), so a study may omit
    ``duration``, ``power`` and ``calibration`` altogether.

    Raises:
        ConfigError: unreadable syntax or an unsupported suffix (with the file and reason).
        pydantic.ValidationError: a field breaks its rule (the path, the rule, the value).
    """
    path = Path(path)
    text = read_user_text(path, what="a config")
    if not text.strip():
        raise ConfigError(f"{path}: the config file is empty")
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            data: Any = yaml.safe_load(text)
        elif path.suffix.lower() == ".toml":
            data = tomllib.loads(text)
        else:
            raise ConfigError(f"{path}: config files end in .yaml, .yml or .toml")
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not valid {path.suffix[1:].upper()}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: the top level must be a mapping (name: ..., studies: ...), but got "
            f"{type(data).__name__} {_short(data)}"
        )
    context = {"base_dir": path.parent, "calibration": calibration}
    loaded: CampaignConfig | ScenarioSet
    if "scenarios" in data:
        loaded = ScenarioSet.model_validate(data, context=context)
    else:
        loaded = CampaignConfig.model_validate(data, context=context)
    return loaded if calibration is None else with_calibration(loaded, calibration)


def with_calibration(
    loaded: CampaignConfig | ScenarioSet, path: str | Path
) -> CampaignConfig | ScenarioSet:
    """Give every study the calibration at ``path`` (``tunecost simulate --calibration``).

    Every study takes its per-trial duration and energy from ``path``: instead of its
    ``duration`` (and of its ``power``, unless the calibration has no energy model), and
    instead of its own ``calibration.path`` (kept as ``replaced_path``, which the
    simulation's sources report). A study's ``calibration.search_space`` still applies.
    """

    def campaign(cfg: CampaignConfig) -> CampaignConfig:
        studies = []
        for s in cfg.studies:
            own = s.calibration or StudyCalibrationConfig()
            replaced = own.path if own.path is not None and own.path != Path(path) else None
            studies.append(
                s.model_copy(
                    update={
                        "calibration": own.model_copy(
                            update={"path": Path(path), "replaced_path": replaced}
                        ),
                        "duration": None,
                    }
                )
            )
        return cfg.model_copy(update={"studies": studies})

    if isinstance(loaded, ScenarioSet):
        return loaded.model_copy(update={"scenarios": [campaign(c) for c in loaded.scenarios]})
    return campaign(loaded)
