"""The contract every registered power model keeps, parametrised over the registry.

``MINIMAL`` holds the smallest valid config of each ``kind``; the tests run over
``POWER_CONFIGS`` itself, so registering a kind without a minimal config here fails.
"""

from __future__ import annotations

import math
import typing
from typing import Any

import pytest
from pydantic import TypeAdapter

from tunecost import catalog
from tunecost.exceptions import ConfigError
from tunecost.power import POWER_CONFIGS, PowerConfig, ResolvedPower

ADAPTER: TypeAdapter[Any] = TypeAdapter(PowerConfig)

MINIMAL: dict[str, dict[str, Any]] = {
    "constant": {"accelerator_w": 250.0},
    "tdp_fraction": {"utilization": 0.6},
    "idle_tdp": {"utilization": 0.6},
}
"""The smallest valid config of each registered ``kind`` (besides ``kind``)."""

WITH_IDLE = catalog.accelerator("h200")  # the catalog's measured idle figure
WITHOUT_IDLE = catalog.accelerator("v100")  # no idle figure in the catalog


@pytest.fixture(params=sorted(POWER_CONFIGS))
def kind(request: pytest.FixtureRequest) -> str:
    name = str(request.param)
    assert name in MINIMAL, f"registered power kind {name!r} has no minimal config in MINIMAL"
    return name


def _config(kind: str, **extra: Any) -> Any:
    return ADAPTER.validate_python({"kind": kind, **MINIMAL[kind], **extra})


def test_union_is_derived_from_the_registry() -> None:
    union = typing.get_args(PowerConfig)[0]
    assert typing.get_args(union) == tuple(POWER_CONFIGS.values())
    for kind, cls in POWER_CONFIGS.items():
        assert cls.model_fields["kind"].default == kind
    assert set(MINIMAL) <= set(POWER_CONFIGS)


def test_resolve_gives_finite_watts(kind: str) -> None:
    cfg = _config(kind)
    assert type(cfg) is POWER_CONFIGS[kind]
    p = cfg.resolve(WITH_IDLE)
    assert isinstance(p, ResolvedPower)
    assert 0 < p.busy_w < math.inf
    assert p.idle_w == WITH_IDLE.idle_w
    assert isinstance(p.how, str) and p.how
    assert cfg.resolve(WITH_IDLE) == p  # deterministic


def test_configured_idle_wins(kind: str) -> None:
    p = _config(kind, idle_w=42.0).resolve(WITHOUT_IDLE)
    assert p.idle_w == 42.0 and 0 < p.busy_w < math.inf


def test_missing_idle_is_none_or_a_clear_error(kind: str) -> None:
    try:
        p = _config(kind).resolve(WITHOUT_IDLE)
    except ConfigError as exc:  # a kind that needs the idle figure says which field to set
        assert "idle_w" in str(exc)
    else:
        assert p.idle_w is None and 0 < p.busy_w < math.inf


def test_config_round_trips_and_is_frozen(kind: str) -> None:
    cfg = _config(kind)
    assert ADAPTER.validate_python(cfg.model_dump()) == cfg
    with pytest.raises(Exception, match="frozen"):
        cfg.idle_w = 1.0


def test_unknown_key_rejected(kind: str) -> None:
    with pytest.raises(Exception, match="not_a_field"):
        ADAPTER.validate_python({"kind": kind, **MINIMAL[kind], "not_a_field": 1})
