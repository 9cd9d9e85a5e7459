"""The process CPU time that the CPU energy estimate multiplies by watts per core."""

from __future__ import annotations

import os

__all__ = ["process_cpu_s"]


def process_cpu_s() -> float:
    """CPU time (user + system) of this process and its waited-for children so far, s.

    Children count only once they have exited and been waited for (``os.times`` semantics), so
    long-lived worker processes (e.g. data-loader workers) are missed until they end.
    """
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system
