"""Registries of config classes, and the pydantic discriminated unions derived from them.

Each extension point (strategies, duration models, power models) has one registry: a dict
from the discriminator value a user writes (``kind: grid``, ``dist: lognormal``) to the
pydantic config class that handles it. The union pydantic validates against is built from
the registry, so registering a class is the one step that adds a kind; the key is read from
the class's own ``Literal`` discriminator field, so it cannot disagree with the class.

Example:
    >>> from typing import Literal
    >>> from pydantic import BaseModel, TypeAdapter
    >>> class A(BaseModel):
    ...     kind: Literal["a"] = "a"
    >>> class B(BaseModel):
    ...     kind: Literal["b"] = "b"
    ...     x: int = 0
    >>> reg = registry("kind", A, B)
    >>> sorted(reg)
    ['a', 'b']
    >>> TypeAdapter(discriminated_union(reg, "kind")).validate_python({"kind": "b", "x": 2})
    B(kind='b', x=2)
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar, Union

from pydantic import BaseModel, Field

__all__ = ["discriminated_union", "discriminator_value", "registry"]

M = TypeVar("M", bound=type[BaseModel])


def discriminator_value(cls: type[BaseModel], key: str) -> str:
    """The one value ``cls``'s discriminator field ``key`` accepts (its ``Literal``)."""
    field = cls.model_fields.get(key)
    if field is None:
        raise TypeError(f"{cls.__name__} has no discriminator field {key!r}")
    args = typing.get_args(field.annotation)
    if typing.get_origin(field.annotation) is not Literal or len(args) != 1:
        raise TypeError(
            f"{cls.__name__}.{key} must be a Literal of one string, got {field.annotation!r}"
        )
    if field.default != args[0]:
        raise TypeError(
            f"{cls.__name__}.{key} must default to its Literal {args[0]!r}, got {field.default!r}"
        )
    return str(args[0])


def registry(key: str, *classes: M) -> dict[str, M]:
    """``{discriminator value: class}`` for ``classes``, in the order given.

    Raises:
        TypeError: a class lacks a one-value ``Literal`` field ``key``, or two classes claim
            the same value.
    """
    out: dict[str, M] = {}
    for cls in classes:
        value = discriminator_value(cls, key)
        if value in out:
            raise TypeError(
                f"{key}={value!r} is registered twice: {out[value].__name__} and {cls.__name__}"
            )
        out[value] = cls
    return out


def discriminated_union(reg: Mapping[str, type[BaseModel]], key: str) -> Any:
    """``Annotated[Union[*reg.values()], Field(discriminator=key)]``, for a pydantic field
    or a ``TypeAdapter``."""
    if not reg:
        raise TypeError("an empty registry has no union")
    return Annotated[Union[tuple(reg.values())], Field(discriminator=key)]  # noqa: UP007
