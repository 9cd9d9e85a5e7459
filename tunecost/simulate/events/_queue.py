"""The event core: a simulated clock, N workers in power states, a ledger and a timeline.

Kept small on purpose (simpy's ``Environment.schedule/step``, syne-tune's
``SimulatorState.push/next_until``): a ``heapq`` of ``(time_s, seq, event)`` where ``seq`` is a
monotone counter, so events due at the same time pop first-in, first-out and every run of the
same inputs pops them in the same order. What an event *means* is the engine's business.

Workers are the pool's slots. Each is, at any time, in one power state:

- ``busy``: running a job, drawing the job's power;
- ``waiting``: holding a job whose dependencies have not ended, or told by the search that more
  work will come (a synchronisation point): the slot is held and draws idle power;
- ``idle``: nothing left to run; not charged unless the pool is reserved;
- ``overhead``: between trials, the framework's own work (the sampler, the storage, a trial's
  process start-up): the slot is held, the accelerator idles and the host works.

The :class:`Timeline` records each worker's busy and waiting intervals with their power; the
per-job ledger lives in the same object so that one replicate's record is one set of flat lists
(no per-trial objects: a replicate of 1,000 trials appends a few thousand floats).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["BUSY", "IDLE", "OVERHEAD", "STATE_NAMES", "WAITING", "EventQueue", "Timeline"]

BUSY, WAITING, IDLE, OVERHEAD = 0, 1, 2, 3
STATE_NAMES = ("busy", "waiting", "idle", "overhead")

E = TypeVar("E")


class EventQueue(Generic[E]):
    """A min-heap of events keyed by simulated time, FIFO among equal times.

    Example:
        >>> q = EventQueue()
        >>> q.push(2.0, "b"); q.push(1.0, "a"); q.push(2.0, "c")
        >>> [q.pop() for _ in range(3)]
        [(1.0, 'a'), (2.0, 'b'), (2.0, 'c')]
    """

    __slots__ = ("_heap", "_seq", "now_s")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, E]] = []
        self._seq = 0
        self.now_s = 0.0
        """Time of the last event popped, s."""

    def push(self, time_s: float, event: E) -> None:
        """Schedule ``event`` at ``time_s`` (seconds, >= the current time).

        Raises:
            ValueError: ``time_s`` lies before the current time (an event in the past would
                make the clock run backwards).
        """
        if time_s < self.now_s:
            raise ValueError(f"`time_s >= now_s` must hold, but got time_s={time_s}, "
                             f"now_s={self.now_s}")
        heapq.heappush(self._heap, (time_s, self._seq, event))
        self._seq += 1

    def pop(self) -> tuple[float, E]:
        """Remove the earliest event and advance the clock to it.

        Raises:
            IndexError: the queue is empty.
        """
        time_s, _, event = heapq.heappop(self._heap)
        self.now_s = time_s
        return time_s, event

    def peek_s(self) -> float:
        """Time of the next event, s; ``inf`` when the queue is empty."""
        return self._heap[0][0] if self._heap else float("inf")

    def __len__(self) -> int:
        return len(self._heap)


@dataclass(slots=True)
class Timeline:
    """Per-worker power-state intervals and per-job ledger rows of one replicate.

    Intervals are appended when they close. Columns are parallel lists (one entry per
    interval or job), turned into arrays once at the end of the replicate.

    Attributes:
        worker, start_s, end_s, state, power_kw, study, trial: one entry per interval;
            ``state`` is :data:`BUSY`, :data:`WAITING`, :data:`IDLE` or :data:`OVERHEAD`;
            ``power_kw`` is the IT power drawn
            (before PUE); ``study`` the study instance charged; ``trial`` the trial, or -1.
        job_*: one entry per job: its instance, trial, start and end, s, busy power, kW,
            fidelity reached, whether it was stopped early, the worker, a label, the
            ledger state when the engine's own does not say it (``"CRASHED"``, else ``""``),
            the accelerator index and the preemptions in its duration.
    """

    worker: list[int] = field(default_factory=list)
    start_s: list[float] = field(default_factory=list)
    end_s: list[float] = field(default_factory=list)
    state: list[int] = field(default_factory=list)
    power_kw: list[float] = field(default_factory=list)
    study: list[int] = field(default_factory=list)
    trial: list[int] = field(default_factory=list)
    job_instance: list[int] = field(default_factory=list)
    job_trial: list[int] = field(default_factory=list)
    job_start_s: list[float] = field(default_factory=list)
    job_end_s: list[float] = field(default_factory=list)
    job_busy_kw: list[float] = field(default_factory=list)
    job_reached: list[float] = field(default_factory=list)
    job_stopped: list[bool] = field(default_factory=list)
    job_worker: list[int] = field(default_factory=list)
    job_label: list[str] = field(default_factory=list)
    job_state: list[str] = field(default_factory=list)
    job_accelerator: list[int] = field(default_factory=list)
    job_preemptions: list[int] = field(default_factory=list)

    def interval(self, worker: int, start_s: float, end_s: float, state: int, power_kw: float,
                 study: int, trial: int) -> None:
        """Record that ``worker`` was in ``state`` from ``start_s`` to ``end_s`` (s).

        Zero-length intervals are dropped: they carry no energy and clutter the Gantt chart.
        """
        if end_s > start_s:
            self.worker.append(worker)
            self.start_s.append(start_s)
            self.end_s.append(end_s)
            self.state.append(state)
            self.power_kw.append(power_kw)
            self.study.append(study)
            self.trial.append(trial)

    def job(self, instance: int, trial: int, start_s: float, end_s: float, busy_kw: float,
            reached: float, stopped: bool, worker: int, label: str, state: str = "",
            accelerator: int = 0, preemptions: int = 0) -> None:
        """Record one job's ledger row (and its busy interval)."""
        self.job_instance.append(instance)
        self.job_trial.append(trial)
        self.job_start_s.append(start_s)
        self.job_end_s.append(end_s)
        self.job_busy_kw.append(busy_kw)
        self.job_reached.append(reached)
        self.job_stopped.append(stopped)
        self.job_worker.append(worker)
        self.job_label.append(label)
        self.job_state.append(state)
        self.job_accelerator.append(accelerator)
        self.job_preemptions.append(preemptions)
        self.interval(worker, start_s, end_s, BUSY, busy_kw, instance, trial)
