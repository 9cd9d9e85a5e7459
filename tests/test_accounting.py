"""Accounting functions: closed forms, broadcasting, and the rules on their inputs."""

from __future__ import annotations

import numpy as np
import pytest

from tunecost import accounting
from tunecost.exceptions import ConfigError


def test_energy_is_strubell_equation_one() -> None:
    # p_t = 1.58 · t · (p_c + p_r + g·p_g) / 1000, with Dodge 2022's Table 1 machine.
    power = accounting.it_power_w(
        187.1, n_accelerators=1, cpu_power_w=22.9 + 9.3, dram_power_w=23.0 + 9.3
    )
    assert power == pytest.approx(251.6)
    assert accounting.energy_kwh(12.0, power, pue=1.58) == pytest.approx(1.58 * 12 * 251.6 / 1000)


def test_functions_broadcast_over_replicates() -> None:
    hours = np.array([[1.0, 2.0], [3.0, 4.0]])
    kwh = accounting.energy_kwh(hours, np.array([100.0, 200.0]), pue=1.5)
    np.testing.assert_allclose(kwh, [[0.15, 0.6], [0.45, 1.2]])
    co2 = accounting.co2e_kg(kwh, 400.0)
    np.testing.assert_allclose(co2, kwh * 0.4)
    assert co2.shape == (2, 2)


def test_pounds_round_trip_and_epa_factor() -> None:
    assert accounting.kg_to_lbs(accounting.lbs_to_kg(0.954)) == pytest.approx(0.954, rel=1e-15)
    assert accounting.kg_to_lbs(1.0) == pytest.approx(2.2046226218)
    np.testing.assert_allclose(accounting.kg_to_lbs(np.array([1.0, 2.0])), [2.2046226, 4.4092452])


def test_cloud_cost_range_in_one_call() -> None:
    cost = accounting.cloud_cost_usd(8 * 12, np.array([0.43, 1.46]))
    np.testing.assert_allclose(cost, [41.28, 140.16])


def test_electricity_cost() -> None:
    assert accounting.electricity_cost_usd(82_250.0, 0.12) == pytest.approx(9870.0)


def test_embodied_share_spreads_over_lifetime() -> None:
    # One H100 (14.65 kg in LLMCarbon) used for a whole 5-year life carries all of it.
    assert accounting.embodied_co2e_kg(5 * 8760, 14.65) == pytest.approx(14.65)
    assert accounting.embodied_co2e_kg(876, 10.0, lifetime_years=1) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: accounting.energy_kwh(-1.0, 100.0), "hours"),
        (lambda: accounting.energy_kwh(np.array([1.0, -2.0]), 100.0), "hours"),
        (lambda: accounting.energy_kwh(1.0, 100.0, pue=0.9), "pue"),
        (lambda: accounting.energy_kwh(float("nan"), 100.0), "hours"),
        (lambda: accounting.co2e_kg(1.0, -5.0), "g_co2e_per_kwh"),
        (lambda: accounting.cloud_cost_usd(-3.0, 1.0), "accelerator_hours"),
        (lambda: accounting.it_power_w(-1.0), "accelerator_power_w"),
    ],
)
def test_bad_inputs_name_the_argument_and_value(call, name: str) -> None:
    with pytest.raises(ConfigError, match=rf"`{name} >= .*` must hold, but got {name}="):
        call()
