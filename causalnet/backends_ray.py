"""The Ray backend of :mod:`causalnet.backends` (``pip install 'causalnet[ray]'``).

Ray is imported only when a :class:`RayBackend` is created or an address is
checked. Import these names from :mod:`causalnet.backends`.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any

import numpy as np

from causalnet.backends import Backend, BackendError, TaskContext, TaskFunction, _check_workers

__all__ = ["RayBackend", "check_ray_address", "parse_ray_address"]

logger = logging.getLogger(__name__)


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
