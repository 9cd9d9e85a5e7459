"""Calibration: measure real trials, read them from any source, fit cost models.

Everything here works on :class:`TrialRecord`, the one record format that measured trials
from Optuna, Ray Tune, CodeCarbon and JSON Lines files are read into:

* :class:`TrialMeter` measures one trial (wall time; NVML accelerator energy; RAPL CPU/DRAM
  energy; else an estimate, marked ``estimated``);
* ``tunecost.calibrate.optuna.measured`` and ``tunecost.calibrate.ray.measured_trainable``
  put those measurements into Optuna and Ray Tune studies;
* :func:`load_records` reads them back (and CodeCarbon's ``emissions.csv``, and JSON Lines);
* :func:`fit_calibration` fits duration and energy models (each form chosen by
  cross-validation), the learning curve as a function of the configuration and the step
  (:class:`CurveModel`, validated on the pruning decisions it reproduces), the report
  schedule, and where time goes outside training (:class:`SetupTime`,
  :class:`TrialOverhead`); :func:`calibrate` does both and saves the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tunecost._direction import Direction, normalize_direction
from tunecost._rng import RngLike
from tunecost.calibrate.calibration import Calibration
from tunecost.calibrate.cost_models import (
    DURATION_FORMS,
    ENERGY_FORMS,
    FORMS,
    CostForm,
    FitContext,
    LogLinear,
    LogLinearInteractions,
    OverheadLogLinear,
    PowerModel,
)
from tunecost.calibrate.curves import CurveCV, CurveModel
from tunecost.calibrate.evaluate import evaluate_on
from tunecost.calibrate.features import REACHED_PARAM, FeatureSpec
from tunecost.calibrate.fit import fit_calibration, fit_curve_model
from tunecost.calibrate.importers import (
    from_codecarbon,
    from_jsonl,
    from_optuna,
    from_ray,
    join_codecarbon,
    load_records,
)
from tunecost.calibrate.learning_curve import LearningCurve
from tunecost.calibrate.measure import Measurement, NvmlBackend, RaplBackend, TrialMeter
from tunecost.calibrate.optuna import measured
from tunecost.calibrate.ray import measured_trainable
from tunecost.calibrate.ray import report as ray_report
from tunecost.calibrate.records import CurvePoint, TrialRecord, read_records, write_records
from tunecost.calibrate.repeat_noise import ConfigNoise, SeedNoise, seed_noise
from tunecost.calibrate.space import (
    Category,
    ParamCondition,
    ParamSpace,
    active_masks,
    mask_inactive,
    sample_space,
    suggest_space,
)
from tunecost.calibrate.space_inference import check_records, infer_space
from tunecost.calibrate.target_model import TargetModel
from tunecost.calibrate.timing import SetupTime, TrialOverhead

__all__ = [
    "DURATION_FORMS",
    "ENERGY_FORMS",
    "FORMS",
    "REACHED_PARAM",
    "Calibration",
    "Category",
    "ConfigNoise",
    "CostForm",
    "CurveCV",
    "CurveModel",
    "CurvePoint",
    "FeatureSpec",
    "FitContext",
    "LearningCurve",
    "LogLinear",
    "LogLinearInteractions",
    "Measurement",
    "NvmlBackend",
    "OverheadLogLinear",
    "ParamCondition",
    "ParamSpace",
    "PowerModel",
    "RaplBackend",
    "SeedNoise",
    "SetupTime",
    "TargetModel",
    "TrialMeter",
    "TrialOverhead",
    "TrialRecord",
    "active_masks",
    "calibrate",
    "check_records",
    "evaluate_on",
    "fit_calibration",
    "fit_curve_model",
    "from_codecarbon",
    "from_jsonl",
    "from_optuna",
    "from_ray",
    "infer_space",
    "join_codecarbon",
    "load_records",
    "mask_inactive",
    "measured",
    "measured_trainable",
    "ray_report",
    "read_records",
    "sample_space",
    "seed_noise",
    "suggest_space",
    "write_records",
]


def calibrate(
    *,
    records: str | Path | None = None,
    optuna_storage: str | None = None,
    study: str | None = None,
    ray_results: str | Path | None = None,
    metric: str | None = None,
    mode: str | None = None,
    codecarbon: str | Path | None = None,
    accelerator: str | None = None,
    n_folds: int = 5,
    repeats: Sequence[TrialRecord] = (),
    out: str | Path | None = None,
    rng: RngLike = 0,
) -> Calibration:
    """Read a measured study from one source, fit its cost models, and save them.

    Args:
        records, optuna_storage, study, ray_results, metric, codecarbon: the source, exactly
            one, and ``codecarbon`` may be joined to any of the others (see
            :func:`load_records`).
        mode: the objective's direction, ``min``/``max``/``minimize``/``maximize``;
            ``None``: the Optuna study's own (``attrs["direction"]`` of its records), else
            ``minimize`` (Ray Tune's default ``min``). Given, it wins over the study's, with
            a warning where they differ.
        accelerator: catalog accelerator the trials ran on; bounds fitted power by its idle
            power and TDP.
        n_folds: cross-validation folds used to choose and score each model's form.
        repeats: records of repeated configurations, for seed noise.
        out: write the calibration here as JSON (atomically).
        rng: seed of the fold shuffling.
    """
    direction: Direction | None = (
        None if mode is None else normalize_direction(mode, field="mode")
    )
    recs = load_records(
        records=records,
        optuna_storage=optuna_storage,
        study=study,
        ray_results=ray_results,
        metric=metric,
        codecarbon=codecarbon,
        mode=direction,
    )
    # None: the study's own (fit_calibration reads the records'), warned where they differ.
    calibration = fit_calibration(
        recs,
        accelerator=accelerator,
        n_folds=n_folds,
        repeats=repeats,
        direction=mode,
        rng=rng,
    )
    if out is not None:
        calibration.save(out)
    return calibration
