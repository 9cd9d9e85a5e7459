"""One Optuna study, run by several worker processes or machines against one storage URL.

Start the same command on every worker (the storage is any SQLAlchemy URL: PostgreSQL for
machines that share a server, SQLite for processes that share a disk)::

    python -m tunecost.calibrate.shared --storage postgresql+psycopg://user@host/db \\
        --study-name mlp --n-trials 40 --objective mypkg.train:objective

and together they run exactly ``--n-trials`` trials, numbered ``0 .. n-1``, each once:

* **Exact count.** ``MaxTrialsCallback(n)`` stops a worker only after one of its trials
  finishes, so workers that are mid-trial then still finish theirs: the total overshoots by
  up to the number of workers minus one. Here the worker that creates the study instead
  enqueues ``n`` WAITING trials up front, and every worker claims one at a time with the
  storage's atomic WAITING → RUNNING transition (a row lock in PostgreSQL, a write lock in
  SQLite; the same one ``Study.ask`` uses to pop its queue). A worker that finds no WAITING
  trial never creates one: it stops once no trial is RUNNING either.
* **None lost.** Every RUNNING trial sends a heartbeat; a worker that dies leaves a trial
  whose heartbeat goes stale, which the next worker to poll marks FAIL and re-enqueues (with
  the same parameters, ``RetryHeartbeatStaleTrialCallback``), so ``n`` trials still finish.
  Workers wait while others are RUNNING for that reason.
* **Measured.** Each trial runs inside :func:`tunecost.calibrate.optuna.measured`, so the
  study holds what ``tunecost calibrate --optuna-storage URL`` needs.

A trial whose objective raises is FAIL (counted, as in ``Study.optimize``) and the error
stops that worker, unless its type is in ``catch``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import logging
import os
import socket
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunecost._direction import normalize_direction
from tunecost.calibrate.optuna import measured
from tunecost.exceptions import ConfigError

if TYPE_CHECKING:
    import optuna

__all__ = ["WORKER_ATTR", "WorkerReport", "load_objective", "run_shared_study"]

N_TRIALS_ATTR = "tunecost:n_trials"
"""Study user attribute: the trial count the creating worker enqueued."""

WORKER_ATTR = "tunecost:worker"
"""Trial user attribute: ``host:pid`` of the worker that ran it."""

_log = logging.getLogger(__name__)


@dataclass
class WorkerReport:
    """What one worker did: the trial numbers it ran, and whether it created the study."""

    study_name: str
    worker: str
    created: bool
    trials: list[int] = field(default_factory=list)


def load_objective(spec: str) -> Callable[[optuna.Trial], Any]:
    """The callable named by ``"package.module:name"`` or ``"path/to/file.py:name"``.

    Raises:
        ConfigError: the spec has no ``:``, or names nothing callable.
    """
    module_name, sep, attr = spec.rpartition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(
            f"an objective must be given as 'module:name' or 'file.py:name', but got {spec!r}"
        )
    if module_name.endswith(".py"):
        path = Path(module_name).resolve()
        loader_spec = importlib.util.spec_from_file_location(path.stem, path)
        if loader_spec is None or loader_spec.loader is None or not path.is_file():
            raise ConfigError(f"objective file {str(path)!r} does not exist")
        module = importlib.util.module_from_spec(loader_spec)
        loader_spec.loader.exec_module(module)
    else:
        module = importlib.import_module(module_name)
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ConfigError(f"{attr!r} in {module_name!r} is not a callable objective")
    return fn


def _storage(url: str, heartbeat_interval: int, grace_period: int | None) -> Any:
    """The storage for ``url``: an RDB with heartbeats, or a JournalStorage file.

    A journal file (``journal:///path`` or a bare path that is not an SQLite database; see
    :func:`tunecost.calibrate.optuna.open_storage`) has no heartbeats in Optuna, so a dead
    worker's trial stays RUNNING there and is not retried.
    """
    import optuna
    import sqlalchemy.exc

    from tunecost.calibrate.optuna import open_storage

    resolved = open_storage(url, create=True)
    if not isinstance(resolved, str):
        return resolved  # a JournalStorage
    url = resolved
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3)
    # Workers starting together on an empty database race to create its tables; the loser's
    # CREATE fails, and a retry finds them made.
    for attempt in range(5):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                rdb = optuna.storages.RDBStorage(
                    url,
                    heartbeat_interval=heartbeat_interval,
                    grace_period=grace_period,
                    heartbeat_stale_trial_callback=retry,
                )
            # The wrapper a study gets from a URL: claims must go through the same cache.
            return optuna.storages.get_storage(rdb)
        except sqlalchemy.exc.SQLAlchemyError:
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def _create_or_load(
    storage: Any,
    study_name: str,
    n_trials: int,
    direction: str,
    sampler: Any,
    pruner: Any,
    wait_s: float,
) -> tuple[optuna.Study, bool]:
    import optuna

    try:
        study = optuna.create_study(
            study_name=study_name,
            storage=storage,
            direction=direction,
            sampler=sampler,
            pruner=pruner,
        )
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(
            study_name=study_name, storage=storage, sampler=sampler, pruner=pruner
        )
    else:
        for _ in range(n_trials):
            study.enqueue_trial({})  # parameters left to the sampler when it is claimed
        study.set_user_attr(N_TRIALS_ATTR, n_trials)  # set last: the queue is complete
        return study, True
    deadline = time.monotonic() + wait_s
    while (enqueued := study.user_attrs.get(N_TRIALS_ATTR)) is None:
        if time.monotonic() > deadline:
            raise ConfigError(
                f"study {study_name!r} exists but was not prepared by a tunecost worker "
                f"(no {N_TRIALS_ATTR!r} after {wait_s:.0f} s); use a new study name"
            )
        time.sleep(0.2)
    if enqueued != n_trials:
        raise ConfigError(
            f"every worker must ask for the study's trial count, but study {study_name!r} "
            f"has n_trials={enqueued} and this worker n_trials={n_trials}"
        )
    return study, False


def _claim(storage: Any, study_id: int) -> int | None:
    """Atomically move one WAITING trial to RUNNING; its id, or ``None`` if none is left."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    for t in storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.WAITING,)):
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, t.number)
        try:
            if storage.set_trial_state_values(trial_id, state=TrialState.RUNNING):
                return trial_id
        except UpdateFinishedTrialError:
            continue  # finished by another worker since the listing
    return None


@contextmanager
def _heartbeat(storage: Any, trial_id: int, interval_s: float) -> Iterator[None]:
    if not hasattr(storage, "record_heartbeat"):  # JournalStorage: no heartbeats
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while True:
            storage.record_heartbeat(trial_id)
            if stop.wait(interval_s):
                return

    thread = threading.Thread(target=beat, name=f"heartbeat-{trial_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def run_shared_study(
    storage: str,
    study_name: str,
    objective: Callable[[optuna.Trial], Any],
    n_trials: int,
    *,
    direction: str = "minimize",
    sampler: optuna.samplers.BaseSampler | None = None,
    pruner: optuna.pruners.BasePruner | None = None,
    heartbeat_interval: int = 2,
    grace_period: int | None = None,
    measure: bool = True,
    catch: tuple[type[Exception], ...] = (),
    poll_s: float = 0.5,
    wait_s: float = 60.0,
) -> WorkerReport:
    """Run trials of a shared study until its ``n_trials`` trials have all finished.

    Call it (or start ``python -m tunecost.calibrate.shared``) in every worker with the same
    ``storage``, ``study_name`` and ``n_trials``; see the module docstring for how the count
    stays exact and why no trial is lost.

    Args:
        storage: SQLAlchemy URL, e.g. ``postgresql+psycopg://user@host:5432/db`` or
            ``sqlite:///study.db``, or an Optuna JournalStorage file (``journal:///path.log``
            or a bare path; processes on one disk, no database server; no heartbeats, so a
            dead worker's trial is not retried).
        study_name: the study; the first worker creates it and enqueues ``n_trials`` trials.
        objective: ``objective(trial) -> value``; may call ``trial.report`` and raise
            ``optuna.TrialPruned``.
        n_trials: trials the study runs in total, across all workers.
        direction: ``"minimize"`` or ``"maximize"`` (used by the creating worker).
        sampler, pruner: this worker's (Optuna's defaults when ``None``); give each worker
            its own sampler seed.
        heartbeat_interval: seconds between a RUNNING trial's heartbeats.
        grace_period: seconds without a heartbeat before a trial counts as dead (default:
            twice ``heartbeat_interval``, Optuna's).
        measure: wrap the objective in :func:`~tunecost.calibrate.optuna.measured`.
        catch: exception types that fail a trial without stopping the worker.
        poll_s: seconds between looks at the queue while other workers' trials run.
        wait_s: how long a worker waits for the creating worker to fill the queue.

    Returns:
        What this worker ran.
    """
    import optuna
    from optuna.trial import TrialState

    direction = normalize_direction(direction)
    if n_trials < 1:
        raise ConfigError(f"`n_trials >= 1` must hold, but got {n_trials=}")
    if heartbeat_interval < 1:
        raise ConfigError(f"`heartbeat_interval >= 1` must hold, but got {heartbeat_interval=}")
    rdb = _storage(storage, heartbeat_interval, grace_period)
    study, created = _create_or_load(rdb, study_name, n_trials, direction, sampler, pruner, wait_s)
    study_id = rdb.get_study_id_from_name(study_name)
    run = measured(objective) if measure else objective
    report = WorkerReport(study_name, f"{socket.gethostname()}:{os.getpid()}", created)
    while True:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)  # a dead worker's trial → FAIL + retry
        trial_id = _claim(rdb, study_id)
        if trial_id is None:
            running = rdb.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,))
            if not running or not hasattr(rdb, "record_heartbeat"):
                # Without heartbeats (a journal file) a RUNNING trial is never retried.
                return report
            time.sleep(poll_s)  # it may yet die and come back as a retry
            continue
        trial = optuna.Trial(study, trial_id)
        trial.set_user_attr(WORKER_ATTR, report.worker)
        report.trials.append(trial.number)
        with _heartbeat(rdb, trial_id, heartbeat_interval):
            try:
                value = run(trial)
            except optuna.TrialPruned:
                study.tell(trial, state=TrialState.PRUNED)
            except Exception as exc:
                study.tell(trial, state=TrialState.FAIL)
                if not isinstance(exc, catch):
                    raise
                _log.warning("trial %d failed: %r", trial.number, exc)
            else:
                study.tell(trial, value)


def main(argv: list[str] | None = None) -> int:
    """``python -m tunecost.calibrate.shared``: one worker; prints a JSON line at the end."""
    import optuna

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--storage",
        required=True,
        help="SQLAlchemy URL of the study, or a JournalStorage file (journal:///path.log)",
    )
    parser.add_argument("--study-name", required=True)
    parser.add_argument("--n-trials", type=int, required=True, help="across all workers")
    parser.add_argument("--objective", required=True, help="module:name or file.py:name")
    parser.add_argument("--direction", default="minimize", help="min, max, minimize, maximize")
    parser.add_argument("--sampler", default="tpe", choices=("tpe", "random"))
    parser.add_argument("--seed", type=int, default=None, help="this worker's sampler seed")
    parser.add_argument("--heartbeat-interval", type=int, default=2, help="seconds")
    parser.add_argument("--grace-period", type=int, default=None, help="seconds")
    parser.add_argument("--no-measure", action="store_true", help="skip tunecost metering")
    args = parser.parse_args(argv)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler_cls = {"tpe": optuna.samplers.TPESampler, "random": optuna.samplers.RandomSampler}
    report = run_shared_study(
        args.storage,
        args.study_name,
        load_objective(args.objective),
        args.n_trials,
        direction=normalize_direction(args.direction, field="--direction"),
        sampler=sampler_cls[args.sampler](seed=args.seed),
        heartbeat_interval=args.heartbeat_interval,
        grace_period=args.grace_period,
        measure=not args.no_measure,
    )
    print(json.dumps(asdict(report)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
