"""Energy targets: which energy a calibration models, its per-trial values, J, and sources.

The accelerator's energy where every trial has a reading, else the host's (CPU + DRAM); each
record's source (``nvml``, ``rapl``, ``codecarbon``, ``estimated``) labels the fit.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np

from tunecost.calibrate.records import TrialRecord


def _energy_targets(records: Sequence[TrialRecord], notes: list[str]
                    ) -> tuple[Literal["accelerator", "host"] | None, np.ndarray | None]:
    """Which energy the fit models, and its per-trial targets, J (``None``: no energy model).

    The accelerator's where every trial has a reading and most are positive, else the host's
    (CPU + DRAM). A reading of 0 J is below the meter's resolution (the CPU estimate moves in
    0.12 J steps; a short trial may read no step at all): it is fitted at half the smallest
    positive reading, and a note (and a warning) gives the count. Where energy cannot be
    modelled, a note and a warning say why.
    """
    n = len(records)
    why = []
    for scope, get in (("accelerator", lambda r: r.energy_j), ("host", lambda r: r.host_energy_j)):
        vals = [get(r) for r in records]
        have = [v for v in vals if v is not None]
        if not have:
            continue
        if len(have) < n:
            why.append(f"{n - len(have)} of {n} trials have no {scope} energy reading")
            continue
        y = np.asarray(vals, dtype=float)
        positive = y[y > 0]
        if positive.size < max(2, (n + 1) // 2):
            why.append(f"{n - positive.size} of {n} trials read 0 J of {scope} energy")
            continue
        if positive.size < n:
            floor = 0.5 * float(positive.min())
            note = (f"{n - positive.size} of {n} trials read 0 J of {scope} energy (below "
                    f"the meter's resolution); fitted at {floor:.3g} J, half the smallest "
                    "reading")
            notes.append(note)
            warnings.warn(note, stacklevel=3)
            y = np.where(y > 0, y, floor)
        return scope, y  # type: ignore[return-value]
    if why:
        note = ("no energy model: " + "; ".join(why)
                + "; energy will be estimated from the study's power model or the catalog")
        notes.append(note)
        warnings.warn(note, stacklevel=3)
    return None, None


def trial_energy_j(record: TrialRecord, scope: str | None) -> float | None:
    """A record's energy in a calibration's ``scope`` (``accelerator``, ``host``), J;
    ``None``: no reading (or no scope)."""
    if scope == "accelerator":
        return record.energy_j
    if scope == "host":
        return record.host_energy_j
    return None


def _energy_source_label(record: TrialRecord, scope: str | None) -> str:
    """Where a record's fitted energy came from: its source, and CodeCarbon where a CodeCarbon
    row gave it (whose CPU and RAM figures are CodeCarbon's models: ``codecarbon
    (estimated)``)."""
    source = str(record.energy_source if scope != "host" else record.cpu_energy_source)
    if "codecarbon_line" in record.attrs and source != "codecarbon":
        return f"codecarbon ({source})"
    return source


def _energy_estimated(record: TrialRecord, scope: str | None) -> bool:
    source = record.energy_source if scope == "accelerator" else record.cpu_energy_source
    return source == "estimated"
