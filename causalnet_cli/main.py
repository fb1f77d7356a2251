"""Entry point of the ``causalnet`` command: one sub-command per module.

Each sub-command module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``. Add a module to ``_COMMANDS`` to register it.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Sequence

__all__ = ["main", "build_parser"]

_COMMANDS = [
    "causalnet_cli.simulate",
    "causalnet_cli.discover",
    "causalnet_cli.train",
    "causalnet_cli.evaluate",
    "causalnet_cli.adapt",
    "causalnet_cli.run",
    "causalnet_cli.sweep",
    "causalnet_cli.report",
]


class CommandError(Exception):
    """A user-facing error: printed without a traceback, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every registered sub-command."""
    parser = argparse.ArgumentParser(
        prog="causalnet",
        description="Causal discovery and GSAC for networked multi-agent reinforcement learning.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in _COMMANDS:
        module = importlib.import_module(module_name)
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen sub-command; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args._run(args) or 0)
    except (CommandError, ValueError, FileNotFoundError) as exc:
        print(f"causalnet {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
