"""Paths written in a config file are relative to that file, not to the working directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, ValidationInfo

__all__ = ["ConfigPath"]


def _relative_to_config(value: Path, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("base_dir")
    if base is not None and not value.is_absolute():
        return Path(base) / value
    return value


ConfigPath = Annotated[Path, AfterValidator(_relative_to_config)]
"""A path field: relative paths resolve against the folder of the config file being loaded
(``load_config`` passes it as the ``base_dir`` validation context)."""
