"""Where chunks of work run: in this process, in worker processes, or as Ray tasks.

A backend maps a function over a sequence of arguments that share one large read-only object
(the resolved campaign) and yields the results **in argument order**. Each argument carries
its own spawned ``SeedSequence``, so a result depends only on its argument, and the caller
merges results in the same order whatever the backend: the output is identical, bit for bit.

``"auto"`` (the default of :func:`~tunecost.simulate.simulate`) runs a run of several chunks
on every core (:class:`ProcessBackend`) and a single chunk in this process.

Example:
    >>> backend = get_backend("local")
    >>> list(backend.map_chunks(pow, 2, [1, 2, 3]))
    [2, 4, 8]
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

from tunecost.exceptions import ConfigError, MissingExtraError

__all__ = ["BACKENDS", "Backend", "LocalBackend", "ProcessBackend", "RayBackend", "auto_backend",
           "available_cores", "get_backend", "ray_connect"]

S = TypeVar("S")
A = TypeVar("A")
R = TypeVar("R")

# Set before Ray is first imported: no token-auth file in ~/.ray, no usage reporting.
_RAY_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


@runtime_checkable
class Backend(Protocol):
    """Runs independent chunks of work; the one required method is :meth:`map_chunks`."""

    name: ClassVar[str]

    def map_chunks(self, fn: Callable[[S, A], R], shared: S, args: Iterable[A]) -> Iterator[R]:
        """Yield ``fn(shared, arg)`` for each ``arg``, in the order of ``args``.

        Args:
            fn: a module-level (picklable) function.
            shared: read-only data every call needs; a backend may ship it once.
            args: one per chunk; consumed lazily, so a long sequence never sits in memory.
        """
        ...


class LocalBackend:
    """Runs every chunk in this process, one after the other."""

    name: ClassVar[str] = "local"

    def map_chunks(self, fn: Callable[[S, A], R], shared: S, args: Iterable[A]) -> Iterator[R]:
        for arg in args:
            yield fn(shared, arg)


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


_WORKER_SHARED: Any = None
_IN_WORKER = False


def _worker_init(shared: Any) -> None:
    """A worker's initializer: the shared object arrives once per worker, not per chunk."""
    global _WORKER_SHARED, _IN_WORKER
    _WORKER_SHARED = shared
    _IN_WORKER = True


def _worker_call(fn: Callable[[Any, A], R], arg: A) -> R:
    return fn(_WORKER_SHARED, arg)


def _ray_running() -> bool:
    ray = sys.modules.get("ray")
    try:
        return bool(ray is not None and ray.is_initialized())
    except Exception:  # a half-imported or mocked module
        return False


class ProcessBackend:
    """Runs chunks in a pool of worker processes on this machine, one per core by default.

    The shared object is sent once to each worker (the pool's initializer); at most
    ``max_in_flight`` chunks are pending at a time (default: twice the workers), so the
    results held stay bounded whatever the number of chunks; results are yielded in chunk
    order. The pool is shut down when the iteration ends, fails or is abandoned (its pending
    chunks cancelled).

    On Linux workers are forked (they start in milliseconds with everything this process
    has imported, the compiled kernel included), except while Ray runs in this process
    (forking its threads is unsafe): then, as on other platforms, they are spawned.

    Args:
        max_workers: worker processes (default: :func:`available_cores`).
        max_in_flight: bound on pending chunks, >= 1.
        start_method: ``"fork"``, ``"spawn"`` or ``"forkserver"`` (default: as above).
    """

    name: ClassVar[str] = "processes"

    def __init__(self, max_workers: int | None = None, *, max_in_flight: int | None = None,
                 start_method: str | None = None) -> None:
        if max_workers is not None and max_workers < 1:
            raise ConfigError(f"`max_workers >= 1` must hold, but got {max_workers=}")
        if max_in_flight is not None and max_in_flight < 1:
            raise ConfigError(f"`max_in_flight >= 1` must hold, but got {max_in_flight=}")
        self.max_workers = max_workers
        self.max_in_flight = max_in_flight
        self.start_method = start_method

    def _context(self) -> Any:
        method = self.start_method
        if method is None:
            fork = "fork" in multiprocessing.get_all_start_methods()
            method = "fork" if sys.platform == "linux" and fork and not _ray_running() \
                else "spawn"
        return multiprocessing.get_context(method)

    def map_chunks(self, fn: Callable[[S, A], R], shared: S, args: Iterable[A]) -> Iterator[R]:
        workers = self.max_workers or available_cores()
        limit = self.max_in_flight or 2 * workers
        pool = ProcessPoolExecutor(workers, mp_context=self._context(),
                                   initializer=_worker_init, initargs=(shared,))
        pending: deque[Future[R]] = deque()
        try:
            for arg in args:
                pending.append(pool.submit(_worker_call, fn, arg))
                if len(pending) >= limit:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            # Normal end, a chunk's error, or the caller stopping early: no worker outlives
            # the iteration.
            for fut in pending:
                fut.cancel()
            pool.shutdown(wait=True, cancel_futures=True)


def _import_ray() -> Any:
    for key, value in _RAY_ENV.items():
        os.environ.setdefault(key, value)
    try:
        import ray
    except ImportError:
        raise MissingExtraError("ray", "ray") from None
    return ray


RAY_CONNECT_TIMEOUT_S = 5.0
"""Seconds to reach a cluster's ``HOST:PORT`` before giving up (``ray.init`` itself retries
an unreachable address for minutes)."""


class _RayClientMissing(MissingExtraError):
    """``ray://`` needs Ray's client (grpcio), which ``tunecost[ray]`` does not install."""

    def __init__(self) -> None:
        ImportError.__init__(
            self,
            "a ray:// address needs Ray's client (the 'grpc' module is not installed); "
            "install it with: pip install 'ray[client]'",
        )


def _check_reachable(address: str) -> None:
    """Fail in :data:`RAY_CONNECT_TIMEOUT_S` with one line when ``address`` cannot be used."""
    import importlib.util
    import socket

    if address == "auto" or address.startswith("local"):
        return
    if address.startswith("ray://"):
        if importlib.util.find_spec("grpc") is None:
            raise _RayClientMissing()
        hostport = address[len("ray://"):]
    else:
        hostport = address
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ConfigError(
            f"`address` must be 'auto', HOST:PORT or ray://HOST:PORT, but got {address!r}"
        )
    try:
        socket.create_connection((host.strip("[]"), int(port)), RAY_CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise ConfigError(
            f"cannot reach the Ray cluster at {address!r} within {RAY_CONNECT_TIMEOUT_S:g} s "
            f"({exc.strerror or exc}); is it running? (`ray start --head` prints its address)"
        ) from None


def ray_connect(address: str | None = None) -> Any:
    """The ``ray`` module, connected: to the running session if there is one, else
    ``ray.init(address=address)`` (a new local cluster when ``address`` is ``None``;
    ``"auto"``, ``"HOST:PORT"`` or ``"ray://HOST:10001"`` for an existing cluster).

    A session this function starts stays up for the rest of the process (later calls reuse it)
    and is shut down by Ray at exit.

    Raises:
        MissingExtraError: Ray is not installed (or, for ``ray://``, its client).
        ConfigError: ``address`` is malformed, unreachable within
            :data:`RAY_CONNECT_TIMEOUT_S`, or has no cluster.
    """
    ray = _import_ray()
    if not ray.is_initialized():
        if address is None:
            ray.init(include_dashboard=False)
        else:
            _check_reachable(address)
            try:
                ray.init(address=address)
            except ConnectionError as exc:  # e.g. "auto" with no cluster running
                raise ConfigError(
                    f"cannot connect to the Ray cluster at {address!r}: "
                    f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                ) from None
    return ray


class RayBackend:
    """Runs each chunk as a Ray task (``num_cpus=1``) on a local or remote cluster.

    The shared object is put in the object store once; at most ``max_in_flight`` tasks are
    pending at a time (default: twice the cluster's CPUs), so the driver holds a bounded number
    of results whatever the number of chunks, and results are yielded in chunk order.

    Args:
        address: cluster to connect to if Ray is not yet initialised in this process (see
            :func:`ray_connect`); ``None`` starts a local one.
        max_in_flight: bound on pending tasks, >= 1.
    """

    name: ClassVar[str] = "ray"

    def __init__(self, address: str | None = None, *, max_in_flight: int | None = None) -> None:
        if max_in_flight is not None and max_in_flight < 1:
            raise ConfigError(f"`max_in_flight >= 1` must hold, but got {max_in_flight=}")
        self.address = address
        self.max_in_flight = max_in_flight

    def map_chunks(self, fn: Callable[[S, A], R], shared: S, args: Iterable[A]) -> Iterator[R]:
        ray = ray_connect(self.address)
        limit = self.max_in_flight or max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))
        task = ray.remote(num_cpus=1, max_retries=3)(fn)
        shared_ref = ray.put(shared)
        pending: deque[Any] = deque()
        try:
            for arg in args:
                pending.append(task.remote(shared_ref, arg))
                if len(pending) >= limit:
                    yield ray.get(pending.popleft())
            while pending:
                yield ray.get(pending.popleft())
        finally:
            for ref in pending:  # the caller stopped early or a task failed
                ray.cancel(ref)


BACKENDS: dict[str, type[LocalBackend] | type[ProcessBackend] | type[RayBackend]] = {
    "local": LocalBackend,
    "processes": ProcessBackend,
    "ray": RayBackend,
}
"""Backend classes by name, as ``--backend`` selects them (``"auto"`` chooses one)."""


def auto_backend(n_chunks: int) -> Backend:
    """``"auto"``: worker processes on every core for a run of more than one chunk where
    there is more than one core, else this process (also inside a worker process, which
    must not start a pool of its own)."""
    nested = _IN_WORKER or multiprocessing.current_process().daemon
    if n_chunks > 1 and available_cores() > 1 and not nested:
        return ProcessBackend()
    return LocalBackend()


def get_backend(backend: str | Backend, *, address: str | None = None,
                n_chunks: int | None = None) -> Backend:
    """A backend instance from its name (``"auto"``, ``"local"``, ``"processes"``,
    ``"ray"``) or as given; ``"auto"`` chooses by ``n_chunks`` (:func:`auto_backend`).

    Raises:
        ConfigError: unknown name, or an ``address`` for a backend that takes none.
    """
    if not isinstance(backend, str):
        if address is not None:
            raise ConfigError("`address` goes with a backend name, not a backend instance")
        return backend
    if backend != "auto" and backend not in BACKENDS:
        raise ConfigError(
            f"`backend` must be one of auto, {', '.join(BACKENDS)}, but got backend={backend!r}"
        )
    if backend == "ray":
        return RayBackend(address)
    if address is not None:
        raise ConfigError(f"`address` needs backend='ray', but got backend={backend!r}")
    if backend == "auto":
        return auto_backend(1 if n_chunks is None else n_chunks)
    return BACKENDS[backend]()
