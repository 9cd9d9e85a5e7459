"""Backends: worker processes and Ray give the local backend's results, bit for bit;
streaming keeps memory flat."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from typer.testing import CliRunner

from tunecost.cli import app
from tunecost.config import CampaignConfig, load_config
from tunecost.exceptions import ConfigError, MissingExtraError
from tunecost.simulate import (
    BACKENDS,
    Backend,
    LocalBackend,
    ProcessBackend,
    RayBackend,
    get_backend,
    simulate,
)
from tunecost.simulate._backends import auto_backend

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
BAYES = CONFIGS / "bayesian_spot_l4.toml"  # 100 trials, spot preemptions, idle waits
LISA = CONFIGS / "lisa_rnd.yaml"  # several studies: per-study summaries too
runner = CliRunner()


def _json(cfg: CampaignConfig, **kwargs: Any) -> str:
    return json.dumps(simulate(cfg, **kwargs).summary(), sort_keys=True)


class _Reversed:
    """A backend that computes chunks in reverse order but yields them in order."""

    name: ClassVar[str] = "reversed"

    def map_chunks(self, fn: Callable, shared: Any, args: Iterable[Any]) -> Iterator[Any]:
        args = list(args)
        results = [fn(shared, a) for a in reversed(args)]
        yield from reversed(results)


def test_registry_entries_satisfy_the_protocol() -> None:
    """Every registered backend implements ``map_chunks``; local yields in order."""
    assert set(BACKENDS) == {"local", "processes", "ray"}
    for cls in BACKENDS.values():
        assert isinstance(cls(), Backend)
    assert list(LocalBackend().map_chunks(lambda s, a: s * a, 3, iter([1, 2, 3]))) == [3, 6, 9]


def test_results_do_not_depend_on_the_order_chunks_are_computed_in() -> None:
    cfg = load_config(BAYES)
    expected = _json(cfg, replicates=90, seed=2, chunk_size=20)
    assert _json(cfg, replicates=90, seed=2, chunk_size=20, backend=_Reversed()) == expected


def test_bad_backend_arguments_fail_with_the_rule() -> None:
    with pytest.raises(ConfigError, match="backend.*must be one of auto, local, processes, ray"):
        get_backend("dask")
    with pytest.raises(ConfigError, match="address.*needs backend='ray'"):
        get_backend("local", address="auto")
    with pytest.raises(ConfigError, match="max_in_flight >= 1"):
        RayBackend(max_in_flight=0)
    out = runner.invoke(app, ["simulate", str(BAYES), "--replicates", "5", "--backend", "x"])
    assert out.exit_code == 2 and "must be one of auto, local, processes, ray" in out.output
    with pytest.raises(ConfigError, match="max_workers >= 1"):
        ProcessBackend(0)


def _arrays(cfg: CampaignConfig, backend: Any, **kwargs: Any) -> Any:
    return simulate(cfg, replicates=1_300, seed=9, chunk_size=250, backend=backend, **kwargs)


def _assert_same_arrays(a: Any, b: Any) -> None:
    for k, v in a.metrics.items():
        assert np.array_equal(b.metrics[k], v, equal_nan=True), k
    assert np.array_equal(b.tuning_multiplier, a.tuning_multiplier, equal_nan=True)
    for sa, sb in zip(a.studies, b.studies, strict=True):
        for k, v in sa.metrics.items():
            assert np.array_equal(sb.metrics[k], v, equal_nan=True), (sa.name, k)


def test_processes_and_local_give_identical_arrays_and_ledger(tmp_path: Path) -> None:
    """Worker processes (two, whatever the machine), six chunks (the last one short)."""
    for path in (BAYES, LISA):
        cfg = load_config(path)
        local = _arrays(cfg, "local", ledger=tmp_path / "l.csv")
        done: list[tuple[int, int]] = []
        procs = _arrays(cfg, ProcessBackend(2, max_in_flight=3), ledger=tmp_path / "p.csv",
                        progress=lambda d, t, done=done: done.append((d, t)))
        _assert_same_arrays(local, procs)
        assert (tmp_path / "p.csv").read_bytes() == (tmp_path / "l.csv").read_bytes()
        assert done[-1] == (1_300, 1_300) and len(done) == 6
        assert _arrays(cfg, "auto").summary() == local.summary()


def test_ray_processes_and_local_give_identical_arrays(ray_session: None) -> None:
    cfg = load_config(LISA)
    local = _arrays(cfg, "local")
    _assert_same_arrays(local, _arrays(cfg, "ray"))
    _assert_same_arrays(local, _arrays(cfg, "processes"))  # Ray running: spawned workers


def _boom(shared: int, arg: int) -> int:
    if arg == 3:
        raise ValueError("chunk 3 failed")
    return shared + arg


def test_processes_backend_raises_a_chunks_error_and_stops_its_workers() -> None:
    backend = ProcessBackend(2, max_in_flight=2)
    assert list(backend.map_chunks(_boom, 10, range(3))) == [10, 11, 12]
    with pytest.raises(ValueError, match="chunk 3 failed"):
        list(backend.map_chunks(_boom, 10, range(8)))
    it = backend.map_chunks(_boom, 10, range(100))
    assert next(it) == 10
    it.close()  # the caller stops early: the pool is shut down, nothing left running
    import multiprocessing

    assert not multiprocessing.active_children()


def test_auto_backend_uses_processes_for_several_chunks_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tunecost.simulate import _backends

    monkeypatch.setattr(_backends, "available_cores", lambda: 4)
    assert isinstance(auto_backend(3), ProcessBackend)
    assert isinstance(auto_backend(1), LocalBackend)
    assert isinstance(get_backend("auto", n_chunks=2), ProcessBackend)
    monkeypatch.setattr(_backends, "available_cores", lambda: 1)
    assert isinstance(auto_backend(3), LocalBackend)


def test_missing_ray_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` raise ImportError
    with pytest.raises(MissingExtraError, match=r"tunecost\[ray\]"):
        simulate(load_config(BAYES), replicates=5, backend="ray")


@pytest.mark.parametrize("keep", [True, False], ids=["arrays", "streamed"])
def test_ray_and_local_give_identical_json(ray_session: None, keep: bool) -> None:
    """Several chunks (the last one short), kept arrays and streamed summaries alike."""
    for path in (BAYES, LISA):
        cfg = load_config(path)
        kwargs = dict(replicates=2_500, seed=11, chunk_size=400, keep_replicates=keep)
        local = _json(cfg, **kwargs)
        assert _json(cfg, backend="ray", **kwargs) == local
        assert json.loads(local)["quantile_method"] == (
            "exact" if keep else "log-histogram (relative error <= 0.1%)"
        )


def test_ray_backend_returns_the_same_arrays_and_ledger(ray_session: None, tmp_path: Path) -> None:
    cfg = load_config(BAYES)
    done: list[tuple[int, int]] = []
    local = simulate(cfg, replicates=1_000, seed=4, chunk_size=300, ledger=tmp_path / "l.csv")
    remote = simulate(
        cfg,
        replicates=1_000,
        seed=4,
        chunk_size=300,
        ledger=tmp_path / "r.csv",
        backend="ray",
        progress=lambda d, t: done.append((d, t)),
    )
    for k, v in local.metrics.items():
        np.testing.assert_array_equal(remote.metrics[k], v)
    np.testing.assert_array_equal(remote.tuning_multiplier, local.tuning_multiplier)
    assert (tmp_path / "r.csv").read_bytes() == (tmp_path / "l.csv").read_bytes()
    assert done == [(300, 1000), (600, 1000), (900, 1000), (1000, 1000)]


def test_cli_ray_backend_matches_local(ray_session: None) -> None:
    args = ["simulate", str(BAYES), "--replicates", "600", "--chunk-size", "250", "--json"]
    local = runner.invoke(app, args)
    remote = runner.invoke(app, [*args, "--backend", "ray"])
    assert local.exit_code == 0 and remote.exit_code == 0, remote.output
    assert remote.output == local.output


def test_cli_connects_to_a_cluster_by_address(ray_session: None) -> None:
    """Another process joins the running cluster with ``--address`` and gets the same JSON."""
    import ray

    address = ray.get_runtime_context().gcs_address
    args = ["simulate", str(BAYES), "--replicates", "600", "--chunk-size", "250", "--json"]
    local = runner.invoke(app, args)
    proc = subprocess.run(
        [sys.executable, "-m", "tunecost", *args, "--backend", "ray", "--address", address],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout) == json.loads(local.stdout)


def test_streamed_summary_agrees_with_the_exact_one() -> None:
    """Same means (up to rounding), percentiles within the stated 0.1 %."""
    cfg = load_config(LISA)
    exact = simulate(cfg, replicates=3_000, seed=1, chunk_size=700).summary()
    streamed = simulate(
        cfg, replicates=3_000, seed=1, chunk_size=700, keep_replicates=False
    ).summary()
    pairs = [(exact["metrics"], streamed["metrics"])]
    pairs += [
        (e["metrics"], s["metrics"])
        for e, s in zip(exact["studies"], streamed["studies"], strict=True)
    ]
    pairs += [({"tm": exact["tuning_multiplier"]}, {"tm": streamed["tuning_multiplier"]})]
    for e_metrics, s_metrics in pairs:
        assert e_metrics.keys() == s_metrics.keys()
        for k, e in e_metrics.items():
            s = s_metrics[k]
            if e is None:
                assert s is None
                continue
            for q, value in e.items():
                rtol = 1e-9 if q in ("mean", "std") else 1e-3 + 1e-12
                assert s[q] == pytest.approx(value, rel=rtol, abs=1e-12), (k, q)


def test_streamed_result_keeps_no_arrays() -> None:
    result = simulate(load_config(BAYES), replicates=200, seed=1, keep_replicates=False)
    assert result.tuning_multiplier.size == 0 and result.stats is not None
    assert set(result.stats) >= {"energy_kwh", "tuning_multiplier"}
    with pytest.raises(ConfigError, match="keep_replicates=True"):
        result.metrics["energy_kwh"]
    assert simulate(load_config(BAYES), replicates=200, seed=1).stats is None


@pytest.mark.parametrize(
    ("address", "needle"),
    [
        ("127.0.0.1:1", "cannot reach the Ray cluster at '127.0.0.1:1' within 5 s"),
        ("nonsense", "HOST:PORT or ray://HOST:PORT"),
        # with ray[client] installed (the extra), ray:// is tried and refused the same way
        ("ray://127.0.0.1:10001", "ray://127.0.0.1:10001"),
    ],
)
def test_unreachable_address_fails_in_seconds_with_one_line(address: str, needle: str) -> None:
    """It used to hang: ray.init retries an unreachable address for minutes. A fresh
    process, as a user runs it (this one may hold the suite's local Ray already)."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "tunecost", "simulate", str(BAYES),
                          "--replicates", "5", "--backend", "ray", "--address", address],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stdout + out.stderr
    assert needle in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_ray_client_address_without_grpc_names_ray_client() -> None:
    """Without grpcio (ray[tune] alone; tunecost[ray] now installs ray[client]), a ray://
    address names the extra to install. A fresh process where grpc cannot be found, as on a
    machine that lacks it: the check runs whether or not this one has it."""
    import subprocess
    import sys

    script = (
        "import importlib.util, sys\n"
        "find = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda name, *a, **k: (\n"
        "    None if name.split('.')[0] == 'grpc' else find(name, *a, **k))\n"
        "from tunecost.cli import main\n"
        f"sys.argv = ['tunecost', 'simulate', {str(BAYES)!r}, '--replicates', '5',\n"
        "            '--backend', 'ray', '--address', 'ray://127.0.0.1:10001']\n"
        "main()\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "pip install 'ray[client]'" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
