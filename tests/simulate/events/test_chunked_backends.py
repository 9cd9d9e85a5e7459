"""Replay replicates in chunks on a backend: the same bits for any chunking on any backend.

Replicate r draws from the root's r-th child whatever chunk it falls in, and each chunk
depends only on the shared state (the resolved campaign and the prepared surrogates) and its
seeds, so local, chunked local, Ray and worker processes give the same arrays, ledger and
timeline.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from tunecost.config import CampaignConfig
from tunecost.exceptions import ConfigError
from tunecost.simulate import simulate
from tunecost.simulate.events import engine as engine_mod

STUDY = Path(__file__).resolve().parents[3] / "studies" / "h200_transformer_lm"


def _campaign() -> CampaignConfig:
    """Three studies: TPE + MedianPruner on the H200 calibration (its curve model), sync
    HyperBand under Ray's scheduler, successive halving with crashes and preemption."""
    lognormal = {"duration": {"dist": "lognormal", "median_h": 1.0, "sigma": 0.7},
                 "hardware": {"accelerator": "h200"},
                 "power": {"kind": "constant", "accelerator_w": 500.0, "idle_w": 80.0}}
    return CampaignConfig.model_validate({
        "name": "chunks", "workers": 3, "pue": 1.1, "carbon": {"g_co2e_per_kwh": 400},
        "pricing": {"usd_per_accelerator_hour": 3.0}, "electricity": {"usd_per_kwh": 0.12},
        "studies": [
            {"name": "tpe", "hardware": {"accelerator": "h200"},
             "calibration": {"path": str(STUDY / "calib_small.json")},
             "strategy": {"kind": "optuna", "n_trials": 10, "n_evaluations": 4,
                          "sampler": {"name": "TPESampler", "kwargs": {"n_startup_trials": 4}},
                          "pruner": {"name": "MedianPruner",
                                     "kwargs": {"n_startup_trials": 2}}}},
            {"name": "hb", "count": 2, **lognormal,
             "strategy": {"kind": "ray_tune", "n_trials": 9, "n_evaluations": 9,
                          "scheduler": {"name": "hyperband", "reduction_factor": 3}}},
            {"name": "sh", **lognormal,
             "strategy": {"kind": "successive_halving", "n_trials": 9, "min_fidelity": 1 / 9,
                          "eta": 3},
             "failures": {"crash_probability": 0.2,
                          "crash_duration": {"dist": "fixed", "duration_h": 0.1}},
             "preemption": {"hazard_per_h": 0.3, "checkpoint_interval_h": 0.25}},
        ]})


class _Reversed:
    """Computes the chunks last to first, yields them in order."""

    name: ClassVar[str] = "reversed"

    def map_chunks(self, fn: Callable, shared: Any, args: Iterable[Any]) -> Iterator[Any]:
        results = [fn(shared, a) for a in reversed(list(args))]
        yield from reversed(results)


class _Pool:
    """Fresh worker processes (``spawn``: nothing inherited from this one): the shared state
    and the chunk function travel by pickle, as they do to any process backend."""

    name: ClassVar[str] = "pool"

    def map_chunks(self, fn: Callable, shared: Any, args: Iterable[Any]) -> Iterator[Any]:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        args = list(args)
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as ex:
            yield from ex.map(fn, [shared] * len(args), args)


def _run(tmp_path: Path, tag: str, **kwargs: Any) -> tuple[Any, bytes, bytes]:
    ledger, timeline = tmp_path / f"{tag}.csv", tmp_path / f"{tag}_tl.csv"
    r = simulate(_campaign(), engine="replay", replicates=5, seed=11, ledger=ledger,
                 timeline=timeline, **kwargs)
    return r, ledger.read_bytes(), timeline.read_bytes()


def _same(a: tuple[Any, bytes, bytes], b: tuple[Any, bytes, bytes]) -> None:
    ra, rb = a[0], b[0]
    assert set(ra.metrics) == set(rb.metrics)
    for k, v in ra.metrics.items():
        assert np.array_equal(rb.metrics[k], v, equal_nan=True), k
    for sa, sb in zip(ra.studies, rb.studies, strict=True):
        for k, v in sa.metrics.items():
            assert np.array_equal(sb.metrics[k], v, equal_nan=True), (sa.name, k)
    assert np.array_equal(ra.tuning_multiplier, rb.tuning_multiplier)
    assert ra.summary() == rb.summary()
    assert a[1] == b[1] and a[2] == b[2]  # replicate 0's ledger and timeline


@pytest.fixture(scope="module")
def in_process(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, bytes, bytes]:
    """One chunk of every replicate, in this process."""
    return _run(tmp_path_factory.mktemp("local"), "one", backend="local", chunk_size=5)


def test_chunked_and_out_of_order_runs_give_the_same_bits(in_process, tmp_path):
    done: list[tuple[int, int]] = []
    chunked = _run(tmp_path, "c", backend="local", chunk_size=2,
                   progress=lambda d, t: done.append((d, t)))
    _same(in_process, chunked)
    assert done == [(2, 5), (4, 5), (5, 5)]  # progress after each chunk
    _same(in_process, _run(tmp_path, "rev", backend=_Reversed(), chunk_size=1))
    assert in_process[0].chunk_size == 1  # each replicate simulated on its own
    assert b"CRASHED" in in_process[1]


def test_ray_gives_the_same_bits(in_process, tmp_path, ray_session):
    _same(in_process, _run(tmp_path, "ray", backend="ray", chunk_size=2))


def test_fresh_processes_give_the_same_bits(in_process, tmp_path):
    _same(in_process, _run(tmp_path, "pool", backend=_Pool(), chunk_size=2))


def test_processes_give_the_same_bits(in_process, tmp_path):
    _same(in_process, _run(tmp_path, "proc", backend="processes", chunk_size=2))


def test_auto_runs_a_replay_of_several_chunks_on_worker_processes(monkeypatch, campaign_dict):
    """The replay's ``auto`` is the vectorised engine's: processes for several chunks on
    several cores, this process for one chunk."""
    from tunecost.simulate import _backends

    chosen = []
    real = _backends.get_backend

    def spy(backend, **kw):
        chosen.append(type(real(backend, **kw)).__name__)
        return real(backend, **kw)

    monkeypatch.setattr(_backends, "available_cores", lambda: 2)
    monkeypatch.setattr(engine_mod, "get_backend", spy)
    cfg = CampaignConfig.model_validate(campaign_dict())
    a = simulate(cfg, engine="replay", replicates=4, chunk_size=2, seed=3)
    b = simulate(cfg, engine="replay", replicates=4, chunk_size=4, seed=3)
    assert chosen == ["ProcessBackend", "LocalBackend"]
    for k in a.metrics:
        np.testing.assert_array_equal(a.metrics[k], b.metrics[k])


def test_bad_chunk_arguments_are_refused(campaign_dict):
    cfg = CampaignConfig.model_validate(campaign_dict())
    with pytest.raises(ConfigError, match="chunk_size >= 1"):
        simulate(cfg, engine="replay", replicates=2, chunk_size=0)
    with pytest.raises(ConfigError, match="keep_replicates=False streams"):
        simulate(cfg, engine="replay", replicates=2, keep_replicates=False)
    with pytest.raises(ConfigError, match="address.*needs backend='ray'"):
        simulate(cfg, engine="replay", replicates=2, address="auto")
