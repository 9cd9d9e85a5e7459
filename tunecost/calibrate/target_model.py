"""One target's chosen cost model (duration or energy), its CV scores and its residual noise.

The residuals are the chosen form's out-of-fold ``log(measured / predicted)``, one per fitted
trial; sampled costs draw them (a residual bootstrap).
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tunecost.calibrate.cost_models import _form_from_dict

__all__ = ["TargetModel"]


class TargetModel(BaseModel):
    """The chosen cost model of one target (duration or energy) and how it was chosen.

    Attributes:
        form: name of the chosen form (a key of :data:`~tunecost.calibrate.cost_models.FORMS`).
        params: its fitted parameters (``form.to_dict()``), refitted on all trials.
        cv_mdape_pct: cross-validated median absolute % error of every candidate form.
        cv_mape_pct: cross-validated mean absolute % error of every candidate form.
        sigma_log: std of the chosen form's out-of-fold log residuals.
        residuals_log: those residuals, ``log(measured / predicted)``, one per fitted trial:
            sampled costs draw them (a residual bootstrap), so a few slow outliers raise the
            mean by what they measured, not by a lognormal's ``exp(sigma^2 / 2)``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    form: str
    params: dict[str, Any]
    cv_mdape_pct: dict[str, float]
    cv_mape_pct: dict[str, float]
    # A log-residual spread above 10 (x22,000 at one sigma) is no model; a file that says so
    # was edited, and would give inf totals.
    sigma_log: float = Field(ge=0, le=10, allow_inf_nan=False)
    residuals_log: list[Annotated[float, Field(allow_inf_nan=False)]] = Field(
        default_factory=list)

    def log_noise(self, index: np.ndarray | None, z: np.ndarray) -> np.ndarray:
        """Per-trial log noise: the measured out-of-fold residual ``index`` picks (scaled to
        :attr:`sigma_log`, which a sensitivity sweep may change), or ``sigma_log * z``
        without stored residuals (files written before they were stored)."""
        if index is None or not self.residuals_log:
            return self.sigma_log * z
        r = np.asarray(self.residuals_log, dtype=float)
        sd = float(r.std(ddof=1)) if r.size > 1 else 0.0
        return r[index] * (self.sigma_log / sd if sd > 0 else 0.0)

    @model_validator(mode="after")
    def _usable(self) -> TargetModel:
        if self.form not in self.cv_mdape_pct or self.form not in self.cv_mape_pct:
            raise ValueError(f"cv_mdape_pct and cv_mape_pct must include the chosen form "
                             f"{self.form!r}, but got {sorted(self.cv_mdape_pct)}")
        try:
            self.model()
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"params do not fit form {self.form!r} (missing or malformed "
                             f"{exc})") from None
        return self

    def model(self) -> Any:
        """The fitted form object."""
        return _form_from_dict(self.form, self.params)
