"""Property-based fuzzing of the CLI: no input a user can hand it breaks it.

Every generated input (campaign configs in YAML and TOML, carbon-intensity CSVs, JSON Lines
trial records, calibration files, CodeCarbon CSVs; see ``tests/_fuzz_inputs.py``) goes through
``tunecost.cli.app`` as a user would call it, and must end in one of two ways: a clean error
(non-zero exit, a one-line message, no traceback) or a success whose every JSON number is
finite and >= 0 (and, after ``calibrate``, a file that ``simulate --calibration`` accepts).
A traceback, a hang (past the time limit) or a NaN/inf/negative total fails.

The hand cases of issue 11 are kept as a parametrized table so they stay covered whatever
hypothesis draws. ``benchmarks/bench_fuzz.py`` runs the same generators >= 10,000 times.
"""

from __future__ import annotations

import csv
import math
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _fuzz_inputs as fz  # noqa: E402

TIMEOUT_S = 15.0


@pytest.fixture(scope="module")
def runner() -> Any:
    r = fz.Runner(n_workers=1, timeout_s=TIMEOUT_S)
    yield r
    r.close()


def _check(runner: fz.Runner, case: fz.Case, *, must_succeed: bool = False) -> None:
    out = runner.run(case)
    assert out.kind in ("clean_error", "success"), fz.describe(case, out)
    # A valid base with nothing changed is a campaign or a calibration a user really has.
    if must_succeed or (case.unmutated and case.area in ("config", "carbon", "calibration")):
        assert out.kind == "success", "valid input rejected:\n" + fz.describe(case, out)


# --------------------------------------------------------------------------------------------
# Hand cases of issue 11 (each must be a clean error or a finite success)
# --------------------------------------------------------------------------------------------

# The fuzzer's smallest campaign, priced and seeded, so every total is there to check.
BASE: dict[str, Any] = {
    **fz.MINIMAL_CONFIG,
    "workers": 2,
    "pue": 1.1,
    "pricing": {"usd_per_accelerator_hour": 2.0},
    "electricity": {"usd_per_kwh": 0.1},
    "seed": 3,
}
SIM = ("--replicates", "20", "--json")


def _cfg(*sets: tuple[tuple, Any], raw: str | None = None, fmt: str = "yaml",
         args: tuple[str, ...] = SIM, **extra: Any) -> fz.Case:
    return fz.Case("config", BASE, tuple(("at", 0, s) for s in sets), fmt, raw, args,
                   tuple(extra.items()))


def _series(rows: list[list[Any]], raw: str | None = None) -> fz.Case:
    return fz.Case("carbon", BASE, (("at", 0, (("carbon",), {"series_csv": "carbon.csv"})),),
                   "yaml", None, SIM, (("series", rows), ("series_raw", raw)))


def _records(n: int = 8, *, energy: bool = True, **row: Any) -> list[dict[str, Any]]:
    recs = []
    for i in range(n):
        dur = 10.0 * (1 + i % 4)
        r: dict[str, Any] = {"study": "s", "number": i, "state": "COMPLETE",
                             "params": {"lr": 10 ** (-4 + 0.4 * i), "layers": 1 + i % 3},
                             "value": 1.0 / (1 + i), "duration_s": dur}
        if energy:
            r.update(energy_j=200.0 * dur, energy_source="nvml", power_mean_w=200.0)
        recs.append(r)
    return recs


def _conditional_records(n: int = 10) -> list[dict[str, Any]]:
    recs = _records(n)
    for i, r in enumerate(recs):
        r["params"] = ({"classifier": "svc", "svc_c": 10.0 ** (i % 4 - 2)} if i % 2 == 0
                       else {"classifier": "rf", "rf_max_depth": 2 + i})
    return recs


def _rec(recs: list[dict[str, Any]], *sets: tuple[tuple, Any], raw: str | None = None,
         args: tuple[str, ...] = ("--json",)) -> fz.Case:
    return fz.Case("records", recs, tuple(("at", 0, s) for s in sets), "yaml", raw, args)


def _codecarbon_rows(n: int) -> list[list[Any]]:
    """An emissions.csv of ``n`` CPU-only runs (no GPU tracked), as CodeCarbon writes it."""
    rows: list[list[Any]] = [list(fz.CC_COLUMNS)]
    for i in range(n):
        dur = 60.0 + 10 * i
        rows.append([f"2026-11-27T09:{10 + i:02d}:00", "lm_sweep", f"run-{i}", "exp", dur,
                     1e-4 * (i + 1), 1e-6, 42.5, 0.0, 47.1, 42.5 * dur / 3.6e6, 0.0,
                     47.1 * dur / 3.6e6, 90 * dur / 3.6e6, "France", "FRA", "machine", "", "",
                     1.0])
    return rows


S0 = ("studies", 0)
HAND_CASES: dict[str, fz.Case] = {
    "config is a directory": _cfg(raw="directory"),
    "config is invalid UTF-8": _cfg(raw="invalid_utf8"),
    "config is Latin-1": _cfg(raw="latin1"),
    "config missing": _cfg(raw="missing"),
    "config is TOML with NaN pue": _cfg((("pue",), math.nan), fmt="toml"),
    "n_trials 1e12": _cfg(((*S0, "strategy", "n_trials"), 1e12)),
    "workers 1e9": _cfg((("workers",), 1e9)),
    "grid of 10^12 points": _cfg(((*S0, "strategy"), {
        "kind": "grid", "space": {f"p{i}": list(range(10)) for i in range(12)}})),
    "lognormal sigma 50": _cfg(((*S0, "duration"),
                               {"dist": "lognormal", "median_h": 1.0, "sigma": 50})),
    "preemption hazard inf": _cfg(((*S0, "preemption"),
                                  {"hazard_per_h": math.inf, "checkpoint_interval_h": 1.0})),
    "pue nan": _cfg((("pue",), math.nan)),
    "pue inf": _cfg((("pue",), math.inf)),
    "power inf": _cfg(((*S0, "power", "accelerator_w"), math.inf)),
    "idle power inf": _cfg(((*S0, "power", "idle_w"), math.inf)),
    "host power inf": _cfg(((*S0, "host_power_w"), math.inf)),
    "price inf": _cfg((("pricing", "usd_per_accelerator_hour"), math.inf)),
    "carbon inf": _cfg((("carbon", "g_co2e_per_kwh"), math.inf)),
    "electricity inf": _cfg((("electricity", "usd_per_kwh"), math.inf)),
    "campaign name with markup": _cfg((("name",), "lr sweep [/v2]")),
    "campaign name with markup, table": _cfg((("name",), "lr sweep [/v2]"),
                                             args=("--replicates", "20")),
    "campaign name with emoji code and brackets, table": _cfg((("name",), "h100[sxm] :x:"),
                                                           args=("--replicates", "20")),
    "CPU-only study (accelerator none)": _cfg(((*S0, "hardware"), {"accelerator": "none"}),
                                              ((*S0, "power"), {"kind": "tdp_fraction",
                                                                "utilization": 0.8,
                                                                "idle_w": 0})),
    "sigma 8 with a long checkpoint interval": _cfg(
        ((*S0, "duration"), {"dist": "lognormal", "median_h": 1.0, "sigma": 8}),
        ((*S0, "preemption"), {"hazard_per_h": 1.0, "checkpoint_interval_h": 10.0})),
    "restart overhead 1e308": _cfg(((*S0, "preemption"), {
        "hazard_per_h": 0.05, "checkpoint_interval_h": 10.0, "restart_overhead_h": 1e308})),
    "config file name with markup": _cfg(((*S0, "strategy", "n_trials"), "x"),
                                         filename="run[/bold].yaml"),
    "carbon CSV short row": _series([["hour", "g_co2e_per_kwh"], [0, 300], [1], [2, 100]]),
    "carbon CSV inf": _series([["g_co2e_per_kwh"], [300], ["inf"], [100]]),
    "carbon CSV nan": _series([["g_co2e_per_kwh"], [300], ["nan"], [100]]),
    "carbon CSV Latin-1": _series([["g_co2e_per_kwh"], [300], [100]], raw="latin1"),
    "carbon CSV is a directory": _series([["g_co2e_per_kwh"], [300]], raw="directory"),
    "--ledger is a directory": _cfg(args=(*SIM, "--ledger", "{d}")),
    "--ledger under a file": _cfg(args=(*SIM, "--ledger", "{d}/campaign.yaml/ledger.csv")),
    "report --out is a file": _cfg(args=("--out", "{d}/campaign.yaml", "--replicates", "20",
                                         "--sobol-n", "8"), command="report"),
    "report --out under a file": _cfg(args=("--out", "{d}/campaign.yaml/rep", "--replicates",
                                            "20", "--sobol-n", "8"), command="report"),
    "--out is a directory": _rec(_records(), args=("--json", "--out", "{d}")),
    "--out under a file": _rec(_records(), args=("--json", "--out", "{d}/records.jsonl/c.json")),
    "records: a param is a string in one row": _rec(_records(), ((3, "params", "lr"), "fast")),
    "records: NaN value": _rec(_records(), ((2, "value"), math.nan)),
    "records: NaN duration": _rec(_records(), ((2, "duration_s"), math.nan)),
    "records: NaN param": _rec(_records(), ((2, "params", "lr"), math.nan)),
    "records: NaN energy": _rec(_records(), ((2, "energy_j"), math.nan)),
    "records: conditional space": _rec(_conditional_records()),
    "records: no energy (duration-only calibration)": _rec(_records(energy=False)),
    "records: accelerator none": _rec(_records(), args=("--json", "--accelerator", "none")),
    "records: seed -1": _rec(_records(), args=("--json", "--seed", "-1")),
    "records: a JSON scalar line": _rec(_records(), ((0,), 27190)),
    "records: invalid UTF-8": _rec(_records(), raw="invalid_utf8"),
    "records: is a directory": _rec(_records(), raw="directory"),
    "codecarbon alone": fz.Case("codecarbon", [list(r) for r in csv.reader(
        fz.CODECARBON_FIXTURE.read_text().splitlines())], (), "yaml", None, ("--json",)),
    "codecarbon alone, 6 CPU-only rows": fz.Case("codecarbon", _codecarbon_rows(6), (), "yaml",
                                                None, ("--json",)),
    "calibration is a directory": fz.Case("calibration", 0, (), "yaml", "directory",
                                          ("--json", "--replicates", "5")),
    "calibration without energy": fz.Case("calibration", 1, (), "yaml", None,
                                          ("--json", "--replicates", "5")),
}


# Inputs a user really has, which must not only fail cleanly but work (issue 11's Build 1-2).
MUST_SUCCEED = {
    "records: conditional space",
    "records: no energy (duration-only calibration)",
    "calibration without energy",
    "campaign name with markup, table",
    "campaign name with emoji code and brackets, table",
    "CPU-only study (accelerator none)",
}


@pytest.mark.parametrize("name", list(HAND_CASES))
def test_hand_case(runner: fz.Runner, name: str) -> None:
    _check(runner, HAND_CASES[name], must_succeed=name in MUST_SUCCEED)


# --------------------------------------------------------------------------------------------
# Generated inputs: ~300 in total, derandomized so CI is reproducible
# --------------------------------------------------------------------------------------------

_SETTINGS = {"deadline": None, "derandomize": True, "database": None,
             "phases": [Phase.explicit, Phase.generate],  # no shrinking: a hang costs 15 s a try
             "suppress_health_check": list(HealthCheck)}


@settings(max_examples=120, **_SETTINGS)
@given(case=fz.config_cases())
def test_fuzz_configs(runner: fz.Runner, case: fz.Case) -> None:
    _check(runner, case)


@settings(max_examples=40, **_SETTINGS)
@given(case=fz.carbon_cases())
def test_fuzz_carbon_series(runner: fz.Runner, case: fz.Case) -> None:
    _check(runner, case)


@settings(max_examples=60, **_SETTINGS)
@given(case=fz.record_cases())
def test_fuzz_records(runner: fz.Runner, case: fz.Case) -> None:
    _check(runner, case)


@settings(max_examples=40, **_SETTINGS)
@given(case=fz.calibration_cases())
def test_fuzz_calibration_files(runner: fz.Runner, case: fz.Case) -> None:
    _check(runner, case)


@settings(max_examples=40, **_SETTINGS)
@given(case=fz.codecarbon_cases())
def test_fuzz_codecarbon(runner: fz.Runner, case: fz.Case) -> None:
    _check(runner, case)
