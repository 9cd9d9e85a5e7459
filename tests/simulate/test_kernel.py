"""The scheduling kernel: the compiled path and the numpy fallback give the same bits, and
both keep the list scheduler's rules (the earliest-free slot, the lowest index on ties,
parents, barriers, sequential instances, skipped jobs)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tunecost._rng import as_generator
from tunecost.calibrate import fit_calibration, read_records
from tunecost.config import CampaignConfig, load_config
from tunecost.simulate import simulate
from tunecost.simulate._draw import Jobs, _accelerators, apply_crashes, draw_chunk
from tunecost.simulate._kernel import ENV_VAR, kernel_path, run_kernel
from tunecost.simulate._list_scheduler import schedule, schedule_usage, usage
from tunecost.simulate._resolve import resolve

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs"
HAS_NUMBA = importlib.util.find_spec("numba") is not None
PATHS = ["fallback", pytest.param("compiled", marks=pytest.mark.skipif(
    not HAS_NUMBA, reason="numba is not installed (the fast extra)"))]


def _study(**kw: Any) -> dict:
    s = {"name": "s", "strategy": {"kind": "random", "n_trials": 12},
         "duration": {"dist": "lognormal", "median_h": 2.0, "sigma": 0.7},
         "hardware": {"accelerator": "v100-sxm2"},
         "power": {"kind": "constant", "accelerator_w": 250.0, "idle_w": 50.0}}
    s.update(kw)
    return s


def _campaign(*studies: dict, **top: Any) -> CampaignConfig:
    cfg = {"name": "c", "workers": 3, "pue": 1.2, "carbon": {"g_co2e_per_kwh": 400.0},
           "pricing": {"usd_per_accelerator_hour": 2.0}, "electricity": {"usd_per_kwh": 0.1},
           "studies": list(studies) or [_study()], "replicates": 40, "seed": 3}
    cfg.update(top)
    return CampaignConfig.model_validate(cfg)


CRASH = {"crash_probability": 0.2, "crash_duration": {"dist": "uniform", "low_h": 0.01,
                                                      "high_h": 0.5}}
CASES = {
    "hyperband-crashes": _campaign(_study(
        strategy={"kind": "hyperband", "eta": 3, "min_fidelity": 1 / 9}, failures=CRASH),
        workers=4),
    "successive-halving-mix": _campaign(_study(
        strategy={"kind": "successive_halving", "n_trials": 27, "eta": 3,
                  "min_fidelity": 1 / 9},
        hardware={"mix": {"v100-sxm2": 0.6, "a100-sxm4-80gb": 0.4}},  # 300 W and 400 W
        power={"kind": "tdp_fraction", "utilization": 0.8, "idle_w": 40.0}), workers=5),
    "asha-fixed-ties": _campaign(_study(
        strategy={"kind": "asha", "n_trials": 30, "eta": 3, "min_fidelity": 1 / 9},
        duration={"dist": "fixed", "duration_h": 1.0}), workers=8),
    "sequential-instances": _campaign(
        _study(count=3, strategy={"kind": "random", "n_trials": 7, "batch_size": 3}),
        _study(name="t", strategy={"kind": "grid", "n_configs": 5}, failures=CRASH),
        schedule="sequential", workers=2),
    "reserved-pool": _campaign(_study(strategy={"kind": "random", "n_trials": 5}),
                               reserved=True, workers=9),
    "one-worker": _campaign(_study(failures=CRASH), workers=1),
    "bayesian-spot": load_config(CONFIGS / "bayesian_spot_l4.toml"),
    "bert-two-studies": load_config(CONFIGS / "bert_finetune_grid_a100.yaml"),
    "lisa": load_config(CONFIGS / "lisa_rnd.yaml"),
}


def _run(cfg: CampaignConfig, path: str, monkeypatch: pytest.MonkeyPatch, tmp: Path,
         **kw: Any) -> tuple[Any, bytes]:
    monkeypatch.setenv(ENV_VAR, path)
    ledger = tmp / f"{path}.csv"
    reps = 12 if cfg.name == "lisa_rnd" else 90
    result = simulate(cfg, replicates=reps, seed=5, chunk_size=40, backend="local",
                      ledger=ledger, **kw)
    return result, ledger.read_bytes()


def _assert_same(a: Any, b: Any) -> None:
    assert a.metrics.keys() == b.metrics.keys()
    for k in a.metrics:
        assert np.array_equal(a.metrics[k], b.metrics[k], equal_nan=True), k
    assert np.array_equal(a.tuning_multiplier, b.tuning_multiplier, equal_nan=True)
    for sa, sb in zip(a.studies, b.studies, strict=True):
        for k in sa.metrics:
            assert np.array_equal(sa.metrics[k], sb.metrics[k], equal_nan=True), (sa.name, k)


@pytest.mark.skipif(not HAS_NUMBA, reason="numba is not installed (the fast extra)")
@pytest.mark.parametrize("case", list(CASES))
def test_compiled_and_fallback_give_the_same_bits(
    case: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Every metric, per study and campaign, and the ledger, byte for byte."""
    compiled, ledger_c = _run(CASES[case], "compiled", monkeypatch, tmp_path)
    fallback, ledger_f = _run(CASES[case], "fallback", monkeypatch, tmp_path)
    _assert_same(compiled, fallback)
    assert ledger_c == ledger_f


@pytest.mark.skipif(not HAS_NUMBA, reason="numba is not installed (the fast extra)")
def test_calibrated_energy_same_bits(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A calibration's per-trial power (the kernel's table plus each trial's own part)."""
    path = tmp_path / "calib.json"
    study = ROOT / "studies" / "h200_transformer_lm" / "data" / "calib_random.jsonl"
    fit_calibration(read_records(study), accelerator="h200").save(path)
    cfg = _campaign({"name": "s", "strategy": {"kind": "random", "n_trials": 20},
                     "hardware": {"accelerator": "h200"}, "calibration": {"path": str(path)}})
    compiled, ledger_c = _run(cfg, "compiled", monkeypatch, tmp_path)
    fallback, ledger_f = _run(cfg, "fallback", monkeypatch, tmp_path)
    _assert_same(compiled, fallback)
    assert ledger_c == ledger_f


@pytest.mark.parametrize("path", PATHS)
def test_hourly_series_path_same_bits(path: str, monkeypatch: pytest.MonkeyPatch,
                                      tmp_path: Path) -> None:
    """An hourly series keeps every interval (schedule + usage): it gives the fused path's
    sums, and the compiled and fallback paths agree."""
    csv = tmp_path / "grid.csv"
    csv.write_text("g_co2e_per_kwh\n" + "\n".join(str(100 + 37 * i % 300) for i in range(48)))
    cfg = _campaign(_study(failures=CRASH), carbon={"series_csv": str(csv)})
    monkeypatch.setenv(ENV_VAR, path)
    a = simulate(cfg, replicates=50, seed=1, chunk_size=20, backend="local")
    monkeypatch.setenv(ENV_VAR, "fallback")
    b = simulate(cfg, replicates=50, seed=1, chunk_size=20, backend="local")
    _assert_same(a, b)
    # Without the series the fused path gives the same energy, hours and dollars.
    plain = simulate(_campaign(_study(failures=CRASH)), replicates=50, seed=1, chunk_size=20,
                     backend="local")
    for k in ("energy_kwh", "gpu_hours", "cost_usd", "wall_clock_h", "waiting_energy_kwh"):
        assert np.array_equal(a.metrics[k], plain.metrics[k]), k


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("case", ["hyperband-crashes", "sequential-instances", "lisa"])
def test_fused_usage_equals_schedule_then_usage(
    case: str, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine's fused path (power from tables, no schedule arrays) and the pipeline's
    steps (every array kept) give the same bits."""
    monkeypatch.setenv(ENV_VAR, path)
    cfg = CASES[case]
    campaign = resolve(cfg)
    m = 7
    draw = draw_chunk(campaign, m, rng=as_generator(2))
    jobs = draw.jobs
    sequential = cfg.schedule == "sequential"
    fused, head = schedule_usage(draw, cfg.workers, sequential=sequential, record=1)
    sched = schedule(jobs, cfg.workers, sequential=sequential)
    steps = usage(campaign, jobs, sched)
    for field in ("busy_h", "busy_it_kwh", "waiting_it_kwh", "paid_h", "wall_clock_h",
                  "unused_slot_h"):
        assert np.array_equal(getattr(fused, field), getattr(steps, field), equal_nan=True)
    for field in ("start_h", "wait_h", "worker"):
        assert np.array_equal(getattr(head, field)[0], getattr(sched, field)[0])
    # A Schedule without the kernel's sums is reduced in the kernel's order.
    bare = type(sched)(sched.start_h, sched.wait_h, sched.worker, sched.wall_clock_h,
                       sched.busy_h, sched.idle_slots)
    again = usage(campaign, jobs, bare)
    for field in ("busy_h", "busy_it_kwh", "waiting_it_kwh", "paid_h", "unused_slot_h"):
        assert np.array_equal(getattr(again, field), getattr(steps, field), equal_nan=True)


def _reference_schedule(dur: np.ndarray, parent: np.ndarray, barrier: np.ndarray,
                        stage: np.ndarray, inst: np.ndarray, n_workers: int,
                        sequential: bool) -> tuple[np.ndarray, ...]:
    """The list scheduler as it was (one numpy step per job, argmin over the slots)."""
    m, n_jobs = dur.shape
    rows = np.arange(m)
    free = np.zeros((m, n_workers))
    busy = np.zeros((m, n_workers))
    start = np.zeros((m, n_jobs))
    end = np.zeros((m, n_jobs))
    wait = np.zeros((m, n_jobs))
    worker = np.full((m, n_jobs), -1)
    stage_end = np.zeros((m, int(stage.max()) + 1))
    inst_end = np.zeros((m, int(inst.max()) + 1))
    for j in range(n_jobs):
        ready = np.zeros(m)
        if parent[j] >= 0:
            ready = np.maximum(ready, end[:, parent[j]])
        if barrier[j] >= 0:
            ready = np.maximum(ready, stage_end[:, barrier[j]])
        if sequential and inst[j] > 0:
            ready = np.maximum(ready, inst_end[:, inst[j] - 1])
        d = dur[:, j]
        w = np.argmin(free, axis=1)
        f = free[rows, w]
        s = np.maximum(f, ready)
        runs = d > 0
        start[:, j] = np.where(runs, s, ready)
        end[:, j] = start[:, j] + d
        wait[:, j] = np.where(runs, s - f, 0.0)
        worker[:, j] = np.where(runs, w, -1)
        free[rows, w] = np.where(runs, end[:, j], f)
        busy[rows, w] += np.where(runs, end[:, j] - f, 0.0)
        stage_end[:, stage[j]] = np.maximum(stage_end[:, stage[j]], end[:, j])
        inst_end[:, inst[j]] = np.maximum(inst_end[:, inst[j]], end[:, j])
    return start, wait, worker, end.max(axis=1), busy


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("n_workers", [1, 2, 3, 4, 5, 8, 13, 64, 70])
def test_kernel_keeps_the_list_scheduler_rules(path: str, n_workers: int) -> None:
    """Random dependencies, skipped jobs and many exact ties (integer hours): the same start,
    wait and slot as the reference, on the scan (<= 3 slots) and the tree alike."""
    rng = np.random.default_rng(n_workers)
    m, n_jobs = 9, 150
    dur = rng.integers(0, 4, (m, n_jobs)).astype(np.float64)  # 0: skipped; ties galore
    parent = np.where(rng.random(n_jobs) < 0.3, -1, -1)
    for j in range(1, n_jobs):
        if rng.random() < 0.3:
            parent[j] = rng.integers(0, j)
    stage = np.sort(rng.integers(0, 6, n_jobs))
    barrier = np.where((stage > 0) & (rng.random(n_jobs) < 0.5), stage - 1, -1)
    inst = np.sort(rng.integers(0, 4, n_jobs))
    study = (inst >= 2).astype(np.int64)
    busy_kw = rng.uniform(0.1, 0.4, (m, n_jobs))
    idle_kw = rng.uniform(0.01, 0.05, (m, n_jobs))
    for sequential in (False, True):
        out = run_kernel(dur, busy_kw=busy_kw, idle_kw=idle_kw, parent=parent,
                         barrier=barrier, stage=stage, instance=inst, study=study,
                         n_workers=n_workers, sequential=sequential, n_studies=2,
                         n_stages=6, n_instances=4, record=m, path=path)
        start, wait, worker, wall, busy = _reference_schedule(
            dur, parent, barrier, stage, inst, n_workers, sequential)
        assert np.array_equal(out.start_h, start)
        assert np.array_equal(out.wait_h, wait)
        assert np.array_equal(out.worker, worker)
        assert np.array_equal(out.wall_clock_h, wall)
        assert np.array_equal(out.busy_h, busy)
        # Sums: what the old pairwise reduction gave, up to rounding.
        mask = study == 1
        np.testing.assert_allclose(out.sums[0, 1], dur[:, mask].sum(axis=1), rtol=1e-12)
        np.testing.assert_allclose(out.sums[3, 0], (dur + wait)[:, ~mask].sum(axis=1),
                                   rtol=1e-12)
        np.testing.assert_allclose(
            out.sums[2, 0], np.where(wait > 0, wait * idle_kw, 0)[:, ~mask].sum(axis=1),
            rtol=1e-12)
        np.testing.assert_allclose(out.unused_h, np.clip(wall[:, None] - busy, 0, None).sum(1),
                                   rtol=1e-12)


@pytest.mark.skipif(not HAS_NUMBA, reason="numba is not installed (the fast extra)")
def test_kernel_paths_agree_bit_for_bit_on_random_jobs() -> None:
    rng = np.random.default_rng(0)
    m, n_jobs = 11, 300
    dur = rng.lognormal(0, 1, (m, n_jobs)) * (rng.random((m, n_jobs)) > 0.1)
    kw = dict(busy_kw=rng.uniform(0.1, 0.4, (m, n_jobs)), idle_kw=np.full((m, n_jobs), np.nan),
              parent=np.full(n_jobs, -1), barrier=np.where(np.arange(n_jobs) >= 150, 0, -1),
              stage=(np.arange(n_jobs) >= 150).astype(np.int64), instance=np.zeros(n_jobs, int),
              study=np.zeros(n_jobs, int), sequential=False, n_studies=1, n_stages=2,
              n_instances=1, record=m)
    for n_workers in (1, 3, 4, 37):
        a = run_kernel(dur, n_workers=n_workers, path="compiled", **kw)
        b = run_kernel(dur, n_workers=n_workers, path="fallback", **kw)
        for field in ("sums", "wall_clock_h", "unused_h", "start_h", "wait_h", "worker",
                      "busy_h"):
            assert np.array_equal(getattr(a, field), getattr(b, field), equal_nan=True)
        # NaN idle power where slots wait at the barrier: the sum says so (totals refuses it).
        assert np.isnan(a.sums[2, 0]).any() == bool((a.wait_h > 0).any())


def test_kernel_path_selection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "fallback")
    assert kernel_path() == "fallback"
    monkeypatch.setenv(ENV_VAR, "auto")
    assert kernel_path() == ("compiled" if HAS_NUMBA else "fallback")
    monkeypatch.setenv(ENV_VAR, "gpu")
    with pytest.raises(Exception, match="auto, compiled, fallback"):
        kernel_path()
    # Before numba is imported, a chunk the fallback finishes in milliseconds runs there
    # (the same bits, without a second of import).
    import sys

    from tunecost.simulate import _kernel

    monkeypatch.setenv(ENV_VAR, "auto")
    monkeypatch.setattr(_kernel, "_NUMBA", None)
    monkeypatch.delitem(sys.modules, "numba", raising=False)
    assert kernel_path(20, 20) == "fallback"


def test_accelerator_draw_is_rng_choice() -> None:
    """The accelerator of each trial is the draw of ``rng.choice(K, p=shares)``."""
    cfg = _campaign(_study(hardware={"mix": {"titan-x": 0.5, "m40": 0.3, "v100-sxm2": 0.2}}))
    study = resolve(cfg).studies[0]
    got = _accelerators(study, 50, 31, as_generator(4))
    want = as_generator(4).choice(3, size=(50, 31), p=study.shares)
    assert got is not None and got.dtype == np.int8
    assert np.array_equal(got, want)


def _reference_crashes(duration_h: np.ndarray, state: np.ndarray, crashed: np.ndarray,
                       crash_h: np.ndarray, trial: np.ndarray) -> tuple[np.ndarray, ...]:
    """The crash rule as it was: one numpy step per job."""
    crashed = crashed.copy()
    state = state.copy()
    _, key = np.unique(trial, return_inverse=True)
    dead = np.zeros((state.shape[0], int(key.max()) + 1), dtype=bool)
    for j in range(key.size):
        t = key[j]
        skipped = dead[:, t]
        crashed[:, j] &= ~skipped
        state[skipped, j] = 3
        dead[:, t] |= crashed[:, j]
    state[crashed] = 2
    duration_h = np.where(crashed, np.minimum(crash_h, duration_h), duration_h)
    duration_h[state == 3] = 0.0
    return duration_h, state


def test_vectorised_crash_rule_matches_the_per_job_loop() -> None:
    rng = np.random.default_rng(3)
    m, n_jobs = 40, 60
    trial = rng.integers(0, 15, n_jobs)  # several jobs per trial, interleaved
    dur = rng.uniform(0.5, 2, (m, n_jobs))
    state = rng.integers(0, 2, (m, n_jobs)).astype(np.int8)
    crashed = rng.random((m, n_jobs)) < 0.15
    crash_h = rng.uniform(0.1, 1, (m, n_jobs))
    want = _reference_crashes(dur, state, crashed, crash_h, trial)
    got = apply_crashes(dur, state, crashed, crash_h, trial)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    # One length per drawn crash, in row-major order: the same rule.
    sparse = apply_crashes(dur, state, crashed, crash_h[crashed], trial)
    assert np.array_equal(sparse[0], want[0]) and np.array_equal(sparse[1], want[1])


def test_build_jobs_keeps_every_row_and_the_draw_does_not_depend_on_rows() -> None:
    campaign = resolve(CASES["hyperband-crashes"])
    full = draw_chunk(campaign, 6, rng=as_generator(1))
    lean = draw_chunk(campaign, 6, rng=as_generator(1), rows=1)
    n_jobs = full.base.size
    assert isinstance(full.jobs, Jobs) and full.jobs.busy_kw.shape == (6, n_jobs)
    assert np.array_equal(full.duration_h, lean.duration_h)
    assert np.array_equal(full.accelerator, lean.accelerator)
    assert lean.jobs.state.shape == (1, n_jobs)
    assert np.array_equal(lean.jobs.state[0], full.jobs.state[0])
    # The flat buffers' layout: job j of replicate r at base[j] + r * stride[j].
    at = full.base[None, :] + np.arange(6)[:, None] * full.stride[None, :]
    assert np.array_equal(full.duration_h[at], full.jobs.duration_h)
    assert np.array_equal(full.accelerator[at], full.jobs.accelerator)
    table = full.busy_table[np.arange(n_jobs), full.accelerator[at]]
    assert np.array_equal(table, full.jobs.busy_kw)


def test_crash_states_follow_the_crashes_drawn() -> None:
    """One job per trial: the states are built for the kept rows only, CRASHED exactly
    where a crash length replaced the duration (crashes last at most 0.5 h here)."""
    campaign = resolve(CASES["one-worker"])
    full = draw_chunk(campaign, 200, rng=as_generator(3))
    lean = draw_chunk(campaign, 200, rng=as_generator(3), rows=2)
    crashed = full.jobs.state == 2
    assert 0 < crashed.mean() < 0.5
    assert (full.jobs.duration_h[crashed] <= 0.5).all()
    assert np.array_equal(lean.jobs.state, full.jobs.state[:2])
    assert np.array_equal(lean.duration_h, full.duration_h)
