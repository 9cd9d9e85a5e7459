"""The search space: its dimensions, the conditions of a conditional space, and drawing from it.

A configuration is held as parameter arrays ``{name: array of shape S}``; a conditional
dimension is NaN (numbers) or ``None`` (categories) where it is inactive, as Optuna's
define-by-run objective never suggested it there. :mod:`tunecost.calibrate.space_inference`
infers a space from measured trials.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tunecost.exceptions import ConfigError

__all__ = [
    "Category",
    "ParamCondition",
    "ParamSpace",
    "active_masks",
    "mask_inactive",
    "sample_space",
    "suggest_space",
]


Category = str | bool | int | float
"""A categorical value as sampled (Optuna's choices may be any of these)."""


def _is_category(v: Any) -> bool:
    return isinstance(v, str | bool)


class ParamCondition(BaseModel):
    """When a dimension of a conditional search space is active.

    Attributes:
        parent: the categorical parameter it hangs under (``classifier``).
        values: the parent's values under which it is sampled (``["SVC"]``); the parent must
            itself be active.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    parent: str
    values: list[Category] = Field(min_length=1)


class ParamSpace(BaseModel):
    """One dimension of a search space.

    Attributes:
        type: ``int``, ``float`` or ``categorical``.
        low, high: bounds (numeric types), inclusive.
        log: sample log-uniformly (needs ``low > 0``).
        step: grid step of an ``int`` dimension from ``low`` (linear scale only).
        choices: the values of a ``categorical`` dimension.
        condition: where the dimension is sampled only under some values of a categorical
            parent (Optuna's define-by-run branches), that condition; ``None``: always.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["int", "float", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    # Integers sampled as int64 (and Optuna's suggest_int) need bounds well inside 2**63.
    step: int | None = Field(default=None, ge=1, le=2**53)
    choices: list[Category] | None = None
    condition: ParamCondition | None = None

    @model_validator(mode="after")
    def _check(self) -> ParamSpace:
        if self.type == "categorical":
            if not self.choices:
                raise ConfigError(f"a categorical dimension needs choices, but got {self.choices}")
            return self
        if self.low is None or self.high is None or not self.low <= self.high:
            raise ConfigError(f"low <= high must hold, but got (low={self.low}, high={self.high})")
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise ConfigError(
                f"low and high must be finite, but got (low={self.low}, high={self.high})")
        if self.log and self.low <= 0:
            raise ConfigError(f"a log dimension needs low > 0, but got low={self.low}")
        if self.type == "int" and max(abs(self.low), abs(self.high)) > 2**53:
            raise ConfigError(f"an int dimension needs |low|, |high| <= 2**53, but got "
                              f"(low={self.low:g}, high={self.high:g})")
        return self

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """Draw values of this dimension, shape ``shape`` (its condition is not applied:
        :func:`sample_space` does that)."""
        if self.type == "categorical":
            assert self.choices is not None
            return np.asarray(self.choices)[rng.integers(len(self.choices), size=shape)]
        assert self.low is not None and self.high is not None
        if self.type == "int" and not self.log:
            step = self.step or 1
            n_grid = int((self.high - self.low) // step) + 1
            return (self.low + step * rng.integers(n_grid, size=shape)).astype(np.int64)
        if self.log:
            x = np.exp(rng.uniform(math.log(self.low), math.log(self.high), size=shape))
        else:
            x = rng.uniform(self.low, self.high, size=shape)
        if self.type == "int":
            return np.clip(np.rint(x), self.low, self.high).astype(np.int64)
        return x


def _shape_of(params: Mapping[str, Any]) -> tuple[int, ...]:
    shapes = [np.shape(v) for v in params.values()]
    return np.broadcast_shapes(*shapes) if shapes else ()


def _present(x: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Where a parameter array holds a value: not NaN (numbers) and not ``None`` (objects)."""
    a = np.asarray(x)
    if a.dtype.kind == "f":
        out = ~np.isnan(a)
    elif a.dtype.kind == "O":
        # None marks an inactive category; a float NaN in an object array too (v != v).
        out = np.asarray(np.not_equal(a, None) & np.equal(a, a), dtype=bool)
    else:
        out = np.ones(a.shape, dtype=bool)
    return np.broadcast_to(out, shape)


def _equals(x: Any, value: Category, shape: tuple[int, ...]) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind in "biuf" and isinstance(value, str):
        return np.zeros(shape, dtype=bool)  # a number is never the string category
    if a.dtype.kind in "US" and not isinstance(value, str):
        return np.zeros(shape, dtype=bool)
    return np.broadcast_to(np.asarray(a == value, dtype=bool), shape)


def active_masks(space: Mapping[str, ParamSpace], params: Mapping[str, Any]
                 ) -> dict[str, np.ndarray]:
    """Where each parameter of ``params`` (and each conditional one of ``space``) is active.

    A value is active where it is present (not NaN/``None``) and, for a conditional
    dimension, its parent is active and takes one of the condition's values (nested branches
    follow their chain). A conditional parameter missing from ``params`` is inactive.

    Args:
        space: the search space with its conditions.
        params: ``{name: array of shape S}``.

    Returns:
        ``{name: bool array of shape S}``.

    Raises:
        ConfigError: conditions that form a cycle.

    Example:
        >>> space = {"clf": ParamSpace(type="categorical", choices=["RF", "SVC"]),
        ...          "c": ParamSpace(type="float", low=0.1, high=10,
        ...                          condition=ParamCondition(parent="clf", values=["SVC"]))}
        >>> active_masks(space, {"clf": np.array(["SVC", "RF"]),
        ...                      "c": np.array([1.0, 2.0])})["c"].tolist()
        [True, False]
    """
    shape = _shape_of(params)
    out: dict[str, np.ndarray] = {}

    def mask(name: str, chain: tuple[str, ...]) -> np.ndarray:
        if name in out:
            return out[name]
        if name in chain:
            raise ConfigError(
                f"search-space conditions must not form a cycle, but got {' -> '.join(chain)}"
                f" -> {name}")
        m = (_present(params[name], shape) if name in params
             else np.zeros(shape, dtype=bool))
        dim = space.get(name)
        if dim is not None and dim.condition is not None:
            cond = dim.condition
            if cond.parent not in params and cond.parent not in space:
                raise ConfigError(
                    f"{name!r} is conditional on {cond.parent!r}, which is not in the space")
            parent_m = mask(cond.parent, (*chain, name))
            hit = np.zeros(shape, dtype=bool)
            for value in cond.values if cond.parent in params else ():
                hit |= _equals(params[cond.parent], value, shape)
            m = m & parent_m & hit
        out[name] = m
        return m

    for name in [*params, *(k for k, d in space.items() if d.condition is not None)]:
        mask(name, ())
    return out


def sample_space(space: Mapping[str, ParamSpace], shape: tuple[int, ...],
                 rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Draw every dimension of ``space``, shape ``shape``, honouring its conditions.

    A conditional dimension is NaN (numbers, then float even for ``int``) or ``None``
    (categories, then an object array) where its condition does not hold: the trial never
    suggested it. Without conditions the draws are exactly :meth:`ParamSpace.sample`'s, in
    the space's order.
    """
    return mask_inactive(space, {name: dim.sample(shape, rng) for name, dim in space.items()})


def mask_inactive(space: Mapping[str, ParamSpace], params: Mapping[str, np.ndarray]
                  ) -> dict[str, np.ndarray]:
    """``params`` with each conditional dimension NaN/``None`` where its condition fails.

    Used by :func:`sample_space` and by whatever edits drawn configurations (PBT's explore
    step), so an inactive child never carries a value.
    """
    out = dict(params)
    if not any(d.condition is not None for d in space.values()):
        return out
    masks = active_masks(space, out)
    for name, dim in space.items():
        if dim.condition is None or name not in out:
            continue
        if dim.type == "categorical":
            x = np.asarray(out[name]).astype(object)
            x[~masks[name]] = None
        else:
            x = np.asarray(out[name]).astype(float)
            x[~masks[name]] = np.nan
        out[name] = x
    return out


def suggest_space(trial: Any, space: Mapping[str, ParamSpace]) -> dict[str, Any]:
    """Ask an Optuna trial (``study.ask()``) for the active dimensions of ``space`` only.

    Define-by-run, in the space's order (a parent before its children), with the same
    distributions as the space's: an Optuna sampler sees exactly the parameters the real
    objective suggested. Returns the suggested values (``trial.params``).
    """
    values: dict[str, Any] = {}
    for name, dim in space.items():
        cond = dim.condition
        if cond is not None and not (cond.parent in values and any(
                values[cond.parent] == v and type(values[cond.parent]) is type(v)
                for v in cond.values)):
            continue
        if dim.type == "categorical":
            values[name] = trial.suggest_categorical(name, list(dim.choices or []))
        elif dim.type == "int":
            values[name] = trial.suggest_int(name, int(dim.low or 0), int(dim.high or 0),
                                             step=1 if dim.log else (dim.step or 1),
                                             log=dim.log)
        else:
            values[name] = trial.suggest_float(name, float(dim.low or 0.0),
                                               float(dim.high or 0.0), log=dim.log)
    return values
