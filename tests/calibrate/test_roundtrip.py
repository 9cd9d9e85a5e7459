"""Every calibration the fitter can write loads back with the same content (property test)."""

from __future__ import annotations

import math
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tunecost.calibrate.calibration import Calibration
from tunecost.calibrate.fit import fit_calibration
from tunecost.calibrate.records import CurvePoint, TrialRecord
from tunecost.exceptions import ConfigError

_KINDS = ("float", "log", "int", "categorical")


@st.composite
def record_sets(draw: st.DrawFn) -> list[TrialRecord]:
    """A study: 1-4 parameters of any kind, maybe a conditional branch, with or without
    energy and curves, some trials pruned or failed."""
    n = draw(st.integers(6, 14))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    kinds = draw(st.lists(st.sampled_from(_KINDS), min_size=1, max_size=4))
    branch = draw(st.booleans())
    energy = draw(st.sampled_from(["accelerator", "host", "none", "zeros"]))
    curves = draw(st.booleans())
    pruned_share = draw(st.sampled_from([0.0, 0.3, 0.6]))
    budget = 5
    recs = []
    for i in range(n):
        params: dict[str, Any] = {}
        log_d = 0.0
        for k, kind in enumerate(kinds):
            if kind == "float":
                params[f"p{k}"] = float(rng.uniform(0, 1))
            elif kind == "log":
                params[f"p{k}"] = float(np.exp(rng.uniform(-7, 0)))
            elif kind == "int":
                params[f"p{k}"] = int(rng.integers(1, 64))
            else:
                params[f"p{k}"] = str(rng.choice(["a", "b", "c"]))
            v = params[f"p{k}"]
            log_d += 0.3 * ("abc".index(v) / 2 if isinstance(v, str) else math.log1p(abs(v)))
        if branch:
            side = "svc" if i % 2 else "rf"
            params["clf"] = side
            if side == "svc":
                params["svc_c"] = float(np.exp(rng.uniform(-3, 3)))
                log_d += 0.1 * math.log(params["svc_c"])
            else:
                params["rf_depth"] = int(rng.integers(2, 32))
                log_d += 0.05 * params["rf_depth"]
        state = ("PRUNED" if rng.uniform() < pruned_share
                 else "FAIL" if rng.uniform() < 0.05 else "COMPLETE")
        last = int(rng.integers(0, budget - 1)) if state == "PRUNED" else budget - 1
        duration_s = float(np.exp(log_d + 0.05 * rng.standard_normal())) * (last + 1) / budget
        power_w = float(100 + 50 * rng.uniform())
        e = duration_s * power_w
        fields: dict[str, Any] = {}
        if energy == "accelerator":
            fields = {"energy_j": e, "energy_source": "nvml"}
        elif energy == "host":
            fields = {"cpu_energy_j": e, "cpu_energy_source": "estimated"}
        elif energy == "zeros":
            fields = {"cpu_energy_j": 0.0 if i % 2 else e, "cpu_energy_source": "estimated"}
        curve = []
        if curves:
            curve = [CurvePoint(step=s, value=float(1 + 1 / (s + 1) + 0.1 * rng.uniform()),
                                t_s=duration_s * (s + 1) / (last + 1)) for s in range(last + 1)]
        recs.append(TrialRecord(number=i, state=state, params=params, duration_s=duration_s,
                                value=1.0 if state != "FAIL" else None, fidelity=float(last),
                                curve=curve, attrs={"t_start": 10.0 * i,
                                                    "t_end": 10.0 * i + duration_s},
                                **fields))
    return recs


@settings(max_examples=24, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(record_sets())
def test_every_fitted_calibration_loads_back(records: list[TrialRecord]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zero readings, left-out trials: noted, not errors
        try:
            cal = fit_calibration(records, n_folds=3)
        except ConfigError:
            return  # too few usable trials, nothing varies: refused in one line, not written
    dumped = cal.model_dump()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "calib.json"
        cal.save(path)
        back = Calibration.load(path)
    assert back.model_dump() == dumped
    assert (cal.energy is None) == (back.power_high_w is None)
    draws = back.sample_params(64, rng=0)
    d = back.predict_duration_s(draws)
    assert np.all(np.isfinite(d)) and np.all(d > 0)


_EDITS = {
    "coefficients not a list": lambda c: c["duration"]["params"].__setitem__("coef", 0.0),
    "one coefficient short": lambda c: c["duration"]["params"]["coef"].pop(0),
    "a coefficient that overflows": lambda c: c["duration"]["params"]["coef"].__setitem__(
        0, 854736.0),
    "cv errors without the form": lambda c: c["duration"]["cv_mdape_pct"].pop(
        c["duration"]["form"]),
    "an absurd noise spread": lambda c: c["duration"].__setitem__("sigma_log", 1e308),
}


@pytest.mark.parametrize("edit", sorted(_EDITS))
def test_hand_edited_calibrations_are_refused_in_one_line(edit: str, tmp_path: Path) -> None:
    import json

    from tunecost.exceptions import ConfigError

    src = Path(__file__).resolve().parents[2] / "studies" / "fidelity_cpu" / "calib.json"
    data = json.loads(src.read_text(encoding="utf-8"))
    Calibration.model_validate(data)  # the file as written loads
    _EDITS[edit](data)
    bad = tmp_path / "edited.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ConfigError, match="not a calibration file") as err:
        Calibration.load(bad)
    assert "\n" not in str(err.value)
