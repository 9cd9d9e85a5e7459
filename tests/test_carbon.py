"""Carbon-intensity series: an ``hour`` column is honoured; each row holds until the next."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tunecost.carbon import IntensitySeries, load_intensity_series
from tunecost.config import CampaignConfig
from tunecost.exceptions import ConfigError
from tunecost.simulate import simulate


def _campaign(study: dict | None = None, **top: object) -> dict:
    """One study of ten 2-hour trials on one worker at 250 W (tests/simulate's campaign)."""
    s = {"name": "s", "strategy": {"kind": "random", "n_trials": 10},
         "duration": {"dist": "fixed", "duration_h": 2.0},
         "hardware": {"accelerator": "v100-sxm2"},
         "power": {"kind": "constant", "accelerator_w": 250.0, "idle_w": 50.0}, **(study or {})}
    return {"name": "c", "workers": 1, "pue": 1.0, "carbon": {"g_co2e_per_kwh": 500.0},
            "studies": [s], "replicates": 50, "seed": 3, **top}


def test_hour_column_places_rows_at_their_hours(tmp_path: Path) -> None:
    path = tmp_path / "grid.csv"
    path.write_text("hour,g_co2e_per_kwh\n0,100\n1,300\n12,50\n")
    s = load_intensity_series(path)
    assert s.period_h == 13.0  # the last row holds step_h = 1 h
    assert float(s.integral(0.0, 1.0)) == pytest.approx(100.0)
    assert float(s.integral(1.0, 12.0)) == pytest.approx(11 * 300.0)  # the gap holds 300
    assert float(s.integral(12.0, 13.0)) == pytest.approx(50.0)
    assert float(s.integral(13.0, 14.0)) == pytest.approx(100.0)  # repeats with its period
    assert s.mean_g_co2e_per_kwh == pytest.approx((100 + 11 * 300 + 50) / 13)


def test_without_hours_rows_are_step_h_apart(tmp_path: Path) -> None:
    path = tmp_path / "grid.csv"
    path.write_text("g_co2e_per_kwh\n100\n300\n50\n")
    s = load_intensity_series(path, step_h=2.0)
    assert s.period_h == 6.0
    assert float(s.integral(2.0, 4.0)) == pytest.approx(600.0)


def test_hour_column_changes_the_campaign_co2(tmp_path: Path) -> None:
    """Ten 1-hour trials one after another: with hours 0, 1, 12 the second row covers hours
    1-10; read as three consecutive hours it would cover hour 1 only."""
    (tmp_path / "hours.csv").write_text("hour,g_co2e_per_kwh\n0,100\n1,300\n12,50\n")
    (tmp_path / "rows.csv").write_text("g_co2e_per_kwh\n100\n300\n50\n")
    out = {}
    for name in ("hours", "rows"):
        cfg = CampaignConfig.model_validate(
            _campaign(carbon={"series_csv": str(tmp_path / f"{name}.csv")},
                          study={"duration": {"dist": "fixed", "duration_h": 1.0}}))
        out[name] = float(simulate(cfg, replicates=2).metrics["co2e_kg"][0])
    kwh_per_h = 0.25
    assert out["hours"] == pytest.approx(kwh_per_h * (100 + 9 * 300) / 1000)
    assert out["rows"] == pytest.approx(kwh_per_h * (100 + 300 + 50) * 10 / 3 / 1000, rel=0.05)


def test_series_rejects_non_finite_steps() -> None:
    with pytest.raises(ValueError, match="0 <= g_co2e_per_kwh <= 10,000.*inf at step 1"):
        IntensitySeries(np.array([1.0, np.inf]))


_CELLS = ["0", "1", "12", "-1", "inf", "nan", "1e308", "", " ", "x", "\xe9", '"', "3.5",
          "1e-308", "9999", "10001"]


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    header=st.sampled_from([["g_co2e_per_kwh"], ["hour", "g_co2e_per_kwh"],
                            ["g_co2e_per_kwh", "hour"], ["grams"]]),
    rows=st.lists(st.lists(st.sampled_from(_CELLS), max_size=3), max_size=6),
    encoding=st.sampled_from(["utf-8", "latin-1"]),
)
def test_any_csv_loads_or_fails_with_one_line(tmp_path: Path, header: list[str],
                                              rows: list[list[str]], encoding: str) -> None:
    path = tmp_path / "grid.csv"
    path.write_bytes("\n".join(",".join(r) for r in [header, *rows]).encode(encoding))
    try:
        s = load_intensity_series(path)
    except ConfigError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
        return
    v = s.integral(np.array([0.0, 5.0]), np.array([3.0, 1000.0]))
    assert np.isfinite(v).all() and (v >= 0).all()
