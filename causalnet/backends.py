"""Execution backends: map a picklable function over tasks, serially, on a process pool, or on Ray.

Every backend has one method that matters, :meth:`Backend.map`::

    results = backend.map(fn, tasks, seed=0, shared={"data": array})

It calls ``fn(task, ctx)`` once per task and returns the results in task order.
``ctx`` is a :class:`TaskContext`: the task's index, its own
:class:`numpy.random.SeedSequence` (derived from ``seed`` and the task's index
only, never from which worker runs it) and read-only views of the ``shared``
arrays. So the same ``seed`` gives the same numbers, bit for bit, whatever the
backend and the number of workers.

* :class:`SerialBackend`: in this process, one task after the other.
* :class:`LocalBackend`: a pool of worker processes on this machine; the shared
  arrays are copied once into shared memory and every worker maps them.
* :class:`RayBackend`: Ray tasks (``pip install 'causalnet[ray]'``), on a local Ray
  instance or on a cluster (``address=``); the shared arrays go through the Ray
  object store, which numpy reads without copies.

See ``docs/scaling.md``.
"""

from __future__ import annotations

import logging
import os
import pickle
import socket
import time
from abc import ABC, abstractmethod
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context
from multiprocessing.shared_memory import SharedMemory
from typing import Any, Callable, Literal, Mapping, Sequence

import numpy as np

from causalnet.errors import CausalnetError

__all__ = ["Backend", "BackendError", "BackendName", "LocalBackend", "RayBackend", "SerialBackend",
           "TaskContext", "check_ray_address", "make_backend", "parse_ray_address", "task_seeds"]

logger = logging.getLogger(__name__)

BackendName = Literal["serial", "local", "ray"]
BACKEND_NAMES: tuple[str, ...] = ("serial", "local", "ray")
SeedLike = int | np.random.SeedSequence | None
TaskFunction = Callable[[Any, "TaskContext"], Any]
ResultCallback = Callable[[int, Any], None]


class BackendError(CausalnetError, ValueError):
    """A backend cannot be created or reached (bad name, bad worker count, Ray missing or not answering)."""


@dataclass(frozen=True)
class TaskContext:
    """What a task function receives besides its task.

    Attributes
    ----------
    index : int
        Position of the task in the list given to :meth:`Backend.map`.
    seed : numpy.random.SeedSequence or None
        The task's own seed (None when ``map`` was called without ``seed``).
    shared : mapping of str to ndarray
        Read-only arrays shared by all tasks (``map(..., shared=...)``).
    """

    index: int
    seed: np.random.SeedSequence | None = None
    shared: Mapping[str, np.ndarray] = field(default_factory=dict)

    def rng(self) -> np.random.Generator:
        """A generator seeded with the task's seed."""
        if self.seed is None:
            raise ValueError(f"task {self.index} has no seed: pass seed= to Backend.map")
        return np.random.default_rng(self.seed)


def task_seeds(seed: SeedLike, n_tasks: int) -> list[np.random.SeedSequence | None]:
    """The seed of each of ``n_tasks`` tasks: child ``i`` of ``seed`` (None for no seed).

    Equal to ``SeedSequence(seed).spawn(n_tasks)`` but a pure function of ``seed``: a
    :class:`~numpy.random.SeedSequence` passed in is not advanced.

    Examples
    --------
    >>> a = task_seeds(7, 3); b = np.random.SeedSequence(7).spawn(3)
    >>> [x.generate_state(2).tolist() == y.generate_state(2).tolist() for x, y in zip(a, b)]
    [True, True, True]
    >>> task_seeds(None, 2)
    [None, None]
    """
    if seed is None:
        return [None] * n_tasks
    if isinstance(seed, np.random.SeedSequence):
        root = seed
    elif isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0:
        root = np.random.SeedSequence(int(seed))
    else:
        raise TypeError(f"seed must be a non-negative integer, a numpy SeedSequence or None, got {seed!r}")
    return [np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, root.n_children_spawned + i),
                                   pool_size=root.pool_size) for i in range(n_tasks)]


def _read_only(shared: Mapping[str, Any] | None) -> dict[str, np.ndarray]:
    out = {}
    for name, value in (shared or {}).items():
        if not isinstance(name, str):
            raise TypeError(f"shared: keys must be strings, got {name!r}")
        arr = np.asarray(value)
        if arr.dtype == object:
            raise TypeError(f"shared[{name!r}]: only numeric arrays can be shared, got dtype object")
        view = arr.view()
        view.flags.writeable = False
        out[name] = view
    return out


def _check_workers(workers: Any) -> int:
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise BackendError(f"workers must be a positive integer, got {workers!r}")
    return int(workers)


class Backend(ABC):
    """Runs ``fn(task, ctx)`` over a list of tasks (see the module docstring).

    Backends are context managers: ``with make_backend("ray") as b: ...`` closes
    what the backend started (the Ray instance it started, if any).
    """

    name: str = "backend"
    workers: int = 1

    def map(self, fn: TaskFunction, tasks: Sequence[Any], *, seed: SeedLike = None,
            shared: Mapping[str, np.ndarray] | None = None,
            on_result: ResultCallback | None = None) -> list[Any]:
        """Call ``fn(task, ctx)`` for every task; return the results in task order.

        Parameters
        ----------
        fn : callable
            ``fn(task, ctx) -> result``; for the process and Ray backends it must be
            picklable (a module-level function) and so must tasks and results.
        tasks : sequence
            One item per call.
        seed : int, SeedSequence or None
            Root of the per-task seeds (:func:`task_seeds`); ``ctx.rng()`` draws from
            the task's own stream.
        shared : mapping of str to ndarray, optional
            Arrays every task reads (``ctx.shared[name]``, read-only), sent to the
            workers once instead of with every task.
        on_result : callable, optional
            ``on_result(index, result)``, called in this process as each task
            finishes (in completion order), e.g. for progress messages.

        Returns
        -------
        list
            ``[fn(tasks[0], ...), fn(tasks[1], ...), ...]``.

        Raises
        ------
        Exception
            The first exception raised by a task (the other tasks are cancelled).

        Examples
        --------
        >>> def scaled_noise(task, ctx):
        ...     return float(ctx.shared["scale"][task] * ctx.rng().standard_normal())
        >>> a = SerialBackend().map(scaled_noise, [0, 1], seed=3, shared={"scale": np.array([1.0, 2.0])})
        >>> b = SerialBackend().map(scaled_noise, [0, 1], seed=3, shared={"scale": np.array([1.0, 2.0])})
        >>> a == b
        True
        """
        tasks = list(tasks)
        seeds = task_seeds(seed, len(tasks))
        views = _read_only(shared)
        if not tasks:
            return []
        return self._map(fn, tasks, seeds, views, on_result)

    @abstractmethod
    def _map(self, fn: TaskFunction, tasks: list[Any], seeds: list[np.random.SeedSequence | None],
             shared: dict[str, np.ndarray], on_result: ResultCallback | None) -> list[Any]:
        """Run the tasks; ``shared`` holds read-only views."""

    def close(self) -> None:
        """Release what the backend holds (nothing for most backends)."""

    def __enter__(self) -> "Backend":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def describe(self) -> str:
        """One line: backend name and workers."""
        return f"{self.name} ({self.workers} worker{'s' if self.workers != 1 else ''})"


# ------------------------------------------------------------------ serial
class SerialBackend(Backend):
    """Every task in this process, in order (the reference the other backends must equal)."""

    name = "serial"
    workers = 1

    def _map(self, fn, tasks, seeds, shared, on_result):
        out = []
        for i, (task, seed) in enumerate(zip(tasks, seeds)):
            result = fn(task, TaskContext(i, seed, shared))
            if on_result is not None:
                on_result(i, result)
            out.append(result)
        return out


# ------------------------------------------------------------------ local processes
_WORKER_SHARED: dict[str, np.ndarray] = {}
_WORKER_SEGMENTS: list[SharedMemory] = []


def _attach_shared(layout: dict[str, tuple[str, tuple[int, ...], str, str]]) -> None:
    """Pool initializer: map the parent's shared-memory blocks as read-only arrays."""
    _WORKER_SHARED.clear()
    for name, (block, shape, dtype, order) in layout.items():
        segment = SharedMemory(name=block)
        _WORKER_SEGMENTS.append(segment)
        arr = np.ndarray(shape, dtype=np.dtype(dtype), buffer=segment.buf, order=order)
        arr.flags.writeable = False
        _WORKER_SHARED[name] = arr


def _pool_call(fn: TaskFunction, task: Any, index: int, seed: np.random.SeedSequence | None) -> Any:
    return fn(task, TaskContext(index, seed, _WORKER_SHARED))


def _require_picklable(fn: Any) -> None:
    try:
        pickle.dumps(fn)
    except Exception as exc:  # pickle raises several types (PicklingError, AttributeError, TypeError)
        raise TypeError(f"the task function {getattr(fn, '__qualname__', fn)!r} cannot be pickled "
                        f"({exc}); use a module-level function") from None


class LocalBackend(Backend):
    """A pool of ``workers`` processes on this machine.

    Shared arrays are copied once into POSIX shared memory; each worker maps them
    when it starts (no per-task copies). The pool lives for one :meth:`map` call.

    Parameters
    ----------
    workers : int
        Number of worker processes (default: the number of CPUs).
    start_method : {"fork", "spawn", "forkserver"} or None
        Process start method (None: the platform default).
    """

    name = "local"

    def __init__(self, workers: int | None = None, *, start_method: str | None = None) -> None:
        self.workers = _check_workers((os.cpu_count() or 1) if workers is None else workers)
        self.start_method = start_method

    def _map(self, fn, tasks, seeds, shared, on_result):
        _require_picklable(fn)
        segments: list[SharedMemory] = []
        try:
            layout = {}
            for name, arr in shared.items():
                order = "F" if arr.flags.f_contiguous and not arr.flags.c_contiguous else "C"
                segment = SharedMemory(create=True, size=max(1, arr.nbytes))
                segments.append(segment)
                target = np.ndarray(arr.shape, dtype=arr.dtype, buffer=segment.buf, order=order)
                target[...] = arr
                layout[name] = (segment.name, tuple(arr.shape), arr.dtype.str, order)
            context = get_context(self.start_method)
            n_procs = min(self.workers, len(tasks))
            results: list[Any] = [None] * len(tasks)
            with ProcessPoolExecutor(max_workers=n_procs, mp_context=context, initializer=_attach_shared,
                                     initargs=(layout,)) as pool:
                futures = {pool.submit(_pool_call, fn, task, i, seed): i
                           for i, (task, seed) in enumerate(zip(tasks, seeds))}
                pending = set(futures)
                try:
                    while pending:
                        done, pending = wait(pending, return_when=FIRST_COMPLETED)
                        for fut in sorted(done, key=futures.get):
                            i = futures[fut]
                            results[i] = fut.result()
                            if on_result is not None:
                                on_result(i, results[i])
                except BaseException:
                    for fut in pending:
                        fut.cancel()
                    raise
            return results
        finally:
            for segment in segments:
                segment.close()
                segment.unlink()


# ------------------------------------------------------------------ Ray
def _import_ray():
    try:
        import ray
    except ImportError:
        raise BackendError("the ray backend needs Ray: pip install 'causalnet[ray]'") from None
    return ray


def parse_ray_address(address: Any) -> str:
    """Check the form of a Ray address (nothing is contacted); return it.

    Accepted: ``auto``, ``local``, ``host:port`` and ``ray://host:port``.

    Examples
    --------
    >>> parse_ray_address("ray://10.0.0.5:10001")
    'ray://10.0.0.5:10001'
    >>> parse_ray_address("10.0.0.5")
    Traceback (most recent call last):
    ...
    causalnet.backends.BackendError: Ray address must be 'auto', 'local', 'host:port' or 'ray://host:port', got '10.0.0.5'
    """
    bad = BackendError(f"Ray address must be 'auto', 'local', 'host:port' or 'ray://host:port', got {address!r}")
    if not isinstance(address, str) or not address.strip():
        raise bad
    if address in ("auto", "local"):
        return address
    scheme, sep, rest = address.rpartition("://")
    if sep and scheme != "ray":
        raise bad
    host, colon, port = rest.rpartition(":")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536 or any(c.isspace() for c in host):
        raise bad
    return address


def check_ray_address(address: str, *, timeout: float = 3.0) -> None:
    """Raise :class:`BackendError` unless something answers at the Ray ``address``.

    ``host:port`` (the head node's GCS port) and ``ray://host:port`` (Ray Client) are
    checked with a TCP connection; ``auto`` needs a Ray instance started on this
    machine (``ray start --head``) and ``local`` always passes (a new local instance).

    Examples
    --------
    >>> check_ray_address("local")
    >>> check_ray_address("127.0.0.1:1", timeout=0.5)
    Traceback (most recent call last):
    ...
    causalnet.backends.BackendError: no Ray cluster answers at '127.0.0.1:1' (connection refused); ...
    """
    parse_ray_address(address)
    if address == "local":
        return
    if address == "auto":
        ray_tmp = os.environ.get("RAY_TMPDIR", "/tmp/ray")
        if "RAY_ADDRESS" in os.environ or os.path.exists(os.path.join(ray_tmp, "ray_current_cluster")):
            return
        raise BackendError("no Ray cluster answers at 'auto' (no Ray instance was started on this machine); "
                           "start one with `ray start --head` or give --ray-address host:port")
    host, _, port = address.rpartition("://")[2].rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or type(exc).__name__).lower()
        raise BackendError(f"no Ray cluster answers at {address!r} ({reason}); check the address and that "
                           f"the head node runs `ray start --head`") from None


def _ray_call(fn: TaskFunction, task: Any, index: int, seed: np.random.SeedSequence | None,
              shared: dict[str, np.ndarray]) -> Any:
    return fn(task, TaskContext(index, seed, shared))


class RayBackend(Backend):
    """Ray tasks, on a local Ray instance or on a cluster.

    Parameters
    ----------
    workers : int or None
        At most this many tasks run at once (None: as many as the cluster's CPUs).
        A local instance started here gets ``workers`` CPUs (default: all CPUs).
    address : str or None
        None (or ``"local"``): start a local Ray instance unless one is already
        running in this process. ``"auto"``, ``"host:port"`` or
        ``"ray://host:port"``: join that cluster; it is checked to answer first
        (:func:`check_ray_address`) so a wrong address fails at once.

    Notes
    -----
    Workers import the task function's module: on a cluster, causalnet must be
    installed (or on ``PYTHONPATH``) on every node, and files that tasks write
    must go to a file system every node shares.
    """

    name = "ray"

    def __init__(self, workers: int | None = None, *, address: str | None = None) -> None:
        self.address = address
        self._limit = None if workers is None else _check_workers(workers)
        ray = _import_ray()
        if address is not None:
            check_ray_address(address)
        self._owns = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING,
                                      "log_to_driver": False}
            if address in (None, "local"):
                kwargs["num_cpus"] = self._limit or os.cpu_count() or 1
            start = time.perf_counter()
            try:
                ray.init(address=address, **kwargs)
            except Exception as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise BackendError(f"cannot start or join Ray at {address or 'a new local instance'!r}: "
                                   f"{first}") from None
            self._owns = True
            logger.info("Ray ready in %.1f s", time.perf_counter() - start)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.workers = self._limit or max(1, cpus)
        self._remote = ray.remote(num_cpus=1, max_retries=0)(_ray_call)

    def _map(self, fn, tasks, seeds, shared, on_result):
        ray = _import_ray()
        shared_ref = ray.put(dict(shared))
        results: list[Any] = [None] * len(tasks)
        index_of: dict[Any, int] = {}
        queue = list(range(len(tasks)))
        try:
            while queue or index_of:
                while queue and len(index_of) < self.workers:
                    i = queue.pop(0)
                    ref = self._remote.remote(fn, tasks[i], i, seeds[i], shared_ref)
                    index_of[ref] = i
                done, _ = ray.wait(list(index_of), num_returns=1)
                for ref in done:
                    i = index_of.pop(ref)
                    results[i] = ray.get(ref)
                    if on_result is not None:
                        on_result(i, results[i])
        except BaseException:
            for ref in index_of:
                ray.cancel(ref, force=True)
            raise
        return results

    def close(self) -> None:
        """Shut Ray down if this backend started it."""
        if self._owns:
            _import_ray().shutdown()
            self._owns = False


# ------------------------------------------------------------------ factory
def make_backend(name: str = "local", workers: int | None = None, address: str | None = None) -> Backend:
    """The backend called ``name`` with ``workers`` workers.

    Parameters
    ----------
    name : {"serial", "local", "ray"}
    workers : int or None
        Worker processes (local; default all CPUs) or tasks at once (ray).
        Ignored by ``serial``.
    address : str or None
        Ray cluster to join (ray only; see :class:`RayBackend`).

    Raises
    ------
    BackendError
        Unknown name, bad worker count, an address given to a backend other than
        ray, Ray not installed or not answering at ``address``.

    Examples
    --------
    >>> make_backend("serial").describe()
    'serial (1 worker)'
    >>> make_backend("local", 2).describe()
    'local (2 workers)'
    """
    if name not in BACKEND_NAMES:
        raise BackendError(f"backend must be one of {list(BACKEND_NAMES)}, got {name!r}")
    if workers is not None:
        _check_workers(workers)
    if address is not None and name != "ray":
        raise BackendError(f"a Ray address ({address!r}) needs the ray backend, not {name!r}")
    if name == "serial":
        return SerialBackend()
    if name == "local":
        return LocalBackend(workers)
    return RayBackend(workers, address=address)
