"""``causalnet report RUN_DIR``: redraw the figures and rewrite the report from a run's saved results.

Nothing is recomputed: the figures and ``report.md``/``report.html`` are built from the
JSON files of the run folder (see ``docs/pipeline.md``). A folder without the full
results but with a streamed log (an interrupted ``causalnet run``, or a ``causalnet
train`` folder) gets ``figures/progress_curves.png`` drawn from ``progress.jsonl``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["NAME", "HELP", "add_arguments", "run"]

NAME = "report"
HELP = "rebuild the figures and the report of a finished run folder (no recomputation)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``causalnet report``."""
    parser.add_argument("run_dir", metavar="RUN_DIR",
                        help="folder written by causalnet run (or any folder with a progress.jsonl: its curves only)")
    parser.add_argument("--agent", type=int, default=None,
                        help="agent drawn in the structure and ACR figures (default: the run's choice)")


def run(args: argparse.Namespace) -> int:
    """Rebuild figures and report; print their paths."""
    from analysis.report import ReportError, build_progress_report, build_report  # matplotlib loads lazily
    from causalnet.progress_log import PROGRESS_JSONL

    if args.agent is not None and args.agent < 0:
        raise ValueError(f"--agent: must be an integer >= 0, got {args.agent}")
    folder = Path(args.run_dir)
    try:
        if (folder / "network.json").is_file():   # a run on your own system (causalnet_cli/pipeline/own_stages.py)
            from analysis.own_report import build_own_report
            written = build_own_report(folder)
        else:
            written = build_report(folder, agent=args.agent)
    except ReportError as exc:
        if not (folder / PROGRESS_JSONL).is_file():
            raise ValueError(str(exc)) from exc
        # an unfinished run, or a `causalnet train` folder: the curves of its streamed log only
        written = build_progress_report(folder)
        print(f"causalnet report: {folder} has no full results ({exc}); drew the curves of its progress log only",
              file=sys.stderr)
    for path in written:
        print(path)
    return 0
