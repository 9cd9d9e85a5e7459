"""Where chunks of work run: in this process, or as Ray tasks on a local or remote cluster.

A backend maps a function over a sequence of arguments that share one large read-only object
(the resolved campaign) and yields the results **in argument order**. Each argument carries
its own spawned ``SeedSequence``, so a result depends only on its argument, and the caller
merges results in the same order whatever the backend: the output is identical, bit for bit.

Example:
    >>> backend = get_backend("local")
    >>> list(backend.map_chunks(pow, 2, [1, 2, 3]))
    [2, 4, 8]
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

from tunecost.exceptions import ConfigError, MissingExtraError

__all__ = ["BACKENDS", "Backend", "LocalBackend", "RayBackend", "get_backend", "ray_connect"]

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


BACKENDS: dict[str, type[LocalBackend] | type[RayBackend]] = {
    "local": LocalBackend,
    "ray": RayBackend,
}
"""Backend classes by name, as ``--backend`` selects them."""


def get_backend(backend: str | Backend, *, address: str | None = None) -> Backend:
    """A backend instance from its name (``"local"``, ``"ray"``) or as given.

    Raises:
        ConfigError: unknown name, or an ``address`` for a backend that takes none.
    """
    if not isinstance(backend, str):
        if address is not None:
            raise ConfigError("`address` goes with a backend name, not a backend instance")
        return backend
    if backend not in BACKENDS:
        raise ConfigError(
            f"`backend` must be one of {', '.join(BACKENDS)}, but got backend={backend!r}"
        )
    if backend == "ray":
        return RayBackend(address)
    if address is not None:
        raise ConfigError(f"`address` needs backend='ray', but got backend={backend!r}")
    return LocalBackend()
