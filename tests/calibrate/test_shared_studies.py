"""Shared studies: two worker processes, one storage (a real PostgreSQL server, and SQLite),
exactly N trials between them; and a Ray Tune study joining a running cluster by address."""

from __future__ import annotations

import glob
import json
import math
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")

from optuna.trial import TrialState  # noqa: E402

from tunecost.calibrate.optuna import ATTR_PREFIX  # noqa: E402
from tunecost.calibrate.shared import WORKER_ATTR, load_objective  # noqa: E402
from tunecost.exceptions import ConfigError  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
N_TRIALS = 10

OBJECTIVE = """
import time

def objective(trial):
    x = trial.suggest_float("x", -3.0, 3.0)
    for step in range(3):
        trial.report(x * x + 1.0 / (step + 1), step)
        time.sleep(0.4)  # long enough that both workers get trials, even on a loaded machine
    return x * x
"""


def _pg_bindir() -> Path | None:
    """The newest installed PostgreSQL server's bin folder (Debian layout), or PATH's."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("pg_ctl") else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on loopback, trust auth, removed afterwards.

    ``initdb`` refuses to run as root, so as root the server runs as the ``postgres`` user
    that Debian's package creates.
    """
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip(
            "PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql"
        )
    pytest.importorskip("psycopg", reason="the PostgreSQL driver: pip install 'psycopg[binary]'")
    as_user: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="tunecost-pg-", dir="/tmp"))
    if os.geteuid() == 0:
        try:
            pg = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the server")
        os.chown(root, pg.pw_uid, pg.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", _free_port()
    try:
        subprocess.run(
            [
                *as_user,
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "tunecost",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off"
        subprocess.run(
            [
                *as_user,
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                opts,
                "-l",
                str(root / "log"),
                "-w",
                "-t",
                "60",
                "start",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        yield f"postgresql+psycopg://tunecost@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(root, ignore_errors=True)


def _run_two_workers(url: str, study: str, tmp_path: Path) -> list[dict]:
    objective = tmp_path / "objective.py"
    objective.write_text(OBJECTIVE)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tunecost.calibrate.shared",
                "--storage",
                url,
                "--study-name",
                study,
                "--n-trials",
                str(N_TRIALS),
                "--objective",
                f"{objective}:objective",
                "--sampler",
                "random",
                "--seed",
                str(seed),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for seed in (1, 2)
    ]
    reports = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]
        reports.append(json.loads(out.strip().splitlines()[-1]))
    return reports


def _check_exactly_n(url: str, study_name: str, reports: list[dict]) -> None:
    """Numbers 0..N-1 each once, all finished and measured; each trial run by one worker."""
    study = optuna.load_study(study_name=study_name, storage=url)
    trials = study.get_trials(deepcopy=False)
    assert sorted(t.number for t in trials) == list(range(N_TRIALS))
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    assert all(ATTR_PREFIX + "duration_s" in t.user_attrs for t in trials)
    ran = [n for r in reports for n in r["trials"]]
    assert sorted(ran) == list(range(N_TRIALS))  # none lost, none run twice
    assert sum(r["created"] for r in reports) == 1
    assert all(r["trials"] for r in reports), "both workers should have run trials"
    by_worker = {t.number: t.user_attrs[WORKER_ATTR] for t in trials}
    for r in reports:
        assert {by_worker[n] for n in r["trials"]} == {r["worker"]}


def test_two_workers_share_a_postgresql_study(postgres_url: str, tmp_path: Path) -> None:
    reports = _run_two_workers(postgres_url, "pg_shared", tmp_path)
    _check_exactly_n(postgres_url, "pg_shared", reports)


def test_two_workers_share_a_sqlite_study(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    reports = _run_two_workers(url, "sqlite_shared", tmp_path)
    _check_exactly_n(url, "sqlite_shared", reports)


def test_a_dead_workers_trial_is_retried_not_lost(tmp_path: Path) -> None:
    """A RUNNING trial whose heartbeat stopped is failed and re-run, so N trials finish."""
    from tunecost.calibrate.shared import run_shared_study

    url = f"sqlite:///{tmp_path / 'study.db'}"
    storage = optuna.storages.RDBStorage(url, heartbeat_interval=1, grace_period=2)
    study = optuna.create_study(study_name="crash", storage=storage)
    for _ in range(3):
        study.enqueue_trial({})
    study.set_user_attr("tunecost:n_trials", 3)
    with warnings.catch_warnings():  # "heartbeat is supposed to be used with optimize"
        warnings.simplefilter("ignore")
        dead = study.ask()  # claimed by a worker that then died: one heartbeat, never told
    storage.record_heartbeat(dead._trial_id)
    time.sleep(2.5)
    report = run_shared_study(
        url,
        "crash",
        lambda t: t.suggest_float("x", 0, 1),
        3,
        heartbeat_interval=1,
        grace_period=2,
        measure=False,
    )
    trials = optuna.load_study(study_name="crash", storage=url).get_trials(deepcopy=False)
    states = [t.state for t in trials]
    assert states.count(TrialState.COMPLETE) == 3 and states.count(TrialState.FAIL) == 1
    assert TrialState.RUNNING not in states and TrialState.WAITING not in states
    assert len(report.trials) == 3


def test_load_objective_fails_with_the_rule(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'module:name'"):
        load_objective("no_colon")
    with pytest.raises(ConfigError, match="does not exist"):
        load_objective(f"{tmp_path / 'missing.py'}:f")
    assert load_objective("math:sqrt") is math.sqrt


def test_ray_tune_study_joins_a_running_cluster(ray_session: None, tmp_path: Path) -> None:
    """The Ray Tune study runner given ``--address`` runs on that cluster and leaves it up."""
    pytest.importorskip("sklearn")
    import ray

    address = ray.get_runtime_context().gcs_address
    results = tmp_path / "results.jsonl"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "studies" / "ray_asha_mlp_digits" / "run.py"),
            "--address",
            address,
            "--num-samples",
            "2",
            "--max-epochs",
            "3",
            "--storage-path",
            str(tmp_path / "ray_results"),
            "--results",
            str(results),
        ],
        capture_output=True,
        text=True,
        timeout=400,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(results.read_text().splitlines()) == 2
    assert ray.is_initialized() and ray.cluster_resources().get("CPU") == 2
