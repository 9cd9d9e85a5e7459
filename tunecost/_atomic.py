"""Write files so that a crash never leaves a half-written one behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from tunecost.exceptions import ConfigError

__all__ = ["atomic_open", "check_writable"]


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", **kwargs: object) -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success rename it over ``path``.

    The rename is atomic on POSIX, so readers see the old file or the whole new one. On an
    exception the temporary file is removed and ``path`` is left as it was. The file gets
    the usual permissions (``0o666`` less the umask), not ``mkstemp``'s private ``0o600``.

    Example:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
        >>> with atomic_open(target) as fh:
        ...     _ = fh.write("done")
        >>> target.read_text()
        'done'
    """
    path = check_writable(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write here ({exc.strerror or exc})") from None
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        if "b" not in mode:
            kwargs.setdefault("encoding", "utf-8")
        with os.fdopen(fd, mode, **kwargs) as fh:  # type: ignore[call-overload]
            yield fh
        try:
            os.replace(tmp, path)
        except OSError as exc:  # e.g. a directory was made at ``path`` meanwhile
            raise ConfigError(f"{path}: cannot write here ({exc.strerror or exc})") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_writable(path: str | Path, *, what: str = "output file") -> Path:
    """``path`` as a :class:`~pathlib.Path` if a file can be written there, checked before any
    work: it must not be a directory, and no folder above it may be a file.

    Raises:
        ConfigError: naming the path and why (one line for the CLI).

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> check_writable(folder / "ledger.csv") == folder / "ledger.csv"
        True
        >>> try:
        ...     check_writable(folder)
        ... except ConfigError as exc:
        ...     print(str(exc).endswith("is a directory; the output file must be a file path"))
        True
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path} is a directory; the {what} must be a file path")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(
                    f"{path}: cannot write the {what} under {parent}, which is a file"
                )
            break
    return path
