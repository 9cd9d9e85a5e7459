"""Bad input to ``tunecost simulate`` never breaks it: one line naming the field, the rule and
the value, exit status 2, no traceback, no hang, and nothing written.

Each case is a small edit of one valid campaign, run through the real CLI.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from tunecost.cli import app

runner = CliRunner()

BASE: dict[str, Any] = {
    "name": "demo",
    "workers": 4,
    "pue": 1.1,
    "replicates": 20,
    "carbon": {"g_co2e_per_kwh": 400},
    "studies": [
        {
            "name": "sweep",
            "strategy": {"kind": "random", "n_trials": 20},
            "duration": {"dist": "fixed", "duration_h": 2},
            "hardware": {"accelerator": "a100-sxm4-80gb"},
            "power": {"kind": "constant", "accelerator_w": 300},
        }
    ],
}


def _study(d: dict) -> dict:
    return d["studies"][0]


def _set(path: str, value: Any) -> Callable[[dict], None]:
    """An edit setting ``a.b.c`` (``s`` is the first study) to ``value``."""

    def edit(d: dict) -> None:
        keys = path.split(".")
        node = _study(d) if keys[0] == "s" else d
        for k in keys[1:-1] if keys[0] == "s" else keys[:-1]:
            node = node.setdefault(k, {})
        node[keys[-1]] = value

    return edit


NAN, INF = float("nan"), float("inf")

# (case id, edit of BASE, substrings the one error line must contain)
CONFIG_CASES: list[tuple[str, Callable[[dict], None], tuple[str, ...]]] = [
    ("pue-nan", _set("pue", NAN), ("pue", "1 <= pue < inf", "nan")),
    ("pue-inf", _set("pue", INF), ("pue", "inf")),
    ("pue-below-1", _set("pue", 0.5), ("pue", "0.5")),
    ("power-inf", _set("s.power.accelerator_w", INF), ("accelerator_w", "finite", "inf")),
    ("power-nan", _set("s.power.accelerator_w", NAN), ("accelerator_w", "finite", "nan")),
    ("carbon-inf", _set("carbon.g_co2e_per_kwh", INF), ("g_co2e_per_kwh", "finite")),
    ("price-inf", _set("pricing", {"usd_per_accelerator_hour": INF}),
     ("usd_per_accelerator_hour", "finite")),
    ("electricity-nan", _set("electricity", {"usd_per_kwh": NAN}), ("usd_per_kwh", "finite")),
    ("host-inf", _set("s.host_power_w", INF), ("host_power_w", "finite")),
    ("hazard-inf", _set("s.preemption", {"hazard_per_h": INF, "checkpoint_interval_h": 1}),
     ("hazard_per_h", "finite", "inf")),
    ("hazard-huge", _set("s.preemption", {"hazard_per_h": 1e9, "checkpoint_interval_h": 1}),
     ("hazard_per_h", "10,000")),
    ("checkpoint-nan", _set("s.preemption", {"hazard_per_h": 1, "checkpoint_interval_h": NAN}),
     ("checkpoint_interval_h", "finite")),
    ("sigma-50", _set("s.duration", {"dist": "lognormal", "median_h": 1, "sigma": 50}),
     ("sigma <= 20", "sigma=50")),
    ("sigma-8-typo", _set("s.duration", {"dist": "lognormal", "median_h": 1, "sigma": 8}),
     ("sigma <= 4", "sigma=8", "0.8")),
    ("sigma-inf", _set("s.duration", {"dist": "lognormal", "median_h": 1, "sigma": INF}),
     ("sigma", "finite")),
    ("weibull-tiny-shape", _set("s.duration", {"dist": "weibull", "shape": 1e-3, "scale_h": 1}),
     ("shape=0.001", "float64")),
    ("weibull-shape-1e-308", _set("s.duration", {"dist": "weibull", "shape": 1e-308,
                                                 "scale_h": 1}), ("shape=1e-308", "float64")),
    ("gamma-tiny-cv", _set("s.duration", {"dist": "gamma", "mean_h": 1, "cv": 1e-308}),
     ("cv", "0.000001")),
    ("gamma-huge-cv", _set("s.duration", {"dist": "gamma", "mean_h": 1, "cv": 1e6}),
     ("cv", "10")),
    ("n-trials-1e12", _set("s.strategy.n_trials", 10**12),
     ("n_trials=1,000,000,000,000", "1,000,000")),
    ("grid-1e12", _set("s.strategy", {"kind": "grid",
                                      "space": {f"p{i}": list(range(10)) for i in range(12)}}),
     ("1,000,000,000,000 jobs", "counted, not built")),
    ("hyperband-tiny-fidelity", _set("s.strategy", {"kind": "hyperband", "min_fidelity": 1e-300,
                                                    "eta": 2}),
     ("min_fidelity=1e-300", "eta")),
    ("count-times-trials-memory", _set("s.count", 10**6),
     ("GiB", "20,000,000 jobs")),
    ("jobs-times-replicates-time", lambda d: (d.update(replicates=100_000),
                                              _study(d).update(count=5_000)),
     ("100,000 jobs per replicate", "scheduling steps", "--replicates")),
    ("replicates-1e12", _set("replicates", 10**12), ("replicates", "100000000")),
    ("workers-zero", _set("workers", 0), ("workers", "greater than or equal to 1")),
    # From the fuzzer (/work/coord/fuzz_findings.md F3, F4, F7, F14-F16).
    ("unknown-key-with-markup", _set("s.[/bold]", 1), ("[/bold]", "Extra inputs")),
    ("idle-inf", _set("s.power.idle_w", INF), ("idle_w", "finite")),
    ("restart-1e308", _set("s.preemption", {"hazard_per_h": 0.05, "checkpoint_interval_h": 10,
                                            "restart_overhead_h": 1e308}),
     ("restart_overhead_h", "10000", "1e+308")),
    ("carbon-1e308", _set("carbon.g_co2e_per_kwh", 1e308), ("g_co2e_per_kwh", "10000")),
    ("power-1e308", _set("s.power.accelerator_w", 1e308), ("accelerator_w", "100000")),
    ("hours-1e306", _set("s.duration", {"dist": "fixed", "duration_h": 1e306}),
     ("duration_h", "1000000")),
    ("summary-sigma-huge", _set("s.duration", {"dist": "summary", "min_h": 0.05, "mean_h": 2,
                                               "max_h": 20, "sigma": 6e267}),
     ("sigma", "20")),
    ("count-overflow", _set("s.count", 17683685659730948), ("count", "1000000000")),
    ("nas-1e12", _set("s.strategy", {"kind": "nas", "n_children": 10**12, "child_fidelity": 1}),
     ("n_children=1,000,000,000,000",)),
    ("batch-size-1e20", _set("s.strategy", {"kind": "bayesian", "n_trials": 10,
                                            "batch_size": 10**20}),
     ("batch_size", "1,000,000,000")),
    ("gpus-per-trial-1e20", _set("s.hardware.gpus_per_trial", 10**20), ("gpus_per_trial",)),
    ("product-overflows", _set("s.strategy", {"kind": "nas", "n_children": 20,
                                              "child_fidelity": 1, "child_cost_factor": 1e306}),
     ("gpu_hours", "not a finite number >= 0")),
]


def _write(tmp_path: Path, data: Any, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def _one_line_error(result: Any, *needles: str) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert result.stdout == ""
    return lines[0]


@pytest.mark.parametrize(("edit", "needles"), [c[1:] for c in CONFIG_CASES],
                         ids=[c[0] for c in CONFIG_CASES])
def test_bad_config_is_one_line(tmp_path: Path, edit: Callable[[dict], None],
                                needles: tuple[str, ...]) -> None:
    data = copy.deepcopy(BASE)
    edit(data)
    result = runner.invoke(app, ["simulate", str(_write(tmp_path, data)), "--json"])
    _one_line_error(result, *needles)


@pytest.mark.parametrize(
    ("content", "needles"),
    [
        (None, ("is a directory",)),
        (b"name: \xe9t\xe9\n", ("UTF-8", "line 1", "\\xe9")),
        (b"", ("empty",)),
        (b"   \n\n", ("empty",)),
        (b"- a\n- b\n", ("mapping", "list")),
        (b"hello\n", ("mapping", "str")),
        (b"name: [unclosed\n", ("not valid YAML",)),
    ],
    ids=["directory", "latin-1", "empty", "blank", "list", "scalar", "bad-yaml"],
)
def test_unreadable_config_is_one_line(tmp_path: Path, content: bytes | None,
                                       needles: tuple[str, ...]) -> None:
    path = tmp_path / "c.yaml"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    _one_line_error(runner.invoke(app, ["simulate", str(path)]), str(path), *needles)


@pytest.mark.parametrize(
    ("csv", "needles"),
    [
        (b"g_co2e_per_kwh,x\n100,1\n200\n", ("line 3", "1 field(s)", "header names 2")),
        (b"g_co2e_per_kwh\n100\ninf\n", ("line 3", "finite", "'inf'")),
        (b"g_co2e_per_kwh\n100\nnan\n", ("line 3", "finite", "'nan'")),
        (b"g_co2e_per_kwh\n100\n\xe9\n", ("line 3", "UTF-8", "\\xe9")),
        (b"grams\n100\n", ("needs a 'g_co2e_per_kwh' column", "grams")),
        (b"g_co2e_per_kwh\n100\n-5\n", ("line 3", "0 <= g_co2e_per_kwh <= 10,000", "-5")),
        (b"g_co2e_per_kwh\n1e308\n", ("line 2", "10,000", "1e+308")),
        (b"g_co2e_per_kwh\n100\nabc\n", ("line 3", "number", "'abc'")),
        (b"g_co2e_per_kwh\n", ("no rows",)),
        (b"hour,g_co2e_per_kwh\n0,100\n5,200\n3,300\n", ("line 4", "increase", "3")),
        (b"hour,g_co2e_per_kwh\n1,100\n", ("line 2", "first hour must be 0")),
    ],
    ids=["short-row", "inf", "nan", "latin-1", "missing-column", "negative", "1e308", "text",
         "no-rows", "hours-decrease", "hours-start"],
)
def test_bad_carbon_series_is_one_line(tmp_path: Path, csv: bytes,
                                       needles: tuple[str, ...]) -> None:
    series = tmp_path / "grid.csv"
    series.write_bytes(csv)
    data = copy.deepcopy(BASE)
    data["carbon"] = {"series_csv": "grid.csv"}  # relative to the config file
    _one_line_error(runner.invoke(app, ["simulate", str(_write(tmp_path, data))]), *needles)


@pytest.mark.parametrize("where", ["directory", "under-a-file"])
def test_ledger_path_that_cannot_be_a_file(tmp_path: Path, where: str) -> None:
    config = _write(tmp_path, BASE)
    if where == "directory":
        ledger = tmp_path / "out"
        ledger.mkdir()
        needle = "is a directory"
    else:
        (tmp_path / "plain").write_text("x")
        ledger = tmp_path / "plain" / "ledger.csv"
        needle = "which is a file"
    result = runner.invoke(app, ["simulate", str(config), "--ledger", str(ledger)])
    _one_line_error(result, str(ledger), needle)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["c.yaml", "out" if where == "directory" else "plain"]
    )  # nothing half-written beside it


def test_workers_far_beyond_the_jobs_runs_without_allocating_them(tmp_path: Path) -> None:
    """`workers: 1e9` schedules on at most as many slots as jobs; a reserved pool still pays
    for and powers every idle slot."""
    few = copy.deepcopy(BASE)
    few.update(reserved=True, pricing={"usd_per_accelerator_hour": 1.0})
    _study(few)["power"]["idle_w"] = 50
    many = copy.deepcopy(few)
    many["workers"] = 10**9
    few["workers"] = 20
    out = {}
    for name, data in (("few", few), ("many", many)):
        result = runner.invoke(app, ["simulate", str(_write(tmp_path, data, f"{name}.yaml")),
                                     "--json", "--replicates", "5"])
        assert result.exit_code == 0, result.output
        out[name] = json.loads(result.stdout)["metrics"]
    assert out["many"]["wall_clock_h"]["p50"] == out["few"]["wall_clock_h"]["p50"] == 2.0
    # 20 busy slots for 2 h (same in both) + the idle ones at 50 W x PUE 1.1 for 2 h.
    extra_kwh = (10**9 - 20) * 2.0 * 0.050 * 1.1
    assert out["many"]["energy_kwh"]["p50"] == pytest.approx(
        out["few"]["energy_kwh"]["p50"] + extra_kwh)
    assert out["many"]["cost_usd"]["p50"] == pytest.approx(10**9 * 2.0)


def test_cli_replicates_are_bounded(tmp_path: Path) -> None:
    result = runner.invoke(app, ["simulate", str(_write(tmp_path, BASE)),
                                 "--replicates", str(10**12)])
    _one_line_error(result, "replicates <= 100,000,000", "1,000,000,000,000")


def test_replay_with_far_more_workers_than_trials_runs(tmp_path: Path) -> None:
    """The replay keeps state per slot: an unreserved pool is cut to its trials (same
    result), so `workers: 1e9` neither allocates them nor changes a total."""
    out = {}
    for workers in (10, 10**9):
        data = copy.deepcopy(BASE)
        data.update(workers=workers, replicates=2)
        _study(data)["strategy"] = {"kind": "optuna", "n_trials": 6}
        result = runner.invoke(app, ["simulate", str(_write(tmp_path, data)), "--json"])
        assert result.exit_code == 0, result.output
        out[workers] = json.loads(result.stdout)
    assert out[10]["metrics"] == out[10**9]["metrics"]
    assert out[10**9]["assumptions"]["workers"] == 10**9


def test_replay_too_many_trials_is_refused_with_the_count(tmp_path: Path) -> None:
    data = copy.deepcopy(BASE)
    _study(data)["strategy"] = {"kind": "optuna", "n_trials": 10**7}
    result = runner.invoke(app, ["simulate", str(_write(tmp_path, data)), "--replicates", "1"])
    _one_line_error(result, "10,000,000 trials × 1 replicates", "--engine vectorized")


def test_calibration_flag_that_is_a_directory(tmp_path: Path) -> None:
    folder = tmp_path / "calib"
    folder.mkdir()
    result = runner.invoke(app, ["simulate", str(_write(tmp_path, BASE)), "--calibration",
                                 str(folder)])
    _one_line_error(result, "--calibration", "is a directory")
