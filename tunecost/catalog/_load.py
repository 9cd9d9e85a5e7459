"""Reads the packaged CSV files (through ``importlib.resources``) into validated rows."""

from __future__ import annotations

import csv
import functools
import io
from importlib import resources
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from tunecost.exceptions import TunecostError

RowT = TypeVar("RowT", bound=BaseModel)


class CatalogDataError(TunecostError):
    """A packaged data file is malformed (a bug in the data, not in the user's input)."""


def read_text(filename: str) -> str:
    """Return the text of a data file shipped in ``tunecost/catalog/data``."""
    return resources.files("tunecost.catalog").joinpath("data", filename).read_text("utf-8")


@functools.cache
def load_rows(filename: str, model: type[RowT]) -> tuple[RowT, ...]:
    """Parse ``filename`` and validate every row into ``model``.

    Empty cells become ``None`` so optional numeric columns may be left blank.
    """
    rows: list[RowT] = []
    reader = csv.DictReader(io.StringIO(read_text(filename)))
    for line_no, raw in enumerate(reader, start=2):
        if None in raw:
            raise CatalogDataError(f"{filename}:{line_no}: more fields than the header has")
        cleaned = {k: (v.strip() if v is not None and v.strip() else None) for k, v in raw.items()}
        try:
            rows.append(model.model_validate(cleaned))
        except ValidationError as exc:
            raise CatalogDataError(f"{filename}:{line_no}: {exc}") from exc
    if not rows:
        raise CatalogDataError(f"{filename}: no rows")
    return tuple(rows)
