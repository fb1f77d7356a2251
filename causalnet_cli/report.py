"""``causalnet report RUN_DIR``: redraw the figures and rewrite the report from a run's saved results.

Nothing is recomputed: the figures and ``report.md``/``report.html`` are built from the
JSON files of the run folder (see ``docs/pipeline.md``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["NAME", "HELP", "add_arguments", "run"]

NAME = "report"
HELP = "rebuild the figures and the report of a finished run folder (no recomputation)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``causalnet report``."""
    parser.add_argument("run_dir", metavar="RUN_DIR", help="folder written by causalnet run")
    parser.add_argument("--agent", type=int, default=None,
                        help="agent drawn in the structure and ACR figures (default: the run's choice)")


def run(args: argparse.Namespace) -> int:
    """Rebuild figures and report; print their paths."""
    from analysis.report import ReportError, build_report  # local: matplotlib loads only when needed

    if args.agent is not None and args.agent < 0:
        raise ValueError(f"--agent: must be an integer >= 0, got {args.agent}")
    folder = Path(args.run_dir)
    try:
        written = build_report(folder, agent=args.agent)
    except ReportError as exc:
        raise ValueError(str(exc)) from exc
    for path in written:
        print(path)
    return 0
