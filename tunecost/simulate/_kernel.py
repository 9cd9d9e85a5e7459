"""The scheduling kernel: list-schedule a chunk's jobs and reduce them to per-study sums.

One pass over the jobs of each replicate, in queue order: each job takes the earliest-free
slot of the pool (ties: the lowest slot index, as ``numpy.argmin``), starts when that slot is
free and its dependencies have ended (its ``parent`` job, its ``barrier`` stage, with
``sequential`` the previous study instance), and its running and waiting time are added to
its study's sums at once. Nothing of shape ``(replicates, jobs)`` is written except the
schedule of the first ``record`` replicates (the ledger's replicate 0, or every replicate
when an hourly carbon series needs the intervals).

Two implementations give the same bits:

- **compiled** (numba, the ``fast`` extra): per replicate, a tournament tree over the slots
  (a leaf per slot, each inner node the slot of its children's minimum, the left child
  winning ties: ``argmin``'s lowest index), updated leaf to root in ``log2(slots)`` steps;
  a linear scan for pools of at most :data:`SCAN_MAX_SLOTS` slots. A few replicates are
  stepped together so the processor overlaps their independent dependency chains.
- **fallback** (numpy): a Python loop over jobs, each step a numpy operation over the
  chunk's replicates (``argmin`` over the slots).

**Bit-identity rule.** Both compute every value with the same IEEE operations in the same
order: per replicate, ``start = max(free, ready)``, ``end = start + duration``,
``wait = start - free``; and every sum is accumulated sequentially in job order (per slot
for the unused slot-hours), ``s = s + x`` starting from ``0.0``: the fallback adds one
``(replicates,)`` column per job, never a pairwise ``numpy.sum``. numba compiles without
``fastmath`` (no reassociation, no fused multiply-add), so the compiled path gives the same
bits as the fallback; ``tests/simulate/test_kernel.py`` checks it on every metric.

The path: numba when importable, else the fallback; the environment variable
``TUNECOST_KERNEL`` (``auto``, ``compiled``, ``fallback``) forces one. As both give the same
bits, ``auto`` also runs the fallback for a chunk it finishes in less time than importing
numba takes (a small campaign in a fresh process), until numba is imported.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunecost.exceptions import ConfigError

__all__ = ["ENV_VAR", "SCAN_MAX_SLOTS", "KernelOutput", "kernel_path", "run_kernel"]

ENV_VAR = "TUNECOST_KERNEL"
"""``auto`` (default: compiled when numba imports), ``compiled`` or ``fallback``."""

SCAN_MAX_SLOTS = 3
"""Pools of at most this many slots find the earliest-free slot by a linear scan; larger ones
by the tournament tree (measured: the tree wins from 4 slots, 2-3x faster than a binary heap
at 58, as it needs no data-dependent branch)."""

_GROUP = 4
"""Replicates stepped together by the compiled kernel (their chains are independent)."""

_NUMBA: Any = None  # the compiled function once built; False: numba is not importable

_SMALL_S = 0.2
"""``auto`` runs the fallback where it takes less than this (numba's import and the cached
kernel's load take about a second)."""


def _fallback_s(n_jobs: int, n_reps: int) -> float:
    """The fallback's time, about: some numpy calls per job, each over the replicates."""
    return n_jobs * (25e-6 + 40e-9 * n_reps)


@dataclass(slots=True)
class KernelOutput:
    """What the kernel returns for ``m`` replicates of ``J`` jobs on ``W`` used slots.

    Attributes:
        sums: ``(4, S, m)``, per study: busy hours (running), busy IT kWh (running at the
            job's power), waiting IT kWh (the slot's idle power while it waits for the
            job's dependencies; NaN where that power is unknown), paid hours (running +
            waiting).
        wall_clock_h: makespan, ``(m,)``.
        unused_h: ``sum over used slots of max(wall clock - slot busy hours, 0)``, ``(m,)``.
        start_h, wait_h, worker, busy_h: the schedule of the first ``record`` replicates,
            ``(record, J)`` (worker -1 for a skipped job) and ``(record, W)``.
    """

    sums: np.ndarray
    wall_clock_h: np.ndarray
    unused_h: np.ndarray
    start_h: np.ndarray
    wait_h: np.ndarray
    worker: np.ndarray
    busy_h: np.ndarray


def _numba_kernel() -> Any:
    """The compiled kernel, or ``False`` when numba cannot be imported."""
    global _NUMBA
    if _NUMBA is None:
        try:
            import numba
        except ImportError:
            _NUMBA = False
        else:
            _NUMBA = numba.njit(cache=True, nogil=True, error_model="numpy")(_schedule_loops)
    return _NUMBA


def kernel_path(n_jobs: int | None = None, n_reps: int | None = None) -> str:
    """``"compiled"`` or ``"fallback"``: the path :func:`run_kernel` takes now (for a chunk
    of ``n_reps`` replicates of ``n_jobs`` jobs, if given).

    Raises:
        ConfigError: ``TUNECOST_KERNEL`` is not one of its values, or asks for the compiled
            path where numba is not installed.
    """
    want = os.environ.get(ENV_VAR, "auto").strip().lower() or "auto"
    if want not in ("auto", "compiled", "fallback"):
        raise ConfigError(
            f"{ENV_VAR} must be one of auto, compiled, fallback, but got {ENV_VAR}={want!r}"
        )
    if want == "fallback":
        return "fallback"
    small = n_jobs is not None and n_reps is not None and _fallback_s(n_jobs, n_reps) < _SMALL_S
    if want == "auto" and small and _NUMBA is None and "numba" not in sys.modules:
        return "fallback"
    if _numba_kernel():
        return "compiled"
    if want == "compiled":
        raise ConfigError(
            f"{ENV_VAR}=compiled needs numba; install it with: pip install 'tunecost[fast]'"
        )
    return "fallback"


def run_kernel(
    duration_h: np.ndarray,
    *,
    busy_kw: np.ndarray | None,
    idle_kw: np.ndarray | None,
    accelerator: np.ndarray | None = None,
    busy_table: np.ndarray | None = None,
    idle_table: np.ndarray | None = None,
    layout: tuple[int, np.ndarray, np.ndarray] | None = None,
    parent: np.ndarray,
    barrier: np.ndarray,
    stage: np.ndarray,
    instance: np.ndarray,
    study: np.ndarray,
    n_workers: int,
    sequential: bool,
    n_studies: int,
    n_stages: int,
    n_instances: int,
    record: int = 0,
    path: str | None = None,
) -> KernelOutput:
    """Schedule ``m`` replicates of ``J`` jobs on ``n_workers`` slots and sum per study.

    Per-job-replicate inputs (``duration_h``, ``busy_kw``, ``idle_kw``, ``accelerator``) are
    ``(m, J)`` arrays or, with ``layout = (m, base, stride)``, flat buffers where job ``j`` of
    replicate ``r`` is at ``base[j] + r * stride[j]`` (:class:`~tunecost.simulate._draw.Draw`).
    Each job's power comes either from the arrays ``busy_kw`` and ``idle_kw`` or, with
    ``accelerator``, from per-job tables ``busy_table[j, accelerator]`` and
    ``idle_table[j, accelerator]`` (``(J, K)``), plus ``busy_kw`` if given (a calibrated
    per-trial energy): the same values either way, without two more ``(m, J)`` arrays.

    Args:
        n_workers: slots that can ever be used, ``1 <= n_workers <= max(J, 1)``.
        record: return the schedule of the first ``record`` replicates (0, 1 or ``m``).
        path: ``"compiled"`` or ``"fallback"`` (default: :func:`kernel_path`).
    """
    i64 = np.int64
    n_jobs = int(np.shape(parent)[0])

    def flat(a: np.ndarray | None, dtype: Any) -> np.ndarray:
        if a is None:
            return np.zeros(1, dtype=dtype)
        return np.ascontiguousarray(a, dtype=dtype).reshape(-1)

    if layout is None:
        m = int(duration_h.shape[0])
        base = np.arange(n_jobs, dtype=i64)
        stride = np.full(n_jobs, n_jobs, dtype=i64)
    else:
        m, base, stride = int(layout[0]), layout[1], layout[2]
        base = np.ascontiguousarray(base, dtype=i64)
        stride = np.ascontiguousarray(stride, dtype=i64)
    dur = flat(duration_h, np.float64)
    tabled = accelerator is not None
    if tabled:
        assert busy_table is not None and idle_table is not None
        acc = flat(accelerator, np.int8)
        btab = np.ascontiguousarray(busy_table, dtype=np.float64)
        itab = np.ascontiguousarray(idle_table, dtype=np.float64)
        has_ext = busy_kw is not None
        # A job whose busy power is the same on every accelerator needs no index read.
        uniform = (btab == btab[:, :1]).all(axis=1)
        ikw = flat(None, np.float64)
    else:
        assert busy_kw is not None and idle_kw is not None
        acc = flat(None, np.int8)
        btab = itab = np.zeros((1, 1))
        has_ext = False
        uniform = np.zeros(1, dtype=bool)
        ikw = flat(idle_kw, np.float64)
    bkw = flat(busy_kw, np.float64)
    parent = np.ascontiguousarray(parent, dtype=i64)
    # Only jobs that are some job's parent keep their end time: a compact column each.
    is_parent = np.unique(parent[parent >= 0])
    pslot = np.full(n_jobs, -1, dtype=i64)
    pslot[is_parent] = np.arange(is_parent.size, dtype=i64)
    record = int(min(max(record, 0), m))
    w = int(n_workers)
    out = KernelOutput(
        sums=np.zeros((4, n_studies, m)),
        wall_clock_h=np.zeros(m),
        unused_h=np.zeros(m),
        start_h=np.zeros((record, n_jobs)),
        wait_h=np.zeros((record, n_jobs)),
        worker=np.full((record, n_jobs), -1, dtype=i64),
        busy_h=np.zeros((record, w)),
    )
    args = (
        m, dur, bkw, ikw, acc, base, stride, btab, itab, uniform, tabled, has_ext,
        parent, pslot, np.ascontiguousarray(barrier, dtype=i64),
        np.ascontiguousarray(stage, dtype=i64), np.ascontiguousarray(instance, dtype=i64),
        np.ascontiguousarray(study, dtype=i64),
        w, bool(sequential), int(n_studies), max(int(n_stages), 1), max(int(n_instances), 1),
        max(int(is_parent.size), 1), record,
        out.start_h, out.wait_h, out.worker, out.busy_h, out.sums, out.wall_clock_h,
        out.unused_h,
    )
    if (path or kernel_path(n_jobs, m)) == "compiled":
        kernel = _numba_kernel()
        if not kernel:
            raise ConfigError("the compiled kernel needs numba: pip install 'tunecost[fast]'")
        deps = bool((parent >= 0).any() or (np.asarray(barrier) >= 0).any()
                    or (sequential and (np.asarray(instance) > 0).any()))
        kernel(*args, _GROUP, w > SCAN_MAX_SLOTS, deps, record > 0)
    else:
        _schedule_numpy(*args)
    return out


def _schedule_loops(m, dur, bkw, ikw, acc, base, stride, btab, itab, uniform, tabled, has_ext,
                    parent, pslot, barrier, stage, inst, study,
                    n_workers, sequential, n_studies, n_stages, n_inst, n_pend, rec,
                    start_out, wait_out, worker_out, busy_out, sums, wall, unused,
                    group, use_tree, deps, recording):  # pragma: no cover - numba
    """The compiled kernel's loops (plain Python that numba compiles; see the module doc).

    Replicates go in groups of ``group``; within a group, every job is placed in each
    replicate in turn. Per replicate: ``val[g, w]`` is slot ``w``'s free time (padding
    slots +inf), ``tree[g, k]`` the slot winning inner node ``k`` (root 1, leaves
    ``P..2P-1``). ``use_tree`` (else a scan), ``deps`` (some job waits for a parent, a
    barrier or the previous instance) and ``recording`` (``rec > 0``) skip what a chunk
    does not need.
    """
    n_jobs = parent.shape[0]
    W = n_workers
    track_stage = False  # stage ends matter only to a job with a barrier
    for j in range(n_jobs):
        if barrier[j] >= 0:
            track_stage = True
    P = 1
    while P < W:
        P *= 2
    G = group
    val = np.empty((G, P))
    tree = np.zeros((G, max(P, 2)), dtype=np.int64)
    busy = np.empty((G, P))
    pend = np.empty((G, n_pend))
    stage_end = np.empty((G, n_stages))
    inst_end = np.empty((G, n_inst))
    acc_sum = np.empty((G, 4, n_studies))
    mx = np.empty(G)
    for r0 in range(0, m, G):
        g_n = min(G, m - r0)
        for g in range(g_n):
            for w in range(P):
                val[g, w] = 0.0 if w < W else np.inf
                busy[g, w] = 0.0
            if use_tree:
                for k in range(P - 1, 0, -1):
                    if 2 * k >= P:
                        lo = 2 * k - P
                        hi = lo + 1
                    else:
                        lo = tree[g, 2 * k]
                        hi = tree[g, 2 * k + 1]
                    tree[g, k] = hi if val[g, hi] < val[g, lo] else lo
            pend[g, :] = 0.0
            stage_end[g, :] = 0.0
            inst_end[g, :] = 0.0
            acc_sum[g, :, :] = 0.0
            mx[g] = 0.0
        for j in range(n_jobs):
            pa = parent[j]
            ba = barrier[j]
            ins = inst[j]
            stg = stage[j]
            st = study[j]
            ps = pslot[j]
            seq = sequential and ins > 0
            bj = base[j]
            sj = stride[j]
            same = tabled and uniform[j]
            for g in range(g_n):
                r = r0 + g
                x_at = bj + r * sj
                ready = 0.0
                if deps and pa >= 0:
                    x = pend[g, pslot[pa]]
                    if x > ready:
                        ready = x
                if deps and ba >= 0:
                    x = stage_end[g, ba]
                    if x > ready:
                        ready = x
                if deps and seq:
                    x = inst_end[g, ins - 1]
                    if x > ready:
                        ready = x
                d = dur[x_at]
                if use_tree:
                    w = tree[g, 1]
                    f = val[g, w]
                else:
                    w = 0
                    f = val[g, 0]
                    for k in range(1, W):
                        if val[g, k] < f:
                            f = val[g, k]
                            w = k
                s = f if f > ready else ready
                if d > 0:
                    e = s + d
                    wt = s - f
                    busy[g, w] += e - f
                    val[g, w] = e
                    if use_tree:
                        k = (w + P) >> 1
                        lo = 2 * k - P
                        tree[g, k] = lo + 1 if val[g, lo + 1] < val[g, lo] else lo
                        k >>= 1
                        while k >= 1:
                            lo = tree[g, 2 * k]
                            hi = tree[g, 2 * k + 1]
                            tree[g, k] = hi if val[g, hi] < val[g, lo] else lo
                            k >>= 1
                    if recording and r < rec:
                        start_out[r, j] = s
                        wait_out[r, j] = wt
                        worker_out[r, j] = w
                else:
                    e = ready
                    wt = 0.0
                    if recording and r < rec:
                        start_out[r, j] = ready
                if track_stage and stage_end[g, stg] < e:
                    stage_end[g, stg] = e
                if sequential and inst_end[g, ins] < e:
                    inst_end[g, ins] = e
                if deps and ps >= 0:
                    pend[g, ps] = e
                if e > mx[g]:
                    mx[g] = e
                if same:
                    b = btab[j, 0]
                    if has_ext:
                        b = b + bkw[x_at]
                elif tabled:
                    b = btab[j, acc[x_at]]
                    if has_ext:
                        b = b + bkw[x_at]
                else:
                    b = bkw[x_at]
                acc_sum[g, 0, st] += d
                acc_sum[g, 1, st] += d * b
                if wt > 0:  # the idle power is read only where the slot waits
                    i = itab[j, acc[x_at]] if tabled else ikw[x_at]
                    acc_sum[g, 2, st] += wt * i
                else:
                    acc_sum[g, 2, st] += 0.0
                acc_sum[g, 3, st] += d + wt
        for g in range(g_n):
            r = r0 + g
            wall[r] = mx[g]
            u = 0.0
            for w in range(W):
                x = mx[g] - busy[g, w]
                if x < 0:
                    x = 0.0
                u += x
                if r < rec:
                    busy_out[r, w] = busy[g, w]
            unused[r] = u
            for k in range(4):
                for s2 in range(n_studies):
                    sums[k, s2, r] = acc_sum[g, k, s2]


def _schedule_numpy(m, dur, bkw, ikw, acc, base, stride, btab, itab, uniform, tabled, has_ext,
                    parent, pslot, barrier, stage, inst, study,
                    n_workers, sequential, n_studies, n_stages, n_inst, n_pend, rec,
                    start_out, wait_out, worker_out, busy_out, sums, wall, unused) -> None:
    """The fallback: the compiled kernel's arithmetic, one numpy step per job over every
    replicate of the chunk (same operations, same order: the same bits)."""
    n_jobs = parent.shape[0]

    def col(buf: np.ndarray, j: int) -> np.ndarray:  # job j of every replicate, a view
        return buf[base[j]:base[j] + (m - 1) * stride[j] + 1:stride[j]]

    rows = np.arange(m)
    free = np.zeros((m, n_workers))
    busy = np.zeros((m, n_workers))
    pend = np.zeros((m, n_pend))
    stage_end = np.zeros((m, n_stages))
    inst_end = np.zeros((m, n_inst))
    zero = np.zeros(m)
    for j in range(n_jobs):
        ready = zero
        if parent[j] >= 0:
            ready = np.maximum(ready, pend[:, pslot[parent[j]]])
        if barrier[j] >= 0:
            ready = np.maximum(ready, stage_end[:, barrier[j]])
        ins = inst[j]
        if sequential and ins > 0:
            ready = np.maximum(ready, inst_end[:, ins - 1])
        d = col(dur, j)
        w = np.argmin(free, axis=1)
        f = free[rows, w]
        s = np.maximum(f, ready)
        runs = d > 0
        e = np.where(runs, s + d, ready)
        wt = np.where(runs, s - f, 0.0)
        busy[rows, w] += np.where(runs, e - f, 0.0)
        free[rows, w] = np.where(runs, e, f)
        np.maximum(stage_end[:, stage[j]], e, out=stage_end[:, stage[j]])
        np.maximum(inst_end[:, ins], e, out=inst_end[:, ins])
        if pslot[j] >= 0:
            pend[:, pslot[j]] = e
        np.maximum(wall, e, out=wall)
        if tabled:
            a = col(acc, j)
            b = btab[j][a]
            if has_ext:
                b = b + col(bkw, j)
            i = itab[j][a]
        else:
            b = col(bkw, j)
            i = col(ikw, j)
        st = study[j]
        sums[0, st] += d
        sums[1, st] += d * b
        sums[2, st] += np.where(wt > 0, wt * i, 0.0)
        sums[3, st] += d + wt
        if rec:
            start_out[:, j] = np.where(runs, s, ready)[:rec]
            wait_out[:, j] = wt[:rec]
            worker_out[:, j] = np.where(runs, w, -1)[:rec]
    for w in range(n_workers):
        unused += np.maximum(wall - busy[:, w], 0.0)
    if rec:
        busy_out[:] = busy[:rec]
