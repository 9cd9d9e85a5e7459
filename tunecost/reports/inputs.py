"""What a report is of: measured trials, repeats, a calibration and the campaign, gathered once.

:func:`gather_inputs` reads every input :func:`tunecost.reports.build_report` was given,
checks they fit together, fills in what can be derived (a calibration fitted on the trials,
a campaign built from a calibration alone, the objective's direction) and says in
:attr:`ReportInputs.sources` where each came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunecost._direction import normalize_direction
from tunecost.calibrate import (
    Calibration,
    TrialRecord,
    fit_calibration,
    load_records,
    read_records,
)
from tunecost.config import CampaignConfig, ScenarioSet, load_config, with_calibration
from tunecost.exceptions import ConfigError

__all__ = [
    "DEFAULT_CAMPAIGN",
    "ReportInputs",
    "campaign_from_calibration",
    "default_direction",
    "gather_inputs",
]

DEFAULT_CAMPAIGN = {
    "pue": 1.0,
    "carbon": {"region": "WORLD"},
    "electricity": {"region": "us-2019-strubell"},
}
"""What a campaign built from a calibration alone assumes; the report states it."""


@dataclass(slots=True)
class ReportInputs:
    """Everything the report is of, read and checked.

    Attributes:
        records: the measured trials (empty without any).
        repeats: records of repeated configurations (empty without any).
        calibration, calibration_path: the calibration given, or fitted on ``records`` and
            saved in the report folder (``None`` without either).
        campaign: the campaign to simulate (``None``: a report of measured trials alone).
        assumed: whether ``campaign`` was built from the calibration alone
            (:data:`DEFAULT_CAMPAIGN`), not given.
        direction: ``minimize`` or ``maximize``.
        seed: the root seed of everything random.
        title: the report's title.
        sources: one line per input, where it came from (the report's "Inputs:" line).
        notes: what the reader must know about the inputs (an estimated energy).
    """

    records: list[TrialRecord]
    repeats: list[TrialRecord]
    calibration: Calibration | None
    calibration_path: Path | None
    campaign: CampaignConfig | None
    assumed: bool
    direction: str
    seed: int
    title: str
    sources: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def maximize(self) -> bool:
        """Whether a higher objective is better."""
        return self.direction == "maximize"


def gather_inputs(
    config: str | Path | CampaignConfig | None,
    out: Path,
    *,
    calibration: str | Path | None = None,
    records: str | Path | None = None,
    repeats: str | Path | None = None,
    optuna_storage: str | None = None,
    study: str | None = None,
    ray_results: str | Path | None = None,
    metric: str | None = None,
    accelerator: str | None = None,
    direction: str | None = None,
    seed: int | None = None,
) -> ReportInputs:
    """Read and check the report's inputs (the arguments of
    :func:`~tunecost.reports.build_report`); a calibration fitted here is saved in ``out``.

    Raises:
        ConfigError: no usable input, two sources of measured trials, or a config with
            scenarios.
    """
    if direction is not None:
        direction = normalize_direction(direction, field="--direction")
    recs, sources = _read_trials(records=records, optuna_storage=optuna_storage, study=study,
                                 ray_results=ray_results, metric=metric, direction=direction)
    reps = read_records(repeats) if repeats is not None else []
    if repeats is not None:
        sources.append(f"repeated configurations: `{repeats}` ({len(reps)} records)")

    cal: Calibration | None = None
    cal_path: Path | None = None
    notes: list[str] = []
    if calibration is not None:
        cal_path = Path(calibration)
        cal = Calibration.load(cal_path)
        sources.append(f"calibration: `{cal_path}` ({cal.n_records} trials of {cal.study!r})")
    direction = direction or default_direction(cal, recs)
    if cal is None and recs and config is None:
        cal = fit_calibration(recs, accelerator=accelerator,
                              direction=direction)  # type: ignore[arg-type]
        cal_path = out / "calibration.json"
        cal.save(cal_path)
        sources.append(f"calibration fitted on the trials: `{cal_path.name}`")
        if cal.energy is None:
            notes.append("the trials have no measured energy: the campaign's energy is "
                         "ESTIMATED from the accelerator's catalog power")

    campaign, assumed = _campaign(config, cal, cal_path, recs, sources)
    if campaign is None and not recs:
        raise ConfigError(
            "nothing to report on: give a campaign CONFIG, --calibration, --records, "
            "--optuna-storage/--study or --ray-results/--metric"
        )
    root_seed = seed if seed is not None else (campaign.seed if campaign else 0)
    title = f"tunecost report: {campaign.name if campaign else recs[0].study}"
    return ReportInputs(recs, reps, cal, cal_path, campaign, assumed, direction, root_seed,
                        title, sources, notes)


def _read_trials(
    *,
    records: str | Path | None,
    optuna_storage: str | None,
    study: str | None,
    ray_results: str | Path | None,
    metric: str | None,
    direction: str | None,
) -> tuple[list[TrialRecord], list[str]]:
    """The measured trials from their one source, and the line that names it."""
    given = [name for name, v in (("--records", records), ("--optuna-storage", optuna_storage),
                                  ("--ray-results", ray_results)) if v is not None]
    if len(given) > 1:
        raise ConfigError(f"give one source of measured trials, not {' and '.join(given)}")
    recs: list[TrialRecord] = []
    sources = []
    if records is not None:
        recs = read_records(records)
        sources.append(f"trials: `{records}` ({len(recs)} records)")
    elif optuna_storage is not None or study is not None:
        recs = load_records(optuna_storage=optuna_storage, study=study)
        sources.append(f"trials: Optuna study {study!r} in `{optuna_storage}` ({len(recs)})")
    elif ray_results is not None or metric is not None:
        mode = {"minimize": "min", "maximize": "max"}[direction or "minimize"]
        recs = load_records(ray_results=ray_results, metric=metric, mode=mode)
        sources.append(f"trials: Ray Tune results `{ray_results}`, metric {metric!r} "
                       f"({len(recs)})")
    return recs, sources


def _campaign(
    config: str | Path | CampaignConfig | None,
    cal: Calibration | None,
    cal_path: Path | None,
    recs: list[TrialRecord],
    sources: list[str],
) -> tuple[CampaignConfig | None, bool]:
    """The campaign to simulate, and whether it was assumed (built from the calibration);
    its source line goes first in ``sources``."""
    if config is not None:
        loaded = (load_config(config, calibration=cal_path)
                  if not isinstance(config, CampaignConfig) else config)
        if isinstance(loaded, ScenarioSet):
            names = ", ".join(c.name for c in loaded.scenarios)
            raise ConfigError(
                f"{config}: a report covers one campaign, this file has scenarios ({names}); "
                "write the one to report on to its own file"
            )
        if cal_path is not None and isinstance(config, CampaignConfig):
            loaded = with_calibration(loaded, cal_path)
        sources.insert(0, f"campaign: `{config}`" if not isinstance(config, CampaignConfig)
                       else f"campaign: {loaded.name!r}")
        return loaded, False
    if cal is not None and cal_path is not None:
        n = sum(r.state == "COMPLETE" for r in recs) or cal.n_records
        return campaign_from_calibration(cal, cal_path, n), True
    return None, False


def default_direction(cal: Calibration | None, recs: list[TrialRecord]) -> str:
    """The objective's direction as the study stored it: the calibration's learning curve,
    else the records' ``attrs["direction"]`` (Optuna) or ``attrs["mode"]`` (Ray Tune), else
    ``minimize``."""
    lc = getattr(cal, "learning_curve", None)
    if getattr(lc, "direction", None) is not None:
        return normalize_direction(lc.direction, field="calibration direction")
    for key in ("direction", "mode"):
        found = {r.attrs[key] for r in recs if isinstance(r.attrs.get(key), str)}
        if len(found) == 1:
            return normalize_direction(found.pop(), field=f'records attrs["{key}"]')
    return "minimize"


def campaign_from_calibration(cal: Calibration, path: Path, n_trials: int) -> CampaignConfig:
    """``n_trials`` random-search trials of the calibrated study on one of its accelerator,
    at :data:`DEFAULT_CAMPAIGN`'s PUE, grid intensity and electricity price.

    Raises:
        ConfigError: the calibration names no accelerator and measured more than host
            energy (nothing says what the trials ran on).
    """
    accelerator = cal.accelerator
    if accelerator is None and cal.energy is not None and cal.energy_scope == "host":
        accelerator = "none"  # a CPU-only study: its host energy is all the energy
    if accelerator is None:
        raise ConfigError(
            f"{path}: the calibration names no accelerator, so no campaign can be built from "
            "it alone; pass a campaign CONFIG (or calibrate with --accelerator)"
        )
    data: dict[str, Any] = {
        "name": f"{cal.study}",
        "description": f"{n_trials} random-search trials of {cal.study!r} on one "
                       f"{accelerator}, costs from {path.name}",
        "workers": 1,
        **DEFAULT_CAMPAIGN,
        "replicates": 2000,
        "seed": 0,
        "studies": [{
            "name": cal.study,
            "strategy": {"kind": "random", "n_trials": n_trials},
            "hardware": {"accelerator": accelerator},
            "calibration": {"path": str(path)},
        }],
    }
    return CampaignConfig.model_validate(data)
