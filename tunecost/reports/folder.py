"""The report folder: one whole report or the previous state, never a mix.

A report is written into a temporary folder beside ``out`` (:func:`staged`), then swapped in
by two renames (:func:`swap_in`). A run that is killed leaves its temporary folder behind;
the next run removes it, or puts the previous report back if the kill fell between the two
renames (:func:`remove_stale`).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

from tunecost.exceptions import ConfigError

__all__ = ["TMP_TAG", "check_out", "is_report", "remove_stale", "staged", "swap_in"]

TMP_TAG = ".tunecost-report-"
"""Temporary folders beside ``out`` are ``.{out.name}.tunecost-report-{tmp|old}-{pid}-{hex}``:
a later run finds those of a process that no longer runs (killed) and removes them."""


def check_out(out: Path) -> Path:
    """``out`` as an absolute path, checked to be a folder a report may replace whole.

    Raises:
        ConfigError: ``out`` is a file, lies under a file, is the current folder or one
            above it, or is a non-empty folder that is not a previous report.
    """
    out = Path(os.path.abspath(out))
    for parent in [out, *out.parents]:
        if parent.exists() or parent.is_symlink():
            if parent == out and out.is_dir():
                break
            if parent == out:
                raise ConfigError(f"--out must be a folder, but {str(out)!r} is a file")
            if not parent.is_dir():
                raise ConfigError(
                    f"--out must be a folder, but {str(out)!r} lies under the file "
                    f"{str(parent)!r}"
                )
            break
    cwd = Path.cwd()
    if out == cwd or out in cwd.parents:
        raise ConfigError(
            f"--out must not be the current folder or one above it (the report replaces the "
            f"folder whole), but got {str(out)!r}"
        )
    if out.is_dir() and any(out.iterdir()) and not is_report(out):
        raise ConfigError(
            f"--out must be a new folder, an empty one or a previous tunecost report (it is "
            f"replaced whole), but {str(out)!r} holds other files"
        )
    return out


def is_report(folder: Path) -> bool:
    """Whether ``folder`` holds a report :func:`tunecost.reports.build_report` wrote (its
    ``report.json``)."""
    try:
        data = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and str(data.get("title", "")).startswith("tunecost report")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def remove_stale(out: Path) -> None:
    """Remove the temporary folders a killed run left beside ``out``."""
    if not out.parent.is_dir():
        return
    prefix = f".{out.name}{TMP_TAG}"
    for p in sorted(out.parent.iterdir()):
        if not p.name.startswith(prefix) or not p.is_dir():
            continue
        parts = p.name[len(prefix):].split("-")
        if len(parts) != 3 or not parts[1].isdigit() or _pid_alive(int(parts[1])):
            continue
        if parts[0] == "old" and not (out.exists() or out.is_symlink()):
            # Killed between its two renames: the previous report goes back where it was.
            os.rename(p, out)
        else:
            shutil.rmtree(p, ignore_errors=True)


def _tmp_name(out: Path, kind: str) -> Path:
    return out.parent / f".{out.name}{TMP_TAG}{kind}-{os.getpid()}-{secrets.token_hex(4)}"


def _make_staging(out: Path) -> Path:
    staging = _tmp_name(out, "tmp")
    try:
        staging.mkdir(parents=True)
    except OSError as exc:
        raise ConfigError(
            f"--out: cannot create a folder beside {str(out)!r}: {exc.strerror or exc}"
        ) from None
    return staging


@contextlib.contextmanager
def staged(out: Path) -> Iterator[Path]:
    """A new temporary folder beside ``out`` to write the report into; swapped in for ``out``
    when the block ends, removed if it raises (``KeyboardInterrupt`` too: nothing
    half-written stays behind)."""
    staging = _make_staging(out)
    try:
        yield staging
        swap_in(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def swap_in(staging: Path, out: Path) -> None:
    """Replace ``out`` by ``staging``: rename the old one away, the new one in, remove the old.

    Each rename is atomic; between the two, ``out`` is briefly absent (never mixed). If the
    second rename fails, the old report is put back; if another run's report took its place
    meanwhile, that one is kept whole and this one is refused.
    """
    old = None
    try:
        if out.exists() or out.is_symlink():
            old = _tmp_name(out, "old")
            os.rename(out, old)
        os.rename(staging, out)
    except OSError as exc:
        if out.exists():  # another run swapped its report in between our two renames
            if old is not None:
                _remove(old)
            raise ConfigError(
                f"--out: another report was written into {str(out)!r} at the same time; it "
                "is kept whole and this one was not written"
            ) from None
        if old is not None:
            os.rename(old, out)
        raise ConfigError(
            f"--out: cannot move the report into {str(out)!r}: {exc.strerror or exc}"
        ) from None
    except BaseException:
        if old is not None and not out.exists():
            os.rename(old, out)
        raise
    if old is not None:
        _remove(old)


def _remove(path: Path) -> None:
    if path.is_symlink():  # --out was a link to a folder: the link goes, not its target
        path.unlink()
    else:
        shutil.rmtree(path, ignore_errors=True)
