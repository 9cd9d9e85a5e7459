"""The event core: FIFO ties, a clock that never runs backwards."""

from __future__ import annotations

import pytest

from tunecost.simulate.events import EventQueue, Timeline
from tunecost.simulate.events._queue import BUSY, WAITING


def test_equal_times_pop_first_in_first_out():
    """Events due at the same time pop in the order they were pushed."""
    q: EventQueue[str] = EventQueue()
    for name in ("a", "b", "c", "d"):
        q.push(5.0, name)
    q.push(1.0, "first")
    q.push(5.0, "e")
    assert [q.pop()[1] for _ in range(len(q))] == ["first", "a", "b", "c", "d", "e"]


def test_clock_advances_to_each_event_and_refuses_the_past():
    """pop moves now_s to the event; pushing before now_s is an error naming both times."""
    q: EventQueue[int] = EventQueue()
    q.push(3.0, 1)
    assert q.peek_s() == 3.0
    assert q.pop() == (3.0, 1)
    assert q.now_s == 3.0 and q.peek_s() == float("inf")
    with pytest.raises(ValueError, match=r"time_s >= now_s.*time_s=2.0, now_s=3.0"):
        q.push(2.0, 2)


def test_timeline_drops_zero_length_intervals_and_records_jobs():
    tl = Timeline()
    tl.interval(0, 1.0, 1.0, WAITING, 0.05, 0, -1)
    tl.job(0, 7, 1.0, 4.0, 0.3, 1.0, False, 0, "trial 7")
    assert tl.state == [BUSY] and tl.start_s == [1.0] and tl.end_s == [4.0]
    assert tl.job_trial == [7]
