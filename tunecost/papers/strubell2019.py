"""Strubell, Ganesh & McCallum (ACL 2019): Tables 1, 3 and 4, computed from their inputs.

Inputs are the paper's own: measured machine power (Table 3's "Power (W)", the total of CPU,
DRAM and all GPUs), training hours and chip counts from §2.1, the 2019 GCP per-chip prices of
footnote 7, PUE 1.58 (Uptime 2018) and the EPA factor 0.954 lb/kWh (Eqs. 1 and 2). Prices,
PUE, intensity and electricity price come from :mod:`tunecost.catalog`, where each row cites
its source. Every place where the printed tables disagree with their own inputs is handled in
the open, with a note on the row (see ``shared/reference/papers.md``, "quirks").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tunecost import accounting, catalog
from tunecost.exceptions import TunecostError
from tunecost.papers._table import TextTable, money
from tunecost.units import KG_PER_LB

__all__ = ["Strubell2019", "derive_lisa_power_w", "reproduce"]

NAS_TOTAL_STEPS = 979_000_000
"""So et al. 2019's Evolved Transformer search: 979M training steps in total (§2.1)."""

T2T_BIG_H_PER_STEP = 84.0 / 300_000
"""Transformer big on 8 P100: 300k steps in 3.5 days = 84 h (§2.1)."""

TPU_V2_H_PER_STEP = 10.0 / 300_000
"""Transformer base on one TPU v2: 10 h per 300k steps (§2.1)."""

LISA_GPU_HOURS = 239_942.0
"""Sum of GPU time over the LISA project's 4,789 jobs (Table 4)."""

LISA_JOBS = 4789
ONE_MODEL_GPU_HOURS = 120.0
"""Table 4, one model."""
ONE_TUNE_MODELS = 24
"""Table 4: jobs to tune a model for a new dataset (§4.2)."""


@dataclass(frozen=True, slots=True)
class _Table3Input:
    model: str
    accelerator: str  # catalog name
    hardware: str  # as printed, e.g. "P100x8"
    n_chips: int
    power_w: float | None  # Table 3's machine total; None for TPUs (not public in 2019)
    hours: float
    hours_printed: float
    price_instance: str  # catalog cloud_price instance, 2019 GCP per-chip
    note: str


_TABLE3_INPUTS: tuple[_Table3Input, ...] = (
    _Table3Input(
        "T2T_base",
        "p100-sxm2",
        "P100x8",
        8,
        1415.78,
        12.0,
        12,
        "p100-2019",
        "Transformer base, 65M params, 8×P100 for 12 h",
    ),
    _Table3Input(
        "T2T_big",
        "p100-sxm2",
        "P100x8",
        8,
        1515.43,
        84.0,
        84,
        "p100-2019",
        "Transformer big, 213M params, 300k steps in 3.5 days = 84 h",
    ),
    _Table3Input(
        "ELMo",
        "p100-sxm2",
        "P100x3",
        3,
        517.66,
        336.0,
        336,
        "p100-2019",
        "ELMo, 3 GPUs for 2 weeks = 336 h (measured on GTX 1080 Ti, priced as P100)",
    ),
    _Table3Input(
        "BERT_base",
        "v100-sxm2",
        "V100x64",
        64,
        12041.51,
        79.2,
        79,
        "v100-2019",
        "uses t = 79.2 h (3.3 days on 4 DGX-2H, §2.1); the table prints 79, "
        "which would give 1503 kWh, not the printed 1507",
    ),
    _Table3Input(
        "BERT_base",
        "tpu-v2",
        "TPUv2x16",
        16,
        None,
        96.0,
        96,
        "tpu-v2-2019",
        "16 TPU v2 chips for 4 days; pre-emptible rate $1.35/chip-h is what the table "
        "implies (footnote 7 prints $1.46)",
    ),
    _Table3Input(
        "NAS",
        "p100-sxm2",
        "P100x8",
        8,
        1515.43,
        NAS_TOTAL_STEPS * T2T_BIG_H_PER_STEP,
        274_120,
        "p100-2019",
        "979M steps at Transformer-big speed on 8 P100 (84 h / 300k steps) = 274,120 h",
    ),
    _Table3Input(
        "NAS",
        "tpu-v2",
        "TPUv2x1",
        1,
        None,
        NAS_TOTAL_STEPS * TPU_V2_H_PER_STEP,
        32_623,
        "tpu-v2-2019",
        "979M steps at 10 h / 300k steps on one TPU v2 = 32,633.3 h; the table prints "
        "32,623 (a typo: its own costs, and Patterson App. D, use 32,633); "
        "on-demand $146,850 vs printed $146,848",
    ),
    _Table3Input(
        "GPT-2",
        "tpu-v3",
        "TPUv3x32",
        32,
        None,
        168.0,
        168,
        "tpu-v3-2019",
        "GPT-2 large, 1542M params, 1 week on 32 TPU v3 chips",
    ),
)

# Figures printed in the paper that depend on the unpublished per-GPU power of the LISA
# project: (GPU-hours, printed value, what it is). Each pins that power to an interval.
_LISA_PRINTED: tuple[tuple[float, float, str], ...] = (
    (ONE_MODEL_GPU_HOURS, 39.0, "co2e_lbs"),  # Table 1, NLP pipeline
    (LISA_GPU_HOURS, 78_468.0, "co2e_lbs"),  # Table 1, w/ tuning & experimentation
    (ONE_MODEL_GPU_HOURS, 5.0, "electricity_usd"),  # Table 4
    (ONE_TUNE_MODELS * ONE_MODEL_GPU_HOURS, 118.0, "electricity_usd"),
    (LISA_GPU_HOURS, 9870.0, "electricity_usd"),
)


@dataclass(frozen=True, slots=True)
class _Constants:
    pue: float
    lbs_per_kwh: float
    g_co2e_per_kwh: float
    usd_per_kwh: float


def _constants() -> _Constants:
    g_per_kwh = catalog.grid_intensity("us-epa-2018").g_co2e_per_kwh
    return _Constants(
        pue=catalog.pue("uptime-2018").pue,
        lbs_per_kwh=g_per_kwh / 1000.0 / KG_PER_LB,
        g_co2e_per_kwh=g_per_kwh,
        usd_per_kwh=catalog.electricity_price("us-2019-strubell").usd_per_kwh,
    )


def _rates(instance: str) -> np.ndarray:
    low = catalog.cloud_price(instance, pricing="preemptible", provider="gcp")
    high = catalog.cloud_price(instance, pricing="on_demand", provider="gcp")
    return np.array([low.usd_per_accelerator_hour, high.usd_per_accelerator_hour])


def derive_lisa_power_w() -> tuple[float, float, float]:
    """Per-GPU power (incl. CPU and DRAM share, before PUE) behind Tables 1 and 4, W.

    The paper does not print the power it used for the LISA project. Each of its five figures
    that depend on it (39 and 78,468 lbs in Table 1; $5, $118 and $9,870 in Table 4) pins the
    power to an interval, ``(printed ± 0.5) / (GPU-hours × PUE / 1000 × factor)``. The
    intervals overlap in about 216.960–216.962 W; the midpoint reproduces all five.

    Returns:
        ``(power_w, low_w, high_w)``: the midpoint and the interval's ends.
    """
    k = _constants()
    lows, highs = [], []
    for gpu_hours, printed, kind in _LISA_PRINTED:
        per_watt = (
            gpu_hours * k.pue / 1000.0 * (k.lbs_per_kwh if kind == "co2e_lbs" else k.usd_per_kwh)
        )
        lows.append((printed - 0.5) / per_watt)
        highs.append((printed + 0.5) / per_watt)
    low, high = max(lows), min(highs)
    if low > high:
        raise TunecostError("the printed LISA figures admit no common per-GPU power")
    return (low + high) / 2.0, low, high


@dataclass(frozen=True, slots=True)
class Strubell2019:
    """The computed tables. Rows are dicts of unrounded numbers (see :meth:`to_dict`)."""

    table1: list[dict[str, Any]]
    table3: list[dict[str, Any]]
    table4: list[dict[str, Any]]
    lisa_power_w: tuple[float, float, float]
    constants: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"table1": [...], "table3": [...], "table4": [...], ...}``."""
        return {
            "table1": self.table1,
            "table3": self.table3,
            "table4": self.table4,
            "inputs": {
                **self.constants,
                "lisa_power_w_per_gpu": self.lisa_power_w[0],
                "lisa_power_w_interval": list(self.lisa_power_w[1:]),
            },
        }

    def tables(self) -> list[TextTable]:
        """Tables 1, 3 and 4 as the paper prints them, with the input behind each row."""
        k = self.constants
        t1 = TextTable(
            "Table 1: estimated CO2 emissions (lbs)",
            ("Consumption", "CO2e (lbs)", "how"),
            tuple((r["consumption"], f"{r['co2e_lbs']:,.0f}", r["note"]) for r in self.table1),
            (
                "The four everyday rows of Table 1 (air travel 1,984; human life 11,023; American "
                "life 36,156; car lifetime 126,000) are quoted figures, not computed.",
            ),
        )
        t3_rows = []
        for r in self.table3:
            t3_rows.append(
                (
                    r["model"],
                    r["hardware"],
                    "—" if r["power_w"] is None else f"{r['power_w']:,.2f}",
                    f"{r['hours']:,.0f}"
                    if r["hours"] == r["hours_printed"]
                    else f"{r['hours_printed']:,.0f} (uses {r['hours']:,.1f})",
                    "—" if r["kwh_pue"] is None else f"{r['kwh_pue']:,.0f}",
                    "—" if r["co2e_lbs"] is None else f"{r['co2e_lbs']:,.0f}",
                    f"{money(r['cloud_cost_usd'][0])}–{money(r['cloud_cost_usd'][1])}",
                )
            )
        t3 = TextTable(
            "Table 3: estimated cost of training a model",
            (
                "Model",
                "Hardware",
                "Power (W)",
                "Hours",
                "kWh·PUE",
                "CO2e (lbs)",
                "Cloud compute cost",
            ),
            tuple(t3_rows),
            tuple(f"{r['model']} {r['hardware']}: {r['note']}" for r in self.table3)
            + (
                f"kWh·PUE = {k['pue']} × hours × W / 1000 (Eq. 1); CO2e = "
                f"{k['lbs_per_kwh']:.4f} lb/kWh × kWh (Eq. 2, EPA 2018); cost = chips × hours × "
                "2019 GCP pre-emptible / on-demand rate per chip-hour.",
            ),
        )
        p, lo, hi = self.lisa_power_w
        t4 = TextTable(
            "Table 4: estimated cost in terms of cloud compute and electricity",
            ("Models", "Hours", "Cloud compute (USD)", "Electricity (USD)"),
            tuple(
                (
                    f"{r['models']:,}",
                    f"{r['gpu_hours']:,.0f}",
                    _cost_range(r["cloud_cost_usd"]),
                    money(r["electricity_usd"]),
                )
                for r in self.table4
            ),
            (
                f"Cloud cost at P100 prices (footnote 8): GPU-hours × ${k['p100_usd_low']:.2f} / "
                f"${k['p100_usd_high']:.2f}.",
                f"Electricity = GPU-hours × {p:.3f} W × {k['pue']} PUE / 1000 × "
                f"${k['usd_per_kwh']:.2f}/kWh. The paper does not print the per-GPU power; "
                "the five figures that depend on it (39 and 78,468 lbs; $5, $118, $9,870) "
                f"pin it to {lo:.4f}–{hi:.4f} W, and the midpoint is used.",
                f"Average job: 239,942 h / 4,789 jobs = {LISA_GPU_HOURS / LISA_JOBS:.1f} h, "
                "against the 52 h stated in §4.2 (the gap is in the paper).",
            ),
        )
        return [t1, t3, t4]


def _cost_range(usd: list[float]) -> str:
    if usd[0] >= 100_000:
        return f"${usd[0] / 1000:,.0f}k–${usd[1] / 1000:,.0f}k"
    return f"{money(usd[0])}–{money(usd[1])}"


def reproduce() -> Strubell2019:
    """Compute Strubell et al. 2019's Tables 1, 3 and 4 from the paper's inputs."""
    k = _constants()
    table3: list[dict[str, Any]] = []
    for row in _TABLE3_INPUTS:
        kwh = (
            None
            if row.power_w is None
            else float(accounting.energy_kwh(row.hours, row.power_w, pue=k.pue))
        )
        lbs = None if kwh is None else float(accounting.co2e_lbs(kwh, k.g_co2e_per_kwh))
        cost = accounting.cloud_cost_usd(row.n_chips * row.hours, _rates(row.price_instance))
        table3.append(
            {
                "model": row.model,
                "hardware": row.hardware,
                "power_w": row.power_w,
                "hours": row.hours,
                "hours_printed": row.hours_printed,
                "kwh_pue": kwh,
                "co2e_lbs": lbs,
                "cloud_cost_usd": [float(c) for c in cost],
                "accelerator": row.accelerator,
                "n_chips": row.n_chips,
                "per_chip_power_w": None if row.power_w is None else row.power_w / row.n_chips,
                "note": row.note,
            }
        )

    power_w = derive_lisa_power_w()
    p100 = _rates("p100-2019")
    table4 = []
    for models, gpu_hours in (
        (1, ONE_MODEL_GPU_HOURS),
        (ONE_TUNE_MODELS, ONE_TUNE_MODELS * ONE_MODEL_GPU_HOURS),
        (LISA_JOBS, LISA_GPU_HOURS),
    ):
        kwh = float(accounting.energy_kwh(gpu_hours, power_w[0], pue=k.pue))
        table4.append(
            {
                "models": models,
                "gpu_hours": gpu_hours,
                "cloud_cost_usd": [float(c) for c in accounting.cloud_cost_usd(gpu_hours, p100)],
                "electricity_usd": float(accounting.electricity_cost_usd(kwh, k.usd_per_kwh)),
                "energy_kwh": kwh,
                "co2e_lbs": float(accounting.co2e_lbs(kwh, k.g_co2e_per_kwh)),
            }
        )

    def t3(model: str, hardware: str) -> dict[str, Any]:
        return next(r for r in table3 if r["model"] == model and r["hardware"] == hardware)

    table1 = [
        {
            "consumption": "NLP pipeline (parsing, SRL)",
            "co2e_lbs": table4[0]["co2e_lbs"],
            "note": f"Table 4 single model: 120 GPU-h at {power_w[0]:.2f} W/GPU",
        },
        {
            "consumption": "w/ tuning & experimentation",
            "co2e_lbs": table4[2]["co2e_lbs"],
            "note": "Table 4 all R&D: 239,942 GPU-h (4,789 jobs)",
        },
        {
            "consumption": "Transformer (big)",
            "co2e_lbs": t3("T2T_big", "P100x8")["co2e_lbs"],
            "note": "Table 3 T2T_big",
        },
        {
            "consumption": "w/ neural architecture search",
            "co2e_lbs": t3("NAS", "P100x8")["co2e_lbs"],
            "note": "Table 3 NAS on P100x8",
        },
    ]
    constants = {
        "pue": k.pue,
        "lbs_per_kwh": k.lbs_per_kwh,
        "g_co2e_per_kwh": k.g_co2e_per_kwh,
        "usd_per_kwh": k.usd_per_kwh,
        "p100_usd_low": float(p100[0]),
        "p100_usd_high": float(p100[1]),
    }
    return Strubell2019(table1, table3, table4, power_w, constants)
