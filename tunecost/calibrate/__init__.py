"""Calibration: measure real trials, read them from any source, fit cost models.

Everything here works on :class:`~tunecost.calibrate.records.TrialRecord`, the one record
format that measured trials from Optuna, Ray Tune, CodeCarbon and JSON Lines files are read
into.
"""

from __future__ import annotations

from tunecost.calibrate.records import CurvePoint, TrialRecord, read_records, write_records

__all__ = ["CurvePoint", "TrialRecord", "read_records", "write_records"]
