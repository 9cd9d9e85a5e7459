"""The CPU time of one trial: its own thread, plus its share of the process tree's other work.

What the CPU energy estimate multiplies by watts per core (where RAPL cannot be read). A
trial's CPU time is

* the CPU time of the thread that runs it (its own work, exact even when Optuna runs several
  trials at once in threads: ``study.optimize(n_jobs=2)``), plus
* an equal share of everything else the process tree burns while it runs: the process's
  other threads (BLAS pools, threads the objective starts, the meter's sampler) and its
  child processes, live or exited (joblib's loky workers, data-loader workers, a
  ``multiprocessing.Pool``). Those cannot be told apart by trial (loky's pool is shared by
  every thread of the process), so each interval's shared CPU time is split equally among
  the trials active in it.

So the trials' CPU times add up to the process tree's CPU time over the periods when at least
one trial runs: nothing is counted twice, nothing is missed. The split is recomputed whenever
a trial starts or ends (the set of active trials is constant in between).

Children's CPU time is read with psutil: every live descendant's own and reaped children's
times, plus this process's reaped children (``os.times``). A child that ends during a trial
moves from the first sum to the second, so its CPU time is counted once.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import psutil

__all__ = ["LEDGER", "CpuLedger", "CpuToken", "children_cpu_s", "process_cpu_s", "thread_cpu_s"]


def process_cpu_s() -> float:
    """CPU time (user + system) of every thread of this process so far, s (ns resolution)."""
    return time.process_time()


def children_cpu_s() -> float:
    """CPU time of this process's descendants, live and reaped, so far, s.

    Live descendants (recursive) count their own and their reaped children's time; reaped
    children of this process count through ``os.times``. A descendant that vanishes between
    the listing and its read is skipped (its time shows up in ``os.times`` once reaped).
    """
    me = psutil.Process()
    total_s = 0.0
    for child in me.children(recursive=True):
        try:
            t = child.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        total_s += t.user + t.system + getattr(t, "children_user", 0.0) + getattr(
            t, "children_system", 0.0
        )
    t_self = os.times()
    return total_s + t_self.children_user + t_self.children_system


def thread_cpu_s(ident: int) -> float | None:
    """CPU time of the live thread ``ident`` (``threading.get_ident()``) of this process, s.

    ``None`` where the platform has no per-thread CPU clock (then all of the process's CPU
    time is shared among the active trials).
    """
    getclock = getattr(time, "pthread_getcpuclockid", None)
    if getclock is None:
        return None
    try:
        return time.clock_gettime(getclock(ident))
    except (OSError, OverflowError):
        return None


@dataclass
class CpuToken:
    """One active trial in the ledger.

    Attributes:
        ident: the trial thread's ``threading.get_ident()``.
        own_s: the thread's CPU time at the last event (``None``: no per-thread clock).
        own_total_s: the thread's CPU time since the trial started, s.
        shared_s: the trial's share of the rest of the tree's CPU time so far, s.
    """

    ident: int
    own_s: float | None
    own_total_s: float = 0.0
    shared_s: float = 0.0


class CpuLedger:
    """Splits a process tree's CPU time among the trials that run in it (module docstring).

    Args:
        process_s: CPU time of the whole process, s (:func:`process_cpu_s`).
        children_s: CPU time of its descendants, s (:func:`children_cpu_s`).
        thread_s: CPU time of one thread by ident, s (:func:`thread_cpu_s`).

    Tests pass scripted readers.
    """

    def __init__(
        self,
        *,
        process_s: Callable[[], float] = process_cpu_s,
        children_s: Callable[[], float] = children_cpu_s,
        thread_s: Callable[[int], float | None] = thread_cpu_s,
    ) -> None:
        self._process_s = process_s
        self._children_s = children_s
        self._thread_s = thread_s
        self._lock = threading.Lock()
        self._active: list[CpuToken] = []
        self._last_process_s = 0.0
        self._last_children_s = 0.0
        self._debt_s = 0.0
        self._pid = os.getpid()

    def _event(self) -> None:
        """Charge the CPU time since the last event to the active trials (lock held)."""
        if os.getpid() != self._pid:
            # A forked child inherits the parent's active trials, whose threads it lacks.
            self._active, self._pid = [], os.getpid()
        # The slow psutil scan first: the process clock is then read just before the threads'.
        children_s = self._children_s()
        process_s = self._process_s()
        if self._active:
            own_sum_s = 0.0
            for token in self._active:
                if token.own_s is None:
                    continue
                now_s = self._thread_s(token.ident)
                if now_s is None:
                    continue
                delta_s = max(0.0, now_s - token.own_s)
                token.own_s = now_s
                token.own_total_s += delta_s
                own_sum_s += delta_s
            # Reads are not simultaneous: a thread's clock read after the process's can run
            # ahead of it (by as long as another thread held the GIL in between). Clipping
            # that to 0 would count it twice (again as the next interval's shared time), so
            # the shortfall is carried into the next interval instead.
            process_shared_s = process_s - self._last_process_s - own_sum_s - self._debt_s
            self._debt_s = max(0.0, -process_shared_s)
            shared_s = max(0.0, process_shared_s) + max(0.0, children_s - self._last_children_s)
            for token in self._active:
                token.shared_s += shared_s / len(self._active)
        # A running maximum: a child that has exited but is not yet reaped drops out of the
        # scan for a moment and comes back in os.times(); it must not be charged twice.
        self._last_process_s = process_s
        self._last_children_s = max(self._last_children_s, children_s)

    def start(self) -> CpuToken:
        """Begin counting a trial that runs in the calling thread."""
        ident = threading.get_ident()
        with self._lock:
            self._event()
            token = CpuToken(ident=ident, own_s=self._thread_s(ident))
            self._active.append(token)
        return token

    def stop(self, token: CpuToken) -> float:
        """End counting ``token``'s trial; its CPU time since :meth:`start`, s."""
        with self._lock:
            self._event()
            self._active = [t for t in self._active if t is not token]
        return token.own_total_s + token.shared_s


LEDGER = CpuLedger()
"""The process's ledger; :class:`~tunecost.calibrate.measure.TrialMeter` uses it (tests
replace it with a scripted one)."""
