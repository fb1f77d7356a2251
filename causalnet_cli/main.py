"""Entry point of the ``causalnet`` command: one sub-command per module.

Each sub-command module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``; it may define ``interrupt_hint(args) -> str | None``, the
sentence printed after Ctrl-C (how to resume). Add a module to ``_COMMANDS`` to
register it.

Exit status: 0 success, 2 a usage or input error (one ``causalnet CMD: error: ...``
line on stderr, no traceback), 130 interrupted by Ctrl-C.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from typing import NoReturn, Sequence

from causalnet import __version__
from causalnet.errors import CausalnetError
from causalnet_cli.outputs import error_line

__all__ = ["CommandError", "CommandParser", "EXIT_INTERRUPTED", "EXIT_USAGE", "build_parser", "main"]

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

#: Exit status of a usage or input error.
EXIT_USAGE = 2
#: Exit status after Ctrl-C (128 + SIGINT).
EXIT_INTERRUPTED = 130


class CommandError(CausalnetError):
    """A user-facing error: printed without a traceback, exit status 2."""


class CommandParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (exit 2), naming ``--help``."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("causalnet").strip() or None
        error_line(command, f"{message} (see {self.prog} --help)")
        self.exit(EXIT_USAGE)


def _help_text(text: str) -> str:
    """Help strings are %-formatted by argparse: a literal ``%`` must be doubled."""
    return text.replace("%", "%%").replace("%%(", "%(")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every registered sub-command."""
    parser = CommandParser(
        prog="causalnet",
        description="Causal discovery and GSAC for networked multi-agent reinforcement learning.")
    parser.add_argument("--version", action="version", version=f"causalnet {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in _COMMANDS:
        module = importlib.import_module(module_name)
        p = sub.add_parser(module.NAME, help=_help_text(module.HELP), description=module.HELP)
        module.add_arguments(p)
        for action in p._actions:                     # flags added by any module, now or later
            if action.help and action.help is not argparse.SUPPRESS:
                action.help = _help_text(action.help) if "%(" not in action.help else action.help
        p.set_defaults(_run=module.run, _interrupt_hint=getattr(module, "interrupt_hint", None))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen sub-command; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args._run(args) or 0)
    except BrokenPipeError:                  # e.g. `causalnet simulate | head`: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        hint = args._interrupt_hint(args) if args._interrupt_hint is not None else None
        print(f"causalnet {args.command}: interrupted" + (f"; {hint}" if hint else ""), file=sys.stderr,
              flush=True)
        return EXIT_INTERRUPTED
    except (CausalnetError, ValueError, OSError) as exc:
        error_line(args.command, exc)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
