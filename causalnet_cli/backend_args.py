"""The ``--backend/--workers/--ray-address`` flags shared by ``causalnet run`` and ``causalnet sweep``."""

from __future__ import annotations

import argparse
import contextlib
from typing import Iterator

from causalnet.backends import BACKEND_NAMES, Backend, BackendError, make_backend, parse_ray_address

__all__ = ["add_backend_arguments", "backend_from_args", "resolve_backend_name"]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _ray_address(text: str) -> str:
    try:
        return parse_ray_address(text)
    except BackendError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_backend_arguments(parser: argparse.ArgumentParser, *, what: str, default: str | None) -> None:
    """Add ``--backend``, ``--workers`` and ``--ray-address`` to ``parser``.

    ``what`` says what the workers run (for ``--help``); ``default`` is the backend
    used when no flag is given (None: the command's own default).
    """
    shown = default if default is not None else "none: the configuration's discovery.n_jobs processes"
    parser.add_argument("--backend", choices=BACKEND_NAMES, default=None,
                        help=f"where {what} run: serial, local (a process pool on this machine) or ray "
                             f"(default: {shown}; results do not depend on it)")
    parser.add_argument("--workers", type=_positive_int, default=None, metavar="N",
                        help="worker processes (local; default: all CPUs) or tasks at once (ray)")
    parser.add_argument("--ray-address", type=_ray_address, default=None, metavar="ADDRESS",
                        help="join this Ray cluster (auto, host:port or ray://host:port; implies --backend ray; "
                             "default: a new local Ray instance)")
    parser.set_defaults(_backend_default=default)


def resolve_backend_name(args: argparse.Namespace) -> str | None:
    """The backend the flags ask for (None: none asked and no default)."""
    name = args.backend
    if name is None and args.ray_address is not None:
        name = "ray"
    if name is None and args.workers is not None:
        name = getattr(args, "_backend_default", None) or "local"
    if name is None:
        name = getattr(args, "_backend_default", None)
    if args.ray_address is not None and name != "ray":
        raise BackendError(f"--ray-address {args.ray_address} needs --backend ray, not --backend {name}")
    return name


@contextlib.contextmanager
def backend_from_args(args: argparse.Namespace) -> Iterator[Backend | None]:
    """The backend of the flags (None if none was asked for), closed on exit."""
    name = resolve_backend_name(args)
    if name is None:
        yield None
        return
    backend = make_backend(name, args.workers, args.ray_address)
    try:
        yield backend
    finally:
        backend.close()
