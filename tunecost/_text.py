"""Reading a text file a user handed us: one line naming the file and what is wrong.

Configs, records, calibrations, carbon series and CodeCarbon CSVs all go through
:func:`read_user_text`, so a directory, a missing file, a permission problem or bytes that are
not UTF-8 read the same way everywhere.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "x.csv"
>>> _ = p.write_bytes(b"a,b\\ncaf\\xe9,1\\n")
>>> read_user_text(p, what="a carbon series")
Traceback (most recent call last):
...
tunecost.exceptions.ConfigError: ...x.csv, line 2: a carbon series must be UTF-8 text, ...
"""

from __future__ import annotations

from pathlib import Path

from tunecost.exceptions import ConfigError

__all__ = ["read_user_text"]


def read_user_text(path: str | Path, *, what: str) -> str:
    """The file's text (UTF-8; a byte-order mark is dropped).

    Args:
        path: the file.
        what: what the file should be, for the message (``"a calibration"``).

    Raises:
        ConfigError: the path is a directory, missing or unreadable, or not UTF-8 (with the
            line and the byte).
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: {what} must be a file, but this is a directory")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file ({what})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}, line {line}: {what} must be UTF-8 text, but byte {exc.start} is "
            f"{raw[exc.start:exc.start + 1]!r}"
        ) from None
