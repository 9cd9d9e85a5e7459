"""What a user could hand the CLI, generated, and what the CLI does with it.

Shared by ``tests/test_fuzz.py`` (a few hundred examples in CI) and
``benchmarks/bench_fuzz.py`` (>= 10,000). A :class:`Case` is a plain, picklable description
of one CLI call: a *base* input that is valid by the real schema (a campaign config, trial
records, a calibration, a carbon series, a CodeCarbon CSV), a list of *mutations* applied to
it (wrong types, non-finite and huge numbers, unknown and missing keys, rich markup, bad bytes,
a directory where a file belongs ...), and extra CLI arguments. :func:`render` turns a case
into files and an argv; :class:`Runner` runs cases through ``tunecost.cli.app`` in forked
worker processes (a memory cap so "allocate a TiB" fails fast instead of swapping the machine,
and a wall-clock limit so a hang is counted, killed and the run goes on) and classifies each:

- ``clean_error``: non-zero exit through ``SystemExit`` (the CLI's one-line error), no traceback;
- ``success``: exit 0, and every number in the ``--json`` output is finite and >= 0
  (after ``calibrate``, the written calibration also loads and simulates);
- ``non_finite_or_negative``: exit 0 with a NaN, inf or negative number in the output;
- ``traceback``: any other exception (or the worker died);
- ``hang``: past the time limit;
- ``garbled_output``: exit 0, but the table does not show a campaign or study name as the user
  wrote it (rich markup ``[/v2]`` eaten, ``:x:`` turned into an emoji).

Mutations are dropped one at a time by :func:`minimise` while the failure keeps its
signature, so a reported input is as small as this structure allows.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import io
import json
import math
import multiprocessing as mp
import os
import resource
import shutil
import signal
import tempfile
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

__all__ = [
    "BAD_OUTCOMES",
    "Case",
    "Outcome",
    "Runner",
    "any_case",
    "calibration_cases",
    "carbon_cases",
    "codecarbon_cases",
    "config_cases",
    "minimise",
    "record_cases",
    "render",
]

BAD_OUTCOMES = ("traceback", "hang", "non_finite_or_negative", "garbled_output")
ROOT = Path(__file__).resolve().parents[1]
CODECARBON_FIXTURE = ROOT / "tests" / "calibrate" / "fixtures" / "codecarbon_emissions.csv"

# --------------------------------------------------------------------------------------------
# Catalog names (the real catalog, so valid bases use real rows)
# --------------------------------------------------------------------------------------------

ACCELERATORS = ["v100-sxm2", "a100-sxm4-80gb", "h100-sxm", "h200", "l4", "t4", "tpu-v2",
                "titan-x", "m40", "none"]
GRID_REGIONS = ["FR", "US", "WORLD", "us-epa-2018", "aws:us-east-1", "gcp:us-central1"]
PUE_KEYS = ["uptime-2018", "aws", "gcp", "google-georgia"]
INSTANCES = [("p5.48xlarge", "aws"), ("g6.xlarge", "aws"), ("a2-highgpu-1g", "gcp"),
             ("p100-2019", "gcp"), ("g4dn.xlarge", "aws")]
ELECTRICITY = ["us-2019-strubell", "us-ia-2024ytd-all-sectors"]

# Values a mutation writes into a field: non-finite, huge, negative, zero, wrong type, markup.
BAD_NUMBERS: list[Any] = [
    math.nan, math.inf, -math.inf, -1, -1e-9, 0, 0.0, 1e-300, 1e12, 1e9, 10**12, 10**30,
    2**63, 1e308, 50, 8, 0.5, 1, 3,
]
BAD_OTHER: list[Any] = [
    "abc", "", "[/bold]", ":x:", "h100[sxm]", "lr sweep [/v2]", "nan", "inf", "1e12", None,
    True, False, [], {}, [1, 2], {"a": 1}, "é\u0000", "x" * 300,
]
BAD_VALUES = BAD_NUMBERS + BAD_OTHER


# --------------------------------------------------------------------------------------------
# The case: base + mutations + args, and its rendering into files and an argv
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One CLI call to make.

    Attributes:
        area: ``config``, ``carbon``, ``records``, ``calibration`` or ``codecarbon``.
        base: the valid input (a config dict, a list of record dicts, a list of CSV rows ...).
        mutations: ``(op, selector, value)`` triples applied in order; ``selector`` picks a
            path of the current data (modulo the number of paths), so a case never depends on
            anything but itself.
        fmt: ``yaml`` or ``toml`` for configs.
        raw: a byte-level change to the main file (``invalid_utf8``, ``latin1``, ``truncate``,
            ``empty``, ``directory``, ``missing``, ``bad_suffix``, ``toplist``) or ``None``.
        args: extra CLI arguments; ``{d}`` is the case's folder.
        extra: side inputs, e.g. ``{"series": [...rows...], "series_mutations": [...]}``.
        name: a label for hand-written cases.
    """

    area: str
    base: Any
    mutations: tuple[tuple[str, int, Any], ...] = ()
    fmt: str = "yaml"
    raw: str | None = None
    args: tuple[str, ...] = ()
    extra: tuple[tuple[str, Any], ...] = ()
    name: str = ""

    @property
    def unmutated(self) -> bool:
        """A valid base with nothing changed and only plain arguments: must succeed."""
        ex = dict(self.extra)
        plain = {"--json", "--replicates", "20", "5"}
        return (not self.mutations and self.raw is None and not ex.get("series_mutations")
                and ex.get("series_raw") is None and set(self.args) <= plain)

    def size(self) -> int:
        return len(self.mutations) + (self.raw is not None) + len(self.args) + sum(
            len(v) for k, v in self.extra if k.endswith("mutations"))


def _paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path of a JSON-like tree; a list contributes itself and its first item."""
    out: list[tuple] = []
    if isinstance(data, dict):
        for k, v in data.items():
            out.append(prefix + (k,))
            out.extend(_paths(v, prefix + (k,)))
    elif isinstance(data, list) and data:
        out.append(prefix + (0,))
        out.extend(_paths(data[0], prefix + (0,)))
    return out


def _dict_paths(data: Any) -> list[tuple]:
    return [()] * isinstance(data, dict) + [p for p in _paths(data)
                                            if isinstance(_get(data, p), dict)]


def _get(data: Any, path: tuple) -> Any:
    for k in path:
        data = data[k]
    return data


def _copy(data: Any) -> Any:
    return json.loads(json.dumps(data, allow_nan=True))


def apply_mutations(data: Any, mutations: Iterable[tuple[str, int, Any]],
                    pinned: list | None = None) -> tuple[Any, list]:
    """Apply ``(op, selector, value)`` mutations; return the data and the resolved steps.

    ``pinned``, if given, receives each mutation with its path spelled out (``at`` and
    ``del_at``), so it means the same on another base (see :func:`minimise`).
    """
    data = _copy(data)
    resolved = []
    pin = pinned if pinned is not None else []
    for op, sel, value in mutations:
        if op == "add":
            targets = _dict_paths(data)
            if not targets:
                continue
            path = targets[sel % len(targets)]
            key, val = value
            val = copy.deepcopy(val)  # never the same object twice (a cycle)
            _get(data, path)[key] = val
            resolved.append(("add", ".".join(map(str, path + (key,))), val))
            pin.append(("at", 0, (path + (key,), val)))
            continue
        if op == "del_at":
            try:
                del _get(data, value[:-1])[value[-1]]
            except (IndexError, KeyError, TypeError):
                continue
            resolved.append(("del", ".".join(map(str, value)), None))
            pin.append((op, 0, value))
            continue
        paths = _paths(data)
        if not paths:
            continue
        if op == "at":  # a fixed path given by name: targeted cases from the issue
            path, val = value
            val = copy.deepcopy(val)
            parent = data
            try:
                for k in path[:-1]:
                    parent = parent.setdefault(k, {}) if isinstance(parent, dict) else parent[k]
                if not isinstance(parent, dict | list):
                    continue
                parent[path[-1]] = val
            except (IndexError, KeyError, TypeError):
                continue  # an earlier mutation removed the path
            resolved.append(("set", ".".join(map(str, path)), val))
            pin.append(("at", 0, (path, val)))
            continue
        path = paths[sel % len(paths)]
        parent = _get(data, path[:-1])
        if op == "set":
            parent[path[-1]] = value = copy.deepcopy(value)
            resolved.append(("set", ".".join(map(str, path)), value))
            pin.append(("at", 0, (path, value)))
        elif op == "del":
            del parent[path[-1]]
            resolved.append(("del", ".".join(map(str, path)), None))
            pin.append(("del_at", 0, path))
    return data, resolved


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v if x is not None) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(x)}"
                               for k, x in v.items() if x is not None) + "}"
    return json.dumps(str(v))


def to_toml(data: dict[str, Any]) -> str:
    """A small TOML writer (inline tables); TOML has no null, so ``None`` keys are dropped."""
    return "".join(f"{json.dumps(str(k))} = {_toml_value(v)}\n"
                   for k, v in data.items() if v is not None)


def to_yaml(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def _raw(text: bytes, raw: str | None) -> bytes:
    if raw == "invalid_utf8":
        return text[: len(text) // 2] + b"\xff\xfe\xc3(" + text[len(text) // 2:]
    if raw == "latin1":
        return text.replace(b"name: ", "name: caf\u00e9 ".encode("latin-1"), 1).replace(
            b'"name" = "', '"name" = "caf\u00e9 '.encode("latin-1"), 1) + b"# \xe9\n"
    if raw == "truncate":
        return text[: max(1, len(text) * 2 // 3)]
    if raw == "empty":
        return b""
    if raw == "toplist":
        return b"- 1\n- 2\n"
    if raw == "nul":
        return text + b"\x00\x00"
    return text


def _csv_text(rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for r in rows:
        w.writerow(["" if x is None else x for x in r])
    return buf.getvalue()


def _mutate_rows(rows: list[list[Any]], mutations: Iterable[tuple[str, int, Any]]) -> list:
    """CSV mutations: ``cell`` (row/col selector -> value), ``short`` (drop a row's tail),
    ``long`` (an extra cell), ``droprow``, ``dropcol``."""
    rows = [list(r) for r in rows]
    for op, sel, value in mutations:
        if not rows:
            break
        i = sel % len(rows)
        if op == "cell" and rows[i]:
            rows[i][(sel // 7) % len(rows[i])] = value
        elif op == "short" and rows[i]:
            rows[i] = rows[i][: max(0, len(rows[i]) - 1 - (sel // 7) % len(rows[i]))]
        elif op == "long":
            rows[i].append(value)
        elif op == "droprow":
            del rows[i]
        elif op == "dropcol" and rows[0]:
            j = (sel // 7) % len(rows[0])
            rows = [[x for k, x in enumerate(r) if k != j] for r in rows]
    return rows


def _write(path: Path, data: bytes | None) -> None:
    """``None`` writes a directory where the file belongs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if data is None:
        path.mkdir(exist_ok=True)
    else:
        path.write_bytes(data)


def _main_file(path: Path, text: bytes, raw: str | None) -> Path:
    if raw == "directory":
        _write(path, None)
    elif raw == "missing":
        pass
    elif raw == "bad_suffix":
        path = path.with_suffix(".json")
        _write(path, text)
    else:
        _write(path, _raw(text, raw))
    return path


def _extra(case: Case) -> dict[str, Any]:
    return dict(case.extra)


def render(case: Case, d: Path) -> tuple[list[str], dict[str, Any]]:
    """Write the case's files into ``d``; return the argv and what was written (for reports)."""
    ex = _extra(case)
    shown: dict[str, Any] = {}
    args = [a.replace("{d}", str(d)) for a in case.args]
    if "series" in ex:  # a carbon-intensity CSV beside the config
        rows = _mutate_rows(ex["series"], ex.get("series_mutations", ()))
        text = _csv_text(rows).encode()
        text = _raw(text, ex.get("series_raw"))
        if ex.get("series_raw") == "latin1":
            text = text.replace(b"g_co2e", b"g_co2e", 1) + "caf\u00e9,1\n".encode("latin-1")
        _write(d / "carbon.csv", None if ex.get("series_raw") == "directory" else text)
        shown["carbon.csv"] = text.decode("utf-8", "backslashreplace")
    if case.area in ("config", "carbon"):
        data, steps = apply_mutations(case.base, case.mutations)
        text = (to_toml(data) if case.fmt == "toml" and isinstance(data, dict)
                else to_yaml(data)).encode()
        path = _main_file(d / ex.get("filename", f"campaign.{case.fmt}"), text, case.raw)
        shown.update(config=text.decode("utf-8", "replace"), steps=steps, raw=case.raw)
        return [ex.get("command", "simulate"), str(path), *args], shown
    if case.area == "records":
        recs, steps = apply_mutations(case.base, case.mutations)
        text = "".join(json.dumps(r, allow_nan=True) + "\n" for r in recs).encode()
        path = _main_file(d / "records.jsonl", text, case.raw)
        shown.update(records=text.decode("utf-8", "replace"), steps=steps, raw=case.raw)
        out = [a for a in args] if "--out" in args else [*args, "--out", str(d / "calib.json")]
        return ["calibrate", "--records", str(path), *out], shown
    if case.area == "codecarbon":
        rows = _mutate_rows(case.base, case.mutations)
        text = _csv_text(rows).encode()
        path = _main_file(d / "emissions.csv", text, case.raw)
        shown.update(csv=text.decode("utf-8", "replace"), raw=case.raw)
        out = [a for a in args] if "--out" in args else [*args, "--out", str(d / "calib.json")]
        return ["calibrate", "--codecarbon", str(path), *out], shown
    if case.area == "calibration":
        cal = json.loads(base_calibration(case.base))
        cal, steps = apply_mutations(cal, case.mutations)
        text = json.dumps(cal, allow_nan=True).encode()
        path = _main_file(d / "calib.json", text, case.raw)
        config = ex.get("config") or _calibrated_config()
        ctext = to_yaml(config).encode()
        _write(d / "campaign.yaml", ctext)
        shown.update(steps=steps, raw=case.raw, config=ctext.decode())
        return ["simulate", str(d / "campaign.yaml"), "--calibration", str(path), *args], shown
    raise ValueError(f"unknown area {case.area!r}")


# --------------------------------------------------------------------------------------------
# Generators
# --------------------------------------------------------------------------------------------

_pos = st.sampled_from([0.1, 0.5, 1.0, 2.0, 6.0])
_small = st.integers(1, 12)


@st.composite
def strategy_dicts(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["random", "random", "grid", "grid", "single_run", "bayesian",
                                 "successive_halving", "asha", "hyperband", "median_pruning",
                                 "nas", "optuna"]))
    if kind == "random":
        return {"kind": kind, "n_trials": draw(_small)}
    if kind == "grid":
        if draw(st.booleans()):
            return {"kind": kind, "n_configs": draw(_small)}
        # 1 == True, so a grid axis never mixes them (the schema wants distinct values).
        space = {f"p{i}": draw(st.lists(st.sampled_from([1, 2, 0.1, "a", "b"]), min_size=1,
                                        max_size=3, unique=True))
                 for i in range(draw(st.integers(1, 3)))}
        return {"kind": kind, "space": space, "repeats": draw(st.integers(1, 3))}
    if kind == "single_run":
        return {"kind": kind}
    if kind == "bayesian":
        return {"kind": kind, "n_trials": draw(_small), "n_startup": draw(st.integers(0, 5)),
                "batch_size": draw(st.integers(1, 4))}
    if kind in ("successive_halving", "asha"):
        return {"kind": kind, "n_trials": draw(st.sampled_from([9, 27])),
                "min_fidelity": draw(st.sampled_from([1 / 9, 1 / 27, 0.5])), "eta": 3}
    if kind == "hyperband":
        return {"kind": kind, "min_fidelity": draw(st.sampled_from([1 / 9, 1 / 27])), "eta": 3}
    if kind == "median_pruning":
        return {"kind": kind, "n_trials": draw(_small), "n_evaluations": draw(st.integers(1, 5)),
                "stop_fraction": 0.5}
    if kind == "nas":
        return {"kind": kind, "n_children": draw(_small), "child_fidelity": 0.5}
    return {"kind": "optuna", "n_trials": draw(st.integers(1, 6)), "n_evaluations": 3,
            "sampler": {"name": "RandomSampler"}}


@st.composite
def duration_dicts(draw: st.DrawFn) -> dict[str, Any]:
    dist = draw(st.sampled_from(["fixed", "lognormal", "gamma", "weibull", "uniform",
                                 "empirical", "summary"]))
    if dist == "fixed":
        return {"dist": dist, "duration_h": draw(_pos)}
    if dist == "lognormal":
        d = {"dist": dist, "median_h": draw(_pos), "sigma": draw(st.sampled_from([0.3, 0.8]))}
        if draw(st.booleans()):
            d["max_h"] = 24.0
        return d
    if dist == "gamma":
        return {"dist": dist, "mean_h": draw(_pos), "cv": 0.4}
    if dist == "weibull":
        return {"dist": dist, "shape": 1.5, "scale_h": draw(_pos)}
    if dist == "uniform":
        return {"dist": dist, "low_h": 0.1, "high_h": 2.0}
    if dist == "empirical":
        return {"dist": dist, "durations_h": draw(st.lists(_pos, min_size=1, max_size=4))}
    return {"dist": dist, "min_h": 0.05, "mean_h": 2.0, "max_h": 20.0, "sigma": 1.0}


@st.composite
def study_dicts(draw: st.DrawFn, name: str = "s") -> dict[str, Any]:
    acc = draw(st.sampled_from(ACCELERATORS))
    study: dict[str, Any] = {"name": name, "strategy": draw(strategy_dicts()),
                             "duration": draw(duration_dicts())}
    if draw(st.integers(0, 5)) == 0 and study["strategy"]["kind"] != "optuna":
        study["hardware"] = {"mix": {"titan-x": 0.72, "m40": 0.28}}
    else:
        study["hardware"] = {"accelerator": acc, "gpus_per_trial": draw(st.integers(1, 8))}
    pk = draw(st.sampled_from(["constant", "tdp_fraction", "idle_tdp"]))
    study["power"] = ({"kind": pk, "accelerator_w": draw(st.sampled_from([50.0, 250.0, 700.0]))}
                      if pk == "constant" else {"kind": pk, "utilization": 0.8})
    # Not every catalog row has an idle figure, and waiting slots need one.
    study["power"]["idle_w"] = draw(st.sampled_from([0.0, 20.0, 50.0]))
    if draw(st.booleans()):
        study["host_power_w"] = draw(st.sampled_from([0.0, 60.0, 1000.0]))
    if draw(st.integers(0, 3)) == 0:
        study["count"] = draw(st.integers(1, 4))
    if study["strategy"]["kind"] == "optuna":  # the replay engine models neither yet
        return study
    if draw(st.integers(0, 3)) == 0:
        study["failures"] = {"crash_probability": 0.05,
                             "crash_duration": {"dist": "uniform", "low_h": 0.05, "high_h": 0.2}}
    if draw(st.integers(0, 3)) == 0:
        study["preemption"] = {"hazard_per_h": draw(st.sampled_from([0.05, 1.0])),
                               "checkpoint_interval_h": draw(st.sampled_from([0.25, 10.0])),
                               "restart_overhead_h": 0.05}
    return study


@st.composite
def campaign_dicts(draw: st.DrawFn, *, series: bool = False) -> dict[str, Any]:
    n = draw(st.integers(1, 2))
    cfg: dict[str, Any] = {"name": draw(st.sampled_from(["c", "demo campaign", "run-1"])),
                           "workers": draw(st.integers(1, 16))}
    if draw(st.booleans()):
        cfg["pue"] = draw(st.one_of(st.sampled_from([1.0, 1.1, 1.58]), st.sampled_from(PUE_KEYS)))
    ck = "series" if series else draw(st.sampled_from(["region", "number"]))
    cfg["carbon"] = ({"region": draw(st.sampled_from(GRID_REGIONS))} if ck == "region"
                     else {"g_co2e_per_kwh": draw(st.sampled_from([0.0, 100.0, 450.0]))}
                     if ck == "number" else {"series_csv": "carbon.csv"})
    pr = draw(st.integers(0, 2))
    if pr == 1:
        inst, prov = draw(st.sampled_from(INSTANCES))
        cfg["pricing"] = {"instance": inst, "provider": prov,
                          "pricing": draw(st.sampled_from(["on_demand", "spot"]))
                          if prov == "aws" else "on_demand"}
    elif pr == 2:
        cfg["pricing"] = {"usd_per_accelerator_hour": draw(st.sampled_from([0.5, 2.0, 12.0]))}
    el = draw(st.integers(0, 2))
    if el == 1:
        cfg["electricity"] = {"region": draw(st.sampled_from(ELECTRICITY))}
    elif el == 2:
        cfg["electricity"] = {"usd_per_kwh": 0.12}
    if draw(st.integers(0, 4)) == 0:
        cfg["schedule"] = "sequential"
    cfg["studies"] = [draw(study_dicts(name=f"s{i}")) for i in range(n)]
    if any(s["strategy"]["kind"] == "optuna" for s in cfg["studies"]):
        for s in cfg["studies"]:  # the replay engine models neither yet
            s.pop("failures", None)
            s.pop("preemption", None)
            if "mix" in s["hardware"]:
                s["hardware"] = {"accelerator": "h100-sxm"}
    cfg["replicates"] = draw(st.sampled_from([5, 20]))
    cfg["seed"] = draw(st.integers(0, 5))
    if draw(st.integers(0, 5)) == 0:
        return {"name": "set", "scenarios": [cfg, {**cfg, "name": "other"}]}
    return cfg


# Targeted mutations: the hand cases, as paths into a single-campaign config.
TARGETED: list[tuple[tuple, Any]] = [
    (("studies", 0, "strategy"), {"kind": "random", "n_trials": 1e12}),
    (("workers",), 1e9),
    (("workers",), 10**12),
    (("studies", 0, "strategy"),
     {"kind": "grid", "space": {f"p{i}": list(range(10)) for i in range(12)}}),
    (("studies", 0, "strategy"), {"kind": "grid", "n_configs": 10**12}),
    (("studies", 0, "duration"), {"dist": "lognormal", "median_h": 1.0, "sigma": 50}),
    (("studies", 0, "duration"), {"dist": "lognormal", "mean_h": 1.0, "sigma": 50}),
    (("studies", 0, "duration"), {"dist": "lognormal", "median_h": 1.0, "sigma": 8}),
    (("studies", 0, "preemption"), {"hazard_per_h": math.inf, "checkpoint_interval_h": 1.0}),
    (("studies", 0, "preemption"), {"hazard_per_h": 1e6, "checkpoint_interval_h": 1e-9}),
    (("pue",), math.nan),
    (("pue",), math.inf),
    (("studies", 0, "power"), {"kind": "constant", "accelerator_w": math.inf}),
    (("studies", 0, "power"), {"kind": "constant", "accelerator_w": 1e308}),
    (("studies", 0, "power"), {"kind": "constant", "accelerator_w": 250, "idle_w": math.inf}),
    (("pricing",), {"usd_per_accelerator_hour": math.inf}),
    (("pricing",), {"usd_per_accelerator_hour": math.nan}),
    (("carbon",), {"g_co2e_per_kwh": math.inf}),
    (("carbon",), {"g_co2e_per_kwh": math.nan}),
    (("electricity",), {"usd_per_kwh": math.inf}),
    (("studies", 0, "host_power_w"), math.inf),
    (("studies", 0, "host_power_w"), math.nan),
    (("studies", 0, "count"), 10**12),
    (("replicates",), 10**12),
    (("seed",), 2**70),
    (("name",), "run[/bold].yaml"),
    (("name",), "lr sweep [/v2]"),
    (("studies", 0, "name"), ":x: [bold]"),
    (("studies", 0, "hardware"), {"accelerator": "h100[sxm]"}),
    (("studies", 0, "hardware"), {"accelerator": "h100-sxm", "gpus_per_trial": 10**12}),
    (("studies", 0, "strategy"), {"kind": "random", "n_trials": 1, "batch_size": 10**12}),
    (("studies", 0, "strategy"), {"kind": "nas", "n_children": 10**12, "child_fidelity": 1}),
    (("studies", 0, "duration"), {"dist": "fixed", "duration_h": 1e308}),
    (("studies", 0, "duration"), {"dist": "summary", "min_h": 1, "mean_h": 1, "max_h": 1}),
    (("studies", 0, "duration"), {"dist": "uniform", "low_h": 1e300, "high_h": 1e308}),
    (("studies", 0, "failures"), {"crash_probability": 0.999999}),
    (("reference_run",), {"duration_h": 1e-300}),
]

# CLI arguments a user adds to simulate (``{d}`` is the case's folder).
SIM_ARGS: list[tuple[str, ...]] = [
    ("--replicates", "20"), ("--replicates", "5"), ("--replicates", "0"), ("--replicates", "-3"),
    ("--seed", "-1"), ("--seed", "7"), ("--chunk-size", "0"), ("--chunk-size", "3"),
    ("--ledger", "{d}/ledger.csv"), ("--ledger", "{d}"), ("--ledger", "{d}/campaign.yaml/x.csv"),
    ("--engine", "replay"), ("--engine", "bogus"), ("--backend", "bogus"),
    ("--timeline", "{d}/tl.csv"), ("--timeline", "{d}"),
]


@st.composite
def _value(draw: st.DrawFn) -> Any:
    return draw(st.one_of(st.sampled_from(BAD_NUMBERS), st.sampled_from(BAD_OTHER),
                          st.floats(allow_nan=True, allow_infinity=True),
                          st.integers(-(2**64), 2**64)))


@st.composite
def _mutations(draw: st.DrawFn, targeted: bool = True, max_size: int = 3) -> tuple:
    muts = []
    for _ in range(draw(st.integers(0, max_size))):
        op = draw(st.sampled_from(["set", "set", "set", "del", "add"] + (["at"] * 2 if targeted
                                                                        else [])))
        sel = draw(st.integers(0, 10**6))
        if op == "add":
            value = (draw(st.sampled_from(["colour", "n_trial", "sigma", "[/bold]", "kind"])),
                     draw(_value()))
        elif op == "at":
            value = draw(st.sampled_from(TARGETED))
        elif op == "set":
            value = draw(_value())
        else:
            value = None
        muts.append((op, sel, value))
    return tuple(muts)


def _sim_args(draw: st.DrawFn) -> tuple[str, ...]:
    # Mostly --json (every number is checked); sometimes the table a user reads.
    args: list[str] = ["--json"] if draw(st.integers(0, 7)) > 0 else []
    if draw(st.integers(0, 9)) > 0:
        args += ["--replicates", "20"]
    if draw(st.integers(0, 3)) == 0:
        args += list(draw(st.sampled_from(SIM_ARGS)))
    return tuple(args)


@st.composite
def config_cases(draw: st.DrawFn) -> Case:
    """A campaign config (YAML or TOML), valid by the schema, then mutated."""
    base = draw(campaign_dicts())
    raw = draw(st.sampled_from([None] * 14 + ["invalid_utf8", "latin1", "truncate", "empty",
                                             "directory", "missing", "bad_suffix", "toplist",
                                             "nul"]))
    return Case("config", base, draw(_mutations()), draw(st.sampled_from(["yaml", "toml"])),
                raw, _sim_args(draw))


CARBON_HEADER = ["hour", "g_co2e_per_kwh"]


@st.composite
def carbon_cases(draw: st.DrawFn) -> Case:
    """A config whose carbon intensity is a CSV series; the series is mutated."""
    base = draw(campaign_dicts(series=True))
    n = draw(st.integers(1, 30))
    with_hour = draw(st.booleans())
    rows: list[list[Any]] = [CARBON_HEADER if with_hour else ["g_co2e_per_kwh"]]
    for h in range(n):
        v = draw(st.sampled_from([0.0, 50.0, 300.0, 800.0]))
        rows.append([h, v] if with_hour else [v])
    cell_values = st.sampled_from(["inf", "nan", "-5", "", "abc", "1e400", "-inf", "1e308",
                                   "0", " 12 ", "1,5"])
    smut = []
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["cell", "cell", "short", "long", "droprow", "dropcol"]))
        smut.append((op, draw(st.integers(1, 10**6)), draw(cell_values)))
    extra = [("series", rows), ("series_mutations", tuple(smut)),
             ("series_raw", draw(st.sampled_from([None] * 8 + ["latin1", "invalid_utf8",
                                                              "empty", "directory", "nul"])))]
    muts = ()
    if draw(st.integers(0, 3)) == 0:  # the series' step
        muts = (("at", 0, (("carbon", "step_h"), draw(st.sampled_from(BAD_NUMBERS)))),)
    return Case("carbon", base, muts, "yaml", None, _sim_args(draw), tuple(extra))


PARAM_KINDS = {"lr": "logfloat", "layers": "int", "opt": "cat", "dropout": "float",
               "use_bn": "bool", "steps": "int"}


@st.composite
def record_dicts(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A JSON Lines study in tunecost's format, sometimes with a conditional space."""
    n = draw(st.integers(4, 16) if draw(st.integers(0, 3)) == 0 else st.integers(10, 16))
    names = draw(st.lists(st.sampled_from(sorted(PARAM_KINDS)), min_size=1, max_size=4,
                          unique=True))
    conditional = draw(st.integers(0, 2)) == 0
    with_energy = draw(st.integers(0, 3)) > 0
    with_curve = draw(st.integers(0, 2)) == 0
    recs = []
    for i in range(n):
        params: dict[str, Any] = {}
        for j, name in enumerate(names):
            kind = PARAM_KINDS[name]
            u = ((i * 7 + j * 3) % 11) / 10.0
            params[name] = {"logfloat": 10 ** (-4 + 3 * u), "int": 1 + int(8 * u),
                            "cat": ["adam", "sgd", "rmsprop"][i % 3], "float": round(u, 3),
                            "bool": bool(i % 2)}[kind]
        if conditional:
            branch = ["svc", "rf"][i % 2]
            params["classifier"] = branch
            if branch == "svc":
                params["svc_c"] = 10 ** (-2 + (i % 5))
            else:
                params["rf_max_depth"] = 2 + i % 7
        dur = 10.0 * (1 + (i % 5)) * (1 + 0.05 * ((i * 13) % 7))
        state = draw(st.sampled_from(["COMPLETE"] * 6 + ["PRUNED", "FAIL"]))
        rec: dict[str, Any] = {"study": "fz", "number": i, "state": state, "params": params,
                               "value": None if state == "FAIL" else 1.0 / (1 + i),
                               "duration_s": dur}
        if with_energy:
            power = 150.0 + 10 * (i % 4)
            rec.update(energy_j=power * dur, energy_source="nvml", power_mean_w=power)
        if with_curve:
            rec["curve"] = [{"step": s, "value": 2.0 / (s + i), "t_s": dur * s / 4,
                             "energy_j": (rec.get("energy_j") or 0) * s / 4 or None}
                            for s in range(1, 5)]
            rec["fidelity"] = 4
        recs.append(rec)
    return recs


@st.composite
def record_cases(draw: st.DrawFn) -> Case:
    """Records for ``calibrate --records``: mixed types, NaN, missing fields, conditional."""
    base = draw(record_dicts())
    # Fewer mutations than configs: most single changes already make a record invalid, and
    # the fitter needs records that get through.
    muts = list(draw(_mutations(targeted=False, max_size=2)))
    if draw(st.integers(0, 3)) == 0:  # one parameter changes type in one row
        muts.append(("at", 0, (("params",), None)))  # placeholder resolved below
        i = draw(st.integers(0, len(base) - 1))
        pname = draw(st.sampled_from(sorted(base[i]["params"])))
        muts[-1] = ("at", 0, ((i, "params", pname),
                              draw(st.sampled_from(["x", 1.5, 3, True, math.nan, None]))))
    if draw(st.integers(0, 4)) == 0:  # a NaN or inf measurement in one row
        i = draw(st.integers(0, len(base) - 1))
        fld = draw(st.sampled_from(["duration_s", "energy_j", "value", "power_mean_w",
                                    "fidelity"]))
        muts.append(("at", 0, ((i, fld), draw(st.sampled_from([math.nan, math.inf, -1.0, 0.0,
                                                                1e308])))))
    raw = draw(st.sampled_from([None] * 14 + ["invalid_utf8", "truncate", "empty", "directory",
                                             "missing", "nul"]))
    args = ["--json"]
    if draw(st.integers(0, 3)) == 0:
        args += list(draw(st.sampled_from([
            ("--folds", "2"), ("--folds", "0"), ("--folds", "1"), ("--folds", "-1"),
            ("--folds", "1000"), ("--accelerator", "h200"), ("--accelerator", "h100[sxm]"),
            ("--accelerator", "none"), ("--mode", "max"), ("--mode", "maximize"),
            ("--mode", "up"), ("--out", "{d}"), ("--out", "{d}/records.jsonl/c.json"),
            ("--seed", "-1")])))
    return Case("records", base, tuple(muts), "yaml", raw, tuple(args))


CC_COLUMNS = ["timestamp", "project_name", "run_id", "experiment_id", "duration", "emissions",
              "emissions_rate", "cpu_power", "gpu_power", "ram_power", "cpu_energy",
              "gpu_energy", "ram_energy", "energy_consumed", "country_name", "country_iso_code",
              "tracking_mode", "gpu_count", "gpu_model", "pue"]


@st.composite
def codecarbon_cases(draw: st.DrawFn) -> Case:
    """A CodeCarbon ``emissions.csv`` for ``calibrate --codecarbon``, mutated."""
    n = draw(st.integers(1, 12))
    rows: list[list[Any]] = [list(CC_COLUMNS)]
    for i in range(n):
        dur = 60.0 + 10 * i
        gpu_w = draw(st.sampled_from([0.0, 250.0]))
        rows.append([f"2026-11-27T09:{10 + i:02d}:00", "lm_sweep", f"run-{i}", "exp", dur,
                     1e-4 * (i + 1), 1e-6, 42.5, gpu_w, 47.1, 42.5 * dur / 3.6e6,
                     gpu_w * dur / 3.6e6, 47.1 * dur / 3.6e6, (90 + gpu_w) * dur / 3.6e6,
                     "France", "FRA", "machine", 1 if gpu_w else "", "H100" if gpu_w else "",
                     1.0])
    muts = []
    cell_values = st.sampled_from(["inf", "nan", "-5", "", "abc", "1e400", "-inf", "0",
                                   "[/bold]", ":x:"])
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["cell", "cell", "cell", "short", "long", "droprow",
                                   "dropcol"]))
        muts.append((op, draw(st.integers(1, 10**6)), draw(cell_values)))
    raw = draw(st.sampled_from([None] * 10 + ["invalid_utf8", "latin1", "empty", "directory",
                                             "missing", "nul"]))
    return Case("codecarbon", rows, tuple(muts), "yaml", raw, ("--json",))


def _calibrated_config(strategy: dict[str, Any] | None = None,
                       explicit: bool = True) -> dict[str, Any]:
    study: dict[str, Any] = {"name": "s", "strategy": strategy or {"kind": "random",
                                                                   "n_trials": 5},
                             "hardware": {"accelerator": "h200"}}
    if explicit:
        study["calibration"] = {}
    else:
        study.update(duration={"dist": "fixed", "duration_h": 1.0},
                     power={"kind": "constant", "accelerator_w": 300})
    return {"name": "c", "workers": 2, "carbon": {"g_co2e_per_kwh": 400},
            "pricing": {"usd_per_accelerator_hour": 2.0}, "studies": [study], "replicates": 5}


# Base calibrations: fitted once per process from fixed record sets (see base_calibration).
N_BASE_CALIBRATIONS = 3


@st.composite
def calibration_cases(draw: st.DrawFn) -> Case:
    """A calibration written by fitting a small record set, then mutated, simulated with."""
    base = draw(st.integers(0, N_BASE_CALIBRATIONS - 1))
    muts = draw(_mutations(targeted=False, max_size=2))
    raw = draw(st.sampled_from([None] * 12 + ["invalid_utf8", "truncate", "empty", "directory",
                                             "missing", "nul"]))
    config = _calibrated_config(
        draw(st.sampled_from([None, {"kind": "grid", "n_configs": 4},
                              {"kind": "asha", "n_trials": 9, "min_fidelity": 1 / 9}])),
        explicit=draw(st.booleans()))
    args = ["--json", "--replicates", "5"]
    return Case("calibration", base, muts, "yaml", raw, tuple(args), (("config", config),))


def any_case() -> st.SearchStrategy[Case]:
    """Every area, weighted to what is cheap (configs fail validation fast)."""
    return st.one_of(config_cases(), config_cases(), config_cases(), carbon_cases(),
                     record_cases(), codecarbon_cases(), calibration_cases())


_BASE_CAL_CACHE: dict[int, str] = {}


def base_calibration(i: int) -> str:
    """The JSON text of base calibration ``i``: with energy, duration-only, with curves."""
    if i not in _BASE_CAL_CACHE:
        from hypothesis import find  # noqa: F401  (keeps hypothesis out of the hot path)

        from tunecost.calibrate import fit_calibration
        from tunecost.calibrate.records import TrialRecord

        recs = []
        for k in range(12):
            dur = 10.0 * (1 + k % 4) * (1 + 0.03 * (k % 5))
            rec: dict[str, Any] = {"study": "base", "number": k, "state": "COMPLETE",
                                   "params": {"lr": 10 ** (-4 + 0.25 * k), "layers": 1 + k % 4},
                                   "value": 1.0 / (1 + k), "duration_s": dur}
            if i != 1:
                rec.update(energy_j=200.0 * dur * (1 + 0.02 * (k % 3)), energy_source="nvml",
                           power_mean_w=200.0)
            if i == 2:
                rec["curve"] = [{"step": s, "value": 2.0 / (s + k), "t_s": dur * s / 4}
                                for s in range(1, 5)]
                rec["fidelity"] = 4
            recs.append(TrialRecord.model_validate(rec))
        cal = fit_calibration(recs, n_folds=3)
        _BASE_CAL_CACHE[i] = cal.model_dump_json()
    return _BASE_CAL_CACHE[i]


# --------------------------------------------------------------------------------------------
# Running and classifying
# --------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What the CLI did with a case: ``kind`` and a one-line ``detail``."""

    kind: str
    detail: str = ""
    signature: str = ""
    shown: dict[str, Any] = field(default_factory=dict)
    argv: list[str] = field(default_factory=list)


def _bad_numbers(obj: Any, path: str = "") -> Iterator[tuple[str, float]]:
    if isinstance(obj, bool):
        return
    if isinstance(obj, int | float):
        if not math.isfinite(obj) or obj < 0:
            yield path, obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _bad_numbers(v, f"{path}.{k}" if path else str(k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _bad_numbers(v, f"{path}[{i}]")


_STATS = {"mean", "std", "p5", "p50", "p95"}


def _where(tb: Any) -> str:
    frames = traceback.extract_tb(tb)
    ours = [f for f in frames if "/tunecost/" in f.filename] or frames
    f = ours[-1] if ours else None
    if f is None:
        return "?"
    name = f.filename.split("/tunecost/")[-1] if "/tunecost/" in f.filename else f.filename
    return f"tunecost/{name}:{f.lineno} in {f.name}"


_ALARM = 0


class _Timeout(BaseException):
    pass


def _invoke(argv: list[str]) -> Any:
    from typer.testing import CliRunner

    from tunecost.cli import app

    return CliRunner().invoke(app, argv, catch_exceptions=True)


def _classify_result(res: Any, argv: list[str]) -> tuple[str, str, str]:
    exc = res.exception
    if exc is not None and not isinstance(exc, SystemExit):
        if isinstance(exc, _Timeout):
            raise exc
        last = (str(exc).splitlines() or [""])[0][:200]
        where = _where(res.exc_info[2]) if res.exc_info else "?"
        return "traceback", f"{type(exc).__name__}: {last} [{where}]", \
            f"{type(exc).__name__} @ {where.split(':')[0]}:{where.split(' in ')[-1]}"
    if res.exit_code != 0:
        text = res.output
        if "Traceback (most recent call last)" in text:
            return "traceback", text.strip().splitlines()[-1][:200], "printed traceback"
        lines = [ln for ln in text.strip().splitlines() if ln.strip()]
        said = [ln for ln in lines if "rror" in ln] or lines
        return "clean_error", (said[-1] if said else "")[:300], ""
    if "--json" in argv and argv[0] == "simulate":
        # calibrate's JSON holds fitted coefficients, legitimately negative; its file is
        # checked by simulating with it (_roundtrip) instead.
        try:
            data = json.loads(res.stdout)
        except ValueError as e:
            return "traceback", f"exit 0 but --json output is not JSON: {e}", "bad json"
        bad = list(_bad_numbers(data))
        if bad:
            shown = ", ".join(f"{p}={v}" for p, v in bad[:4])
            # The metric, not the statistic: "metrics.energy_kwh.p50" -> "energy_kwh".
            keys = sorted({(p.split(".")[-2] if p.split(".")[-1] in _STATS else
                            p.split(".")[-1]).split("[")[0] for p, _ in bad})[:4]
            return "non_finite_or_negative", shown[:300], "non-finite " + ",".join(keys)
    if "--json" in argv and argv[0] == "calibrate":
        try:
            data = json.loads(res.stdout)
        except ValueError as e:
            return "traceback", f"exit 0 but --json output is not JSON: {e}", "bad json"
        # NaN only: an unbounded fitted power (no --accelerator) is written as Infinity.
        bad = [(p, v) for p, v in _bad_numbers(data) if math.isnan(v)]
        if bad:
            shown = ", ".join(f"{p}={v}" for p, v in bad[:4])
            keys = sorted({p.split(".")[-1].split("[")[0] for p, _ in bad})[:3]
            return "non_finite_or_negative", "calibration: " + shown[:300], \
                "calibration non-finite " + ",".join(keys)
    return "success", "", ""


def _roundtrip(d: Path, argv: list[str]) -> tuple[str, str, str] | None:
    """After a successful ``calibrate``: the written file must load and simulate."""
    if argv[0] != "calibrate":
        return None
    out = Path(argv[argv.index("--out") + 1])
    if not out.is_file():
        return "traceback", f"calibrate exited 0 but wrote no file at {out}", "no output file"
    cfg = d / "rt.yaml"
    cfg.write_text(to_yaml(_calibrated_config()))
    sim = ["simulate", str(cfg), "--calibration", str(out), "--replicates", "5", "--json"]
    kind, detail, sig = _classify_result(_invoke(sim), sim)
    if kind == "clean_error":
        return ("traceback", f"a calibration calibrate wrote does not simulate: {detail}",
                "roundtrip: " + detail.split(":")[-1].strip()[:60])
    if kind != "success":
        return kind, "roundtrip simulate: " + detail, "roundtrip " + sig
    return None


def _names_lost(case: Case, stdout: str) -> list[str]:
    """The campaign and study names (short ones: the table may fold long ones) that the
    table output does not show as the user wrote them (rich markup, emoji codes)."""
    data, _ = apply_mutations(case.base, case.mutations)
    campaigns = data.get("scenarios", [data]) if isinstance(data, dict) else []
    names = []
    for c in campaigns if isinstance(campaigns, list) else []:
        if isinstance(c, dict):
            names.append(c.get("name"))
            studies = c.get("studies")
            if isinstance(studies, list) and len(studies) > 1:  # per-study table
                names += [s.get("name") for s in studies if isinstance(s, dict)]
    flat = " ".join(stdout.split())
    return [n for n in names if isinstance(n, str) and 0 < len(n) <= 30 and n.strip() == n
            and n.isprintable() and " ".join(n.split()) not in flat]


def run_case(case: Case, base_dir: Path | None = None) -> Outcome:
    """Run one case in this process (no time limit; :class:`Runner` adds one)."""
    d = Path(tempfile.mkdtemp(prefix="fz", dir=base_dir))
    try:
        try:
            argv, shown = render(case, d)
        except Exception as e:  # noqa: BLE001 - a generator bug, not tunecost's
            return Outcome("generator_error", f"{type(e).__name__}: {e}")
        res = _invoke(argv)
        kind, detail, sig = _classify_result(res, argv)
        if kind == "success":
            rt = _roundtrip(d, argv)
            if rt is not None:
                kind, detail, sig = rt
        if kind == "success" and argv[0] == "simulate" and "--json" not in argv \
                and case.area in ("config", "carbon"):
            lost = _names_lost(case, res.stdout)
            if lost:
                kind, detail, sig = ("garbled_output",
                                     f"names not printed verbatim: {lost}",
                                     "garbled " + ("markup" if any("[" in n for n in lost)
                                                   else "emoji" if any(":" in n for n in lost)
                                                   else "name"))
        return Outcome(kind, detail.replace(str(d), "DIR"), sig, shown,
                       [a.replace(str(d), "DIR") for a in argv])
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _worker(conn: Any, mem_bytes: int, tmp: str) -> None:
    # The cap is on address space beyond what the worker already maps: a worker forked from
    # a test process that holds Ray (gigabytes of reserved mappings) must not start out of it.
    import psutil

    limit = psutil.Process().memory_info().vms + mem_bytes
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    base = Path(tempfile.mkdtemp(prefix="fzw", dir=tmp))
    while True:
        try:
            case = conn.recv()
        except EOFError:
            break
        if case is None:
            break
        try:
            out = run_case(case, base)
        except MemoryError as e:
            out = Outcome("traceback", f"MemoryError outside the CLI: {e}", "MemoryError")
        except BaseException as e:  # noqa: BLE001 - report, never die silently
            out = Outcome("traceback", f"{type(e).__name__}: {e}", type(e).__name__)
        # Keep what goes back small and picklable.
        out.shown = {k: (v if isinstance(v, str) else repr(v))[:4000]
                     for k, v in out.shown.items() if v is not None}
        conn.send(out)
    shutil.rmtree(base, ignore_errors=True)


def _described(case: Case, out: Outcome) -> Outcome:
    """Fill in the argv and the input of an outcome the worker could not report."""
    d = Path(tempfile.mkdtemp(prefix="fzd"))
    try:
        argv, shown = render(case, d)
        out.argv = [a.replace(str(d), "DIR") for a in argv]
        out.shown = {k: (v if isinstance(v, str) else repr(v))[:4000]
                     for k, v in shown.items() if v is not None}
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return out


class Runner:
    """Forked worker processes that run cases with a memory cap and a time limit each.

    Args:
        n_workers: processes.
        timeout_s: a case running longer is a ``hang``; its worker is killed and replaced.
        mem_gib: address-space cap per worker, so a TiB allocation fails fast.
    """

    def __init__(self, n_workers: int = 1, timeout_s: float = 20.0, mem_gib: float = 6.0):
        self.n_workers = n_workers
        self.timeout_s = timeout_s
        self.mem = int(mem_gib * 2**30)
        self.ctx = mp.get_context("fork")
        self.workers: list[Any] = []
        # Workers write under here; a killed worker's files go when the runner closes.
        self.tmp = tempfile.mkdtemp(prefix="tunecost-fuzz-")
        # Fit the base calibrations before forking, so every worker inherits them.
        for i in range(N_BASE_CALIBRATIONS):
            base_calibration(i)
        for _ in range(n_workers):
            self.workers.append(self._spawn())

    def _spawn(self) -> tuple[Any, Any]:
        parent, child = self.ctx.Pipe()
        p = self.ctx.Process(target=_worker, args=(child, self.mem, self.tmp), daemon=True)
        p.start()
        child.close()
        return p, parent

    def _replace(self, i: int) -> None:
        p, conn = self.workers[i]
        with contextlib.suppress(Exception):
            p.kill()
        p.join(5)
        conn.close()
        self.workers[i] = self._spawn()

    def run(self, case: Case) -> Outcome:
        """One case on worker 0."""
        return next(iter(self.map([case])))[1]

    def map(self, cases: Iterable[Case]) -> Iterator[tuple[Case, Outcome]]:
        """Run cases over the workers; yield ``(case, outcome)`` as each finishes."""
        import time
        from multiprocessing.connection import wait

        it = iter(cases)
        busy: dict[int, tuple[Case, float]] = {}
        exhausted = False
        while True:
            while not exhausted and len(busy) < self.n_workers:
                free = next(i for i in range(self.n_workers) if i not in busy)
                try:
                    case = next(it)
                except StopIteration:
                    exhausted = True
                    break
                try:
                    self.workers[free][1].send(case)
                except (BrokenPipeError, OSError):
                    self._replace(free)
                    self.workers[free][1].send(case)
                busy[free] = (case, time.monotonic())
            if not busy:
                return
            now = time.monotonic()
            left = min(self.timeout_s - (now - t0) for _, t0 in busy.values())
            conns = {self.workers[i][1]: i for i in busy}
            ready = wait(list(conns), timeout=max(0.0, left))
            for c in ready:
                i = conns[c]
                case, _ = busy.pop(i)
                try:
                    out = c.recv()
                except (EOFError, OSError):
                    code = self.workers[i][0].exitcode
                    self._replace(i)
                    out = _described(case, Outcome(
                        "traceback", f"worker died (exit code {code})", f"worker died {code}"))
                yield case, out
            now = time.monotonic()
            for i, (case, t0) in list(busy.items()):
                if now - t0 >= self.timeout_s:
                    busy.pop(i)
                    self._replace(i)
                    yield case, _described(case, Outcome(
                        "hang", f"no answer after {self.timeout_s:g} s", "hang"))

    def close(self) -> None:
        for p, conn in self.workers:
            with contextlib.suppress(Exception):
                conn.send(None)
                conn.close()
            p.join(2)
            if p.is_alive():
                p.kill()
        self.workers = []
        shutil.rmtree(self.tmp, ignore_errors=True)


MINIMAL_CONFIG: dict[str, Any] = {
    "name": "c",
    "carbon": {"g_co2e_per_kwh": 400.0},
    "studies": [{
        "name": "s",
        "strategy": {"kind": "random", "n_trials": 10},
        "duration": {"dist": "fixed", "duration_h": 2.0},
        "hardware": {"accelerator": "v100-sxm2"},
        "power": {"kind": "constant", "accelerator_w": 250.0, "idle_w": 50.0},
    }],
    "replicates": 20,
}
"""The smallest campaign: what a failing config is tried on first when minimised."""


def minimise(runner: Runner, case: Case, outcome: Outcome, *, max_runs: int = 60) -> tuple:
    """Drop mutations, the raw change, args and side-input mutations one at a time while the
    failure keeps its signature; return the smallest ``(case, outcome)`` found."""
    if outcome.kind == "hang":
        max_runs = min(max_runs, 4)
    runs = 0

    def candidates(c: Case) -> Iterator[Case]:
        for i in range(len(c.mutations)):
            yield replace(c, mutations=c.mutations[:i] + c.mutations[i + 1:])
        if c.raw is not None:
            yield replace(c, raw=None)
        for i in range(len(c.args)):
            if c.args[i].startswith("--") and c.args[i] not in ("--json", "--out"):
                keep = 1 if i + 1 >= len(c.args) or c.args[i + 1].startswith("--") else 2
                yield replace(c, args=c.args[:i] + c.args[i + keep:])
        if c.area in ("config", "carbon") and isinstance(c.base, dict):
            # Drop a key of the valid base (a whole study's field, a campaign's field).
            for path in _paths(c.base):
                if len(path) > 4 or path in (("name",), ("studies",), ("carbon",)):
                    continue
                smaller = _copy(c.base)
                parent = _get(smaller, path[:-1])
                if isinstance(parent, list) and len(parent) < 2:
                    continue
                del parent[path[-1]]
                yield replace(c, base=smaller)
        ex = dict(c.extra)
        for k in list(ex):
            if k.endswith("mutations") and ex[k]:
                for j in range(len(ex[k])):
                    ex2 = dict(ex)
                    ex2[k] = ex[k][:j] + ex[k][j + 1:]
                    yield replace(c, extra=tuple(ex2.items()))
            if k.endswith("raw") and ex[k] is not None:
                ex2 = dict(ex)
                ex2[k] = None
                yield replace(c, extra=tuple(ex2.items()))

    if case.area in ("config", "carbon", "records"):
        pinned: list = []
        try:
            apply_mutations(case.base, case.mutations, pinned)
            case = replace(case, mutations=tuple(pinned))
        except Exception:  # noqa: BLE001 - keep the case as drawn
            pass
    if case.area in ("config", "carbon") and isinstance(case.base, dict) \
            and "scenarios" not in case.base:
        small = dict(MINIMAL_CONFIG)
        if case.area == "carbon":
            small["carbon"] = {"series_csv": "carbon.csv"}
        if small != case.base:
            out = runner.run(replace(case, base=small))
            runs += 1
            if out.kind == outcome.kind and out.signature == outcome.signature:
                case, outcome = replace(case, base=small), out

    improved = True
    while improved and runs < max_runs:
        improved = False
        for cand in candidates(case):
            if runs >= max_runs:
                break
            runs += 1
            out = runner.run(cand)
            if out.kind == outcome.kind and out.signature == outcome.signature:
                case, outcome, improved = cand, out, True
                break
    return case, outcome


def describe(case: Case, outcome: Outcome) -> str:
    """A Markdown block: the command, the input, what happened."""
    argv = " ".join(a if " " not in a else repr(a) for a in outcome.argv)
    lines = [f"- command: `tunecost {argv}`", f"- outcome: **{outcome.kind}**: {outcome.detail}"]
    sh = outcome.shown
    if sh.get("steps") and sh["steps"] not in ("[]", "()"):
        lines.append(f"- mutations: `{sh['steps']}`")
    if sh.get("raw"):
        lines.append(f"- raw change to the file: `{sh['raw']}`")
    for key in ("config", "carbon.csv", "records", "csv"):
        if sh.get(key):
            body = sh[key]
            if len(body) > 1500:
                body = body[:1500] + "\n... (truncated)"
            lines.append(f"- {key}:\n\n```\n{body.rstrip()}\n```")
    return "\n".join(lines)


def shutdown_env() -> None:
    """Quiet the libraries a fuzz run imports (ray, tqdm) and keep BLAS single-threaded."""
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(k, "1")
