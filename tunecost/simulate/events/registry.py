"""Which policy replays which strategy: the registry the engine dispatches through.

:data:`POLICIES` maps a strategy's key (:func:`policy_key`: its ``kind``, and for a kind with
schedulers ``kind/scheduler``, e.g. ``ray_tune/asha``) to its policy class. Each class
builds itself from the study (:meth:`~tunecost.simulate.events._job.Policy.prepare` once per
run, :meth:`~tunecost.simulate.events._job.Policy.from_study` once per replicate) and
carries its kind's facts (``models_failures``), so the engine holds no list of kinds. A new
policy registers with :func:`register_policy` and is then dispatched to, and checked by the
policy contract tests, without any other change.

Example:
    >>> import tunecost.simulate.events  # registers the built-in policies
    >>> POLICIES["optuna"].__name__, POLICIES["ray_tune/hyperband"].__name__
    ('OptunaPolicy', 'HyperBandPolicy')
    >>> POLICIES["random"].__name__
    'PlanPolicy'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from tunecost.exceptions import ConfigError
from tunecost.simulate._resolve import ResolvedStudy
from tunecost.simulate.events._job import Policy, StudyContext

__all__ = ["POLICIES", "StudyContext", "policy_class", "policy_key", "register_policy",
           "study_context"]

POLICIES: dict[str, type[Policy]] = {}
"""Registry: strategy key (:func:`policy_key`) -> the policy class that replays it."""

P = TypeVar("P", bound=type[Policy])


def register_policy(*keys: str) -> Callable[[P], P]:
    """Class decorator: register the policy class under each of ``keys``.

    Raises:
        TypeError: a key is taken by another class, or the class is not a :class:`Policy`
            that builds itself (``from_study``).
    """

    def deco(cls: P) -> P:
        if not (isinstance(cls, type) and Policy in cls.__mro__):
            raise TypeError(f"{cls!r} must subclass tunecost.simulate.events._job.Policy")
        if cls.from_study.__func__ is Policy.from_study.__func__:  # type: ignore[attr-defined]
            raise TypeError(f"{cls.__name__} must define the classmethod from_study")
        for key in keys:
            other = POLICIES.get(key)
            if other is not None and other is not cls:
                raise TypeError(f"policy key {key!r} is taken by {other.__name__}")
            POLICIES[key] = cls
        return cls

    return deco


def policy_key(strategy: Any) -> str:
    """The registry key of a built strategy: its kind (``strategy.name``), followed by
    ``/`` and its scheduler's name for a kind with schedulers."""
    scheduler = getattr(strategy, "scheduler", None)
    return strategy.name if scheduler is None else f"{strategy.name}/{scheduler.name}"


def policy_class(strategy: Any) -> type[Policy]:
    """The policy class that replays ``strategy``.

    Raises:
        ConfigError: no policy is registered for it.
    """
    key = policy_key(strategy)
    try:
        return POLICIES[key]
    except KeyError:
        raise ConfigError(f"the replay engine has no policy for strategy {key!r}; it replays "
                          f"{', '.join(sorted(POLICIES))}") from None


def study_context(study: ResolvedStudy, continuation: Any = None) -> StudyContext:
    """Look the study's policy class up and prepare it (the expensive, once-per-run part).

    Args:
        continuation: what the study already ran, for a policy that continues it.

    Raises:
        ConfigError: a continuation for a policy that starts every study afresh.
    """
    pc = policy_class(study.strategy)
    if continuation is not None and not pc.continues:
        raise ConfigError(f"study {study.name!r}: {pc.__name__} cannot continue a study from "
                          "its history; only the Optuna replay does")
    return StudyContext(study, pc, pc.prepare(study), float(study.idle_kw @ study.shares),
                        continuation)
