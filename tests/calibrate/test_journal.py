"""Optuna JournalStorage files: written by several worker processes, then calibrated."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import optuna
import pytest
from optuna.storages.journal import JournalFileBackend
from typer.testing import CliRunner

from tunecost.calibrate.importers import from_optuna
from tunecost.calibrate.optuna import open_storage
from tunecost.cli import app
from tunecost.exceptions import ConfigError

REPO = Path(__file__).resolve().parents[2]
OBJECTIVE = textwrap.dedent(
    """
    def objective(trial):
        x = trial.suggest_float("x", 0.1, 1.0)
        n = trial.suggest_int("steps", 2, 4)
        total = 0
        for step in range(n):
            total += sum(range(int(20_000 * x)))
            trial.report(x / (step + 1), step + 1)  # from 1: see report_schedule note
        return x
    """
)


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two worker processes run one study of 6 trials in one journal file."""
    tmp = tmp_path_factory.mktemp("journal")
    (tmp / "obj.py").write_text(OBJECTIVE)
    path = tmp / "study.log"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "tunecost.calibrate.shared", "--storage", str(path),
           "--study-name", "j", "--n-trials", "6", "--objective", f"{tmp / 'obj.py'}:objective",
           "--sampler", "random", "--direction", "max"]
    workers = [subprocess.Popen([*cmd, "--seed", str(i)], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for i in range(2)]
    reports = []
    for w in workers:
        out, err = w.communicate(timeout=300)
        assert w.returncode == 0, err
        reports.append(json.loads(out.strip().splitlines()[-1]))
    ran = sorted(n for r in reports for n in r["trials"])
    assert ran == list(range(6))  # every trial once, shared between the workers
    assert [r["created"] for r in reports].count(True) == 1
    return path


def test_journal_file_imports_with_every_trial_measured(journal: Path) -> None:
    for storage in (str(journal), f"journal://{journal}"):
        recs = from_optuna(storage, "j")
        assert [r.number for r in recs] == list(range(6))
        assert all(r.state == "COMPLETE" for r in recs)
        assert all(r.attrs["direction"] == "maximize" for r in recs)
        assert {r.attrs["worker"] for r in recs} and len({r.attrs["worker"] for r in recs}) <= 2
        for r in recs:
            assert r.duration_s > 0 and r.cpu_energy_j is not None
            assert len(r.curve) == r.params["steps"] and r.fidelity == r.params["steps"]
    study = optuna.load_study(
        study_name="j", storage=optuna.storages.JournalStorage(JournalFileBackend(str(journal)))
    )
    assert {t.number for t in study.trials} == set(range(6))


def test_cli_calibrates_a_journal_file(journal: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["calibrate", "--optuna-storage", str(journal), "--study",
                                   "j", "--folds", "2", "--out", str(tmp_path / "c.json"),
                                   "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output[res.output.index("{"):])["n_records"] == 6


def test_storage_paths(tmp_path: Path) -> None:
    """A bare path is SQLite by its header, else a journal; missing or folder: one line."""
    db = tmp_path / "s.db"
    optuna.create_study(storage=f"sqlite:///{db}", study_name="s")
    assert open_storage(str(db)) == f"sqlite:///{db}"
    assert open_storage("postgresql://u@h/db") == "postgresql://u@h/db"
    with pytest.raises(ConfigError, match="no such file"):
        open_storage(str(tmp_path / "missing.log"))
    with pytest.raises(ConfigError, match="is a folder"):
        open_storage(str(tmp_path))
    assert isinstance(open_storage(str(tmp_path / "new.log"), create=True),
                      optuna.storages.JournalStorage)
    assert open_storage(str(tmp_path / "new.db"), create=True).startswith("sqlite:///")
    junk = tmp_path / "junk.log"
    junk.write_text("not a journal\n")
    with pytest.raises(ConfigError, match="junk.log") as info:
        from_optuna(str(junk))
    assert "\n" not in str(info.value)
