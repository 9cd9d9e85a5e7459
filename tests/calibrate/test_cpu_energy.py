"""A trial's CPU time covers its joblib worker processes, and Optuna's threads count once."""

from __future__ import annotations

import time

import optuna
import psutil
import pytest
from joblib import Parallel, delayed

from tunecost.calibrate import _cpu
from tunecost.calibrate.measure import TrialMeter
from tunecost.calibrate.optuna import measured

optuna.logging.set_verbosity(optuna.logging.WARNING)


def spin(n: int) -> int:
    """Pure-Python CPU work (holds the GIL: threads cannot share a core's worth)."""
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def tree_cpu_s() -> float:
    """CPU time of this process and every descendant, live or reaped, read with psutil."""
    me = psutil.Process()
    t = me.cpu_times()
    total = t.user + t.system + t.children_user + t.children_system
    for child in me.children(recursive=True):
        try:
            c = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += c.user + c.system + c.children_user + c.children_system
    return total


def test_loky_workers_are_counted() -> None:
    """Work done in joblib's loky worker processes is the trial's, not lost."""
    Parallel(n_jobs=2, backend="loky")(delayed(spin)(10) for _ in range(2))  # start the pool
    before_s = tree_cpu_s()
    thread_before_s = time.thread_time()
    with TrialMeter(backends=[]) as meter:
        Parallel(n_jobs=2, backend="loky")(delayed(spin)(1_500_000) for _ in range(4))
    thread_s = time.thread_time() - thread_before_s
    tree_s = tree_cpu_s() - before_s
    cpu_s = meter.result.cpu_s
    assert cpu_s is not None
    assert cpu_s == pytest.approx(tree_s, rel=0.15), (cpu_s, tree_s)
    assert cpu_s > 3 * thread_s  # most of it ran in the workers
    assert meter.result.cpu_energy_j == pytest.approx(cpu_s * 12.0)  # generic W per core


def test_optuna_threads_are_counted_once() -> None:
    """``n_jobs=2``: the trials' CPU times add up to the process's, not to twice it."""

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0, 1)
        spin(400_000)
        return x

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    before_s = tree_cpu_s()
    study.optimize(measured(objective, backends=[]), n_trials=8, n_jobs=2)
    total_s = tree_cpu_s() - before_s
    trial_s = [t.user_attrs["tunecost:cpu_s"] for t in study.trials]
    assert len(trial_s) == 8 and min(trial_s) > 0
    ratio = sum(trial_s) / total_s
    assert ratio == pytest.approx(1.0, abs=0.15), ratio  # the old process-time meter: 1.9


def test_ledger_splits_shared_time_equally_and_conserves_it() -> None:
    """Scripted clocks: own thread time is the trial's; the rest is split among the active."""
    clock = {"process": 0.0, "children": 0.0, "threads": {}}
    ledger = _cpu.CpuLedger(
        process_s=lambda: clock["process"],
        children_s=lambda: clock["children"],
        thread_s=lambda ident: clock["threads"].get(ident, 0.0),
    )
    a = ledger.start()
    a.ident = 1  # pretend the two trials run in threads 1 and 2
    a.own_s = 0.0
    clock["process"], clock["threads"][1] = 2.0, 1.5  # 0.5 s elsewhere, alone: a's
    b = ledger.start()
    b.ident, b.own_s = 2, 0.0
    clock["process"] = 2.0 + 3.0
    clock["threads"][1], clock["threads"][2] = 2.5, 1.5  # own 1.0 and 1.5; 0.5 s shared
    clock["children"] = 1.0  # a loky worker's second, shared too
    a_s = ledger.stop(a)
    clock["process"] += 1.0
    clock["threads"][2] += 1.0
    b_s = ledger.stop(b)
    assert a_s == pytest.approx(2.5 + 0.5 + 0.75)  # own 2.5; alone 0.5; half of 1.5
    assert b_s == pytest.approx(2.5 + 0.75)  # own 1.5 + 1.0; half of 1.5
    assert a_s + b_s == pytest.approx(clock["process"] + clock["children"])


def test_a_very_short_trial_still_reads_some_cpu_energy() -> None:
    """The trial's own thread clock has ns resolution: no more 0 J in 0.12 J (10 ms) steps."""
    readings = []
    for _ in range(5):
        with TrialMeter(backends=[]) as meter:
            spin(2_000)  # well under a millisecond
        readings.append(meter.result.cpu_energy_j)
    assert all(r is not None and 0 < r < 0.12 for r in readings), readings


def test_a_thread_clock_read_ahead_of_the_process_clock_is_not_counted_twice() -> None:
    """Scripted: trial a's thread clock is read after the process's and ran 0.4 s ahead of it
    (another thread held the GIL in between); the totals still add up to the process's."""
    clock = {"process": 0.0, "threads": {1: 0.0, 2: 0.0}}
    ledger = _cpu.CpuLedger(process_s=lambda: clock["process"], children_s=lambda: 0.0,
                            thread_s=lambda ident: clock["threads"].get(ident, 0.0))
    a = ledger.start()
    a.ident, a.own_s = 1, 0.0
    clock["process"], clock["threads"][1] = 1.0, 1.4  # read skew: a's thread looks ahead
    b = ledger.start()  # an event in between (b's own clock starts at 0)
    b.ident, b.own_s = 2, 0.0
    clock["process"], clock["threads"][1], clock["threads"][2] = 3.0, 2.0, 0.5
    total = ledger.stop(a) + ledger.stop(b)
    assert total == pytest.approx(3.0)  # clipping the -0.4 s would have given 3.4
