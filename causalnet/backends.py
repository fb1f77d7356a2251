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

import os
import pickle
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


# the Ray backend lives in its own module; imported last (it builds on the classes above)
from causalnet.backends_ray import RayBackend, check_ray_address, parse_ray_address  # noqa: E402
