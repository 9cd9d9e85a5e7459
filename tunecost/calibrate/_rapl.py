"""Intel RAPL energy counters through the Linux powercap sysfs tree.

Layout read (``root`` defaults to ``/sys/class/powercap``)::

    intel-rapl:0/name                 "package-0"
    intel-rapl:0/energy_uj            counter, µJ, wraps at max_energy_range_uj
    intel-rapl:0/max_energy_range_uj
    intel-rapl:0/intel-rapl:0:0/name  "dram" (other subzones: "core", "uncore": skipped,
                                      they are already inside the package figure)

The counters cover the whole package, every process on it, not only this one. Since Linux
5.10 ``energy_uj`` is readable by root only on most distributions; an unreadable counter
makes :func:`open_rapl` return ``None`` and the caller estimates instead.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT_RAPL_ROOT", "RaplSession", "open_rapl"]

DEFAULT_RAPL_ROOT = Path("/sys/class/powercap")

_PACKAGE_DIR = re.compile(r"intel-rapl:\d+")
_SUBZONE_DIR = re.compile(r"intel-rapl:\d+:\d+")


@dataclass
class _Zone:
    path: Path
    kind: str  # "package" or "dram"
    max_range_uj: int
    last_uj: int
    total_uj: int = 0

    def read_uj(self) -> int:
        return int((self.path / "energy_uj").read_text().strip())

    def advance(self, now_uj: int) -> None:
        delta = now_uj - self.last_uj
        if delta < 0:
            # The counter wrapped. Only one wrap is recoverable between two reads, so the
            # caller polls far more often than the fastest wrap (minutes at full power).
            delta += self.max_range_uj
        self.total_uj += delta
        self.last_uj = now_uj


class RaplSession:
    """Energy accumulated by the RAPL zones since :func:`open_rapl`.

    :meth:`poll` may be called from a sampler thread while the owner reads the totals.
    """

    def __init__(self, zones: list[_Zone]) -> None:
        self._zones = zones
        self._lock = threading.Lock()

    @property
    def has_dram(self) -> bool:
        """Whether a DRAM zone is readable."""
        return any(z.kind == "dram" for z in self._zones)

    def poll(self) -> None:
        """Read every counter once and add what it advanced, wrap-around included.

        Raises:
            OSError, ValueError: a counter could not be read or parsed; totals are unchanged
                for that zone.
        """
        with self._lock:
            for zone in self._zones:
                zone.advance(zone.read_uj())

    def totals_j(self) -> tuple[float, float | None]:
        """(package energy summed over packages, DRAM energy or ``None``) so far, J."""
        with self._lock:
            cpu_uj = sum(z.total_uj for z in self._zones if z.kind == "package")
            dram = [z.total_uj for z in self._zones if z.kind == "dram"]
        return cpu_uj / 1e6, (sum(dram) / 1e6 if dram else None)


def _open_zone(path: Path, kind: str) -> _Zone:
    max_range_uj = int((path / "max_energy_range_uj").read_text().strip())
    now = int((path / "energy_uj").read_text().strip())
    return _Zone(path=path, kind=kind, max_range_uj=max_range_uj, last_uj=now)


def _name(path: Path) -> str | None:
    try:
        return (path / "name").read_text().strip()
    except OSError:
        return None


def open_rapl(root: Path = DEFAULT_RAPL_ROOT) -> RaplSession | None:
    """Start accumulating every readable package and DRAM zone under ``root``.

    Returns:
        The session, or ``None`` where there is no package zone or a package counter cannot
        be read (absent, permission denied, not a number). An unreadable DRAM zone only drops
        DRAM.
    """
    try:
        entries = sorted(p for p in root.iterdir() if _PACKAGE_DIR.fullmatch(p.name))
    except OSError:
        return None
    zones: list[_Zone] = []
    for pkg in entries:
        if not (_name(pkg) or "").startswith("package"):
            continue  # e.g. "psys", the platform zone, which overlaps the packages
        try:
            zones.append(_open_zone(pkg, "package"))
        except (OSError, ValueError):
            return None
        try:
            subzones = sorted(p for p in pkg.iterdir() if _SUBZONE_DIR.fullmatch(p.name))
        except OSError:
            subzones = []
        for sub in subzones:
            if _name(sub) == "dram":
                try:
                    zones.append(_open_zone(sub, "dram"))
                except (OSError, ValueError):
                    pass
    if not zones:
        return None
    return RaplSession(zones)
