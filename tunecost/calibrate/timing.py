"""Where a trial's time goes outside training: set-up before its first step, and the
framework's overhead between trials.

Both are measured from the calibration study itself, because both depend on how it ran:

- :class:`SetupTime`: the time (and energy) a trial spends before its first step, the
  intercept of its report times against its steps (``t(s) = a + b·s``): process start,
  model build, compilation. A pruned trial pays it in full; the H200 trials spent about
  1.7 s of 2.0 s before their first evaluation at idle power.
- :class:`TrialOverhead`: the time a worker spends between one trial's objective ending and
  the next one's starting: the sampler, the storage, the framework's trial start-up and
  teardown (a Ray Tune function trainable here: about 3 s per trial in actor start-up;
  Optuna on SQLite: about 14 ms). From each record's span ``[t_start, t_end]`` (POSIX
  seconds) and objective time ``duration_s``: the trials are matched to worker slots in
  order (the k-th slot to free takes the next trial to start), and a trial's overhead is
  the gap from its slot freeing to its start, plus the part of its span outside the
  objective. The replay draws it per trial from these measurements and charges it at the
  worker's idle accelerator power plus host power.

Example:
    >>> from tunecost.calibrate.records import TrialRecord
    >>> recs = [TrialRecord(number=i, state="COMPLETE", duration_s=1.0,
    ...                     attrs={"t_start": 1.5 * i, "t_end": 1.5 * i + 1.0})
    ...         for i in range(4)]
    >>> TrialOverhead.measure(recs).median_s      # 0.5 s between consecutive trials
    0.5
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from tunecost._rng import RngLike, as_generator
from tunecost.calibrate.records import TrialRecord

__all__ = ["SetupTime", "TrialOverhead"]


class SetupTime(BaseModel):
    """Time and energy of a trial before its first training step (medians over trials).

    Attributes:
        duration_s: set-up time, s.
        energy_j: energy over it, J (``None`` where the curves carry no energy).
        n_trials: trials measured.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    duration_s: float = Field(ge=0)
    energy_j: float | None = Field(default=None, ge=0)
    n_trials: int = Field(ge=1)

    @classmethod
    def measure(cls, records: Sequence[TrialRecord]) -> SetupTime | None:
        """Intercepts of report time (and energy) against step, from trials with >= 2 reports.

        Each intercept is clipped to ``[0, time of the first report]``.

        Returns:
            The medians, or ``None`` when fewer than 3 trials have two reports with times.
        """
        t0, e0 = [], []
        for r in records:
            if r.attrs.get("curve_times") == "interpolated":
                continue  # evenly spread times (a plain Optuna study) hold no set-up
            pts = [p for p in r.curve if p.t_s is not None]
            if len(pts) < 2:
                continue
            s = np.array([p.step for p in pts], dtype=float)
            if np.ptp(s) == 0:
                continue
            t = np.array([p.t_s for p in pts], dtype=float)
            t0.append(float(np.clip(np.polyfit(s, t, 1)[1], 0.0, t[0])))
            if all(p.energy_j is not None for p in pts):
                e = np.array([p.energy_j for p in pts], dtype=float)
                e0.append(float(np.clip(np.polyfit(s, e, 1)[1], 0.0, e[0])))
        if len(t0) < 3:
            return None
        return cls(duration_s=float(np.median(t0)),
                   energy_j=float(np.median(e0)) if len(e0) == len(t0) else None,
                   n_trials=len(t0))


class TrialOverhead(BaseModel):
    """Per-trial framework overhead between trials, as measured on a real study.

    Attributes:
        samples_s: one overhead per trial, s, ascending.
        workers: trials that ran at once (the most overlapping spans).
        median_s, mean_s: of ``samples_s``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    samples_s: list[float]
    workers: int = Field(ge=1)
    median_s: float = Field(ge=0)
    mean_s: float = Field(ge=0)

    @classmethod
    def measure(cls, records: Sequence[TrialRecord]) -> TrialOverhead | None:
        """Measure from the records' ``attrs["t_start"]``/``attrs["t_end"]`` and durations.

        Returns:
            The overheads, or ``None`` when fewer than 2 records carry both timestamps.
        """
        spans = sorted(
            (float(r.attrs["t_start"]), float(r.attrs["t_end"]), r.duration_s)
            for r in records
            if isinstance(r.attrs.get("t_start"), int | float)
            and isinstance(r.attrs.get("t_end"), int | float)
            and r.attrs["t_end"] >= r.attrs["t_start"]
        )
        if len(spans) < 2:
            return None
        workers = _max_overlap([(s, e) for s, e, _ in spans])
        frees: list[float] = []  # end times of the slots' last trials, ascending
        out = []
        for i, (start, end, duration_s) in enumerate(spans):
            inside = max(end - start - duration_s, 0.0)
            if i < workers:
                # A slot's first trial: what came before it (the framework starting that
                # slot) is the gap from the study's first start.
                gap = start - spans[0][0]
            else:
                gap = start - frees.pop(0)
            out.append(max(gap, 0.0) + inside)
            bisect.insort(frees, end)
        # The study's very first trial has no gap before it that the records can show.
        samples = np.sort(np.asarray(out[1:] if len(out) > 1 else out))
        return cls(samples_s=samples.tolist(), workers=workers,
                   median_s=float(np.median(samples)), mean_s=float(samples.mean()))

    def sample(self, n: int, *, rng: RngLike = None) -> np.ndarray:
        """``n`` overheads, s, drawn from the measured ones (with replacement)."""
        gen = as_generator(rng)
        return np.asarray(self.samples_s)[gen.integers(len(self.samples_s), size=n)]


def _max_overlap(spans: list[tuple[float, float]]) -> int:
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    best = cur = 0
    for _, d in events:  # at equal times an end (-1) sorts first: back-to-back is no overlap
        cur += d
        best = max(best, cur)
    return max(best, 1)
