"""A study as it stands: its finished trials' records, what is running, and its search.

:class:`StudySoFar` is what a forecast starts from, read from a live ``optuna.Study`` (any
storage: several worker processes on one RDB storage see the same trials) or from records
(a Ray Tune experiment, a JSON Lines file). The records are tunecost's
:class:`~tunecost.calibrate.TrialRecord`, so the cost of each finished trial is read by the
same importer ``tunecost calibrate`` uses.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tunecost.calibrate.records import TrialRecord
from tunecost.exceptions import ConfigError

__all__ = ["StudySoFar", "max_overlap"]


@dataclass(frozen=True, eq=False)
class StudySoFar:
    """A study at the moment ``now_s``.

    Attributes:
        name: the study's name.
        records: its finished trials (COMPLETE, PRUNED, FAIL), in trial-number order.
        running: parameters of the trials running now.
        now_s: the moment, POSIX s.
        started_s: when its first trial started, POSIX s (``now_s`` before any).
        direction: ``minimize`` or ``maximize``.
        frozen: the finished trials as Optuna's ``FrozenTrial`` (a live study), else empty.
        sampler, pruner: the live study's, else ``None``.
        distributions: what the live study asks (its last finished trial's), else ``None``.
        running_since_s: when each running trial started, POSIX s (how many overlap now).
    """

    name: str
    records: Sequence[TrialRecord]
    running: Sequence[Mapping[str, Any]] = ()
    now_s: float = 0.0
    started_s: float = 0.0
    direction: str = "minimize"
    frozen: Sequence[Any] = ()
    sampler: Any = None
    pruner: Any = None
    distributions: Mapping[str, Any] | None = None
    running_since_s: Sequence[float] = field(default_factory=tuple)

    @property
    def elapsed_s(self) -> float:
        """Wall clock so far, s."""
        return max(self.now_s - self.started_s, 0.0)

    @property
    def workers_seen(self) -> int:
        """The most trials that ran at once so far (finished ones' overlaps, and now)."""
        spans = [(float(r.attrs["t_start"]), float(r.attrs["t_end"])) for r in self.records
                 if "t_start" in r.attrs and "t_end" in r.attrs]
        spans += [(t, self.now_s) for t in self.running_since_s]
        return max(max_overlap(spans), len(self.running), 1)

    @classmethod
    def from_optuna(cls, study: Any, *, now_s: float | None = None) -> StudySoFar:
        """The study as its storage holds it now (every worker's trials).

        Args:
            study: an ``optuna.Study``.
            now_s: the moment, POSIX s (default: now).

        Raises:
            ConfigError: a multi-objective study, or a malformed measurement.
        """
        import optuna

        from tunecost.calibrate.importers import optuna_record

        if len(study.directions) != 1:
            raise ConfigError(f"study {study.study_name!r} has {len(study.directions)} "
                              "objectives: the forecast replays single-objective studies")
        direction = study.direction.name.lower()
        state = optuna.trial.TrialState
        trials = study.get_trials(deepcopy=False)
        finished = [t for t in trials if t.state in (state.COMPLETE, state.PRUNED, state.FAIL)]
        running = [t for t in trials if t.state == state.RUNNING]
        records = [optuna_record(t, study.study_name, direction) for t in finished]
        now = time.time() if now_s is None else now_s
        starts = [t.datetime_start.timestamp() for t in trials if t.datetime_start is not None]
        dists = next((dict(t.distributions) for t in reversed(finished) if t.distributions),
                     None)
        return cls(
            name=study.study_name, records=records,
            running=[dict(t.params) for t in running], now_s=now,
            started_s=min(starts, default=now), direction=direction,
            # A finished trial no longer changes, and a replay's study copies what it is
            # told (add_trials): the storage's own objects serve, read once.
            frozen=finished,
            sampler=study.sampler, pruner=study.pruner, distributions=dists,
            running_since_s=[t.datetime_start.timestamp() for t in running
                             if t.datetime_start is not None],
        )

    @classmethod
    def from_records(cls, records: Sequence[TrialRecord], *, now_s: float | None = None,
                     running: Sequence[Mapping[str, Any]] = (),
                     name: str | None = None) -> StudySoFar:
        """A study from its records (``attrs`` ``t_start``/``t_end``, POSIX s, give the
        clock; without them the trials ran back to back, on one worker).

        Args:
            records: the finished trials.
            now_s: the moment, POSIX s (default: the last trial's end).
            running: parameters of trials running now.
            name: the study's name (default: the records').
        """
        recs = sorted(records, key=lambda r: r.number)
        starts = [float(r.attrs["t_start"]) for r in recs if "t_start" in r.attrs]
        ends = [float(r.attrs["t_end"]) for r in recs if "t_end" in r.attrs]
        if len(starts) == len(ends) == len(recs) and recs:
            first, last = min(starts), max(ends)
        else:
            first, last = 0.0, float(sum(r.duration_s for r in recs))
        direction = next((str(r.attrs[k]) for r in recs for k in ("direction", "mode")
                          if k in r.attrs), "minimize")
        direction = {"min": "minimize", "max": "maximize"}.get(direction, direction)
        return cls(name=name or (recs[0].study if recs else "study"), records=recs,
                   running=list(running), now_s=last if now_s is None else now_s,
                   started_s=first, direction=direction)


def max_overlap(spans: Sequence[tuple[float, float]]) -> int:
    """The most intervals ``[start, end)`` that cover one instant.

    >>> max_overlap([(0, 2), (1, 3), (2, 4), (5, 6)])
    2
    """
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    best = now = 0
    for _, step in events:  # an end sorts before a start at the same instant
        now += step
        best = max(best, now)
    return best
