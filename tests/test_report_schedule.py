"""Report schedules: the step numbers trials report at, in the objective's own units."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from tunecost.calibrate import read_records
from tunecost.exceptions import ConfigError
from tunecost.report_schedule import ReportSchedule, infer_schedule

STUDIES = Path(__file__).resolve().parents[1] / "studies"


def test_every_reports_at_the_multiples_up_to_the_budget():
    assert ReportSchedule(every=1).steps_for(4).tolist() == [1, 2, 3, 4]
    # 10 is not a multiple of 4: the final report lands on the budget itself
    assert ReportSchedule(every=4).steps_for(10).tolist() == [4, 8, 10]
    assert ReportSchedule(every=4, final=False).steps_for(10).tolist() == [4, 8]


def test_count_divides_the_budget_like_the_h200_objective():
    """``k·(steps // 8)`` and the last step: 100 steps report at 12, 24, …, 96, 100."""
    assert ReportSchedule(count=8).steps_for(400).tolist() == [50 * k for k in range(1, 9)]
    assert ReportSchedule(count=8).steps_for(100).tolist() == [*(12 * k for k in range(1, 9)),
                                                                100]


def test_explicit_steps_stop_at_the_budget():
    s = ReportSchedule(steps=[1, 3, 9, 27], final=False)
    assert s.steps_for(10).tolist() == [1, 3, 9]


@pytest.mark.parametrize("bad", [{}, {"every": 1, "count": 2}, {"every": 0}, {"count": 0},
                                 {"steps": [3, 1]}, {"steps": []}, {"every": float("inf")},
                                 {"every": 1e-9, "resource": 1e6}])
def test_bad_schedules_name_the_rule(bad):
    with pytest.raises(ValidationError):
        ReportSchedule(**bad)


def test_a_budget_from_a_parameter_is_capped_too():
    """``every`` with no budget in the schedule takes each trial's budget: a huge one is
    refused with the rule, not turned into millions of reports."""
    with pytest.raises(ConfigError, match="at most 100,000"):
        ReportSchedule(every=1).steps_for(1e9)


def test_a_budget_is_needed():
    with pytest.raises(ConfigError, match="budget"):
        ReportSchedule(every=1).steps_for()
    assert ReportSchedule(every=2, resource=6).steps_for().tolist() == [2, 4, 6]


def test_inferred_from_the_h200_records():
    recs = read_records(STUDIES / "h200_transformer_lm" / "data" / "calib_random.jsonl")
    s = infer_schedule([[p.step for p in r.curve] for r in recs],
                       [r.params["steps"] for r in recs])
    assert s is not None and s.count == 8 and s.final and s.resource is None
    for r in recs:
        np.testing.assert_array_equal(s.steps_for(r.params["steps"]),
                                      [p.step for p in r.curve])


def test_inferred_from_an_every_epoch_objective():
    s = infer_schedule([list(range(1, 13))] * 4, [12] * 4)
    assert s == ReportSchedule(every=1, resource=12)
    assert infer_schedule([], []) is None
    odd = infer_schedule([[1, 5, 6]], [6])
    assert odd is not None and odd.steps == [1, 5, 6]


def test_an_offset_past_the_first_report_is_refused():
    with pytest.raises(ValidationError, match="offset <= the first report's step"):
        ReportSchedule(every=12, offset=20)
    with pytest.raises(ConfigError, match="numbers the first report at -4"):
        s = ReportSchedule(count=4, offset=6)
        s.reported(s.steps_for(8))
    assert ReportSchedule(every=1, offset=1).reported(np.array([1.0, 2.0])).tolist() == [0, 1]
