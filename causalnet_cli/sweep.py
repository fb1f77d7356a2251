"""``causalnet sweep``: run the pipeline over a grid of configurations, then aggregate.

A TOML sweep file gives a base configuration and axes (``docs/scaling.md``); every
cell (one combination of axis values) is one ``causalnet run`` in ``OUT/cells/``,
run on a backend (a local process pool, Ray, or serially). The results are one table
(mean and 95% CI per setting and method over the ``seed`` axis) and one figure.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from causalnet.backends import BackendError
from causalnet_cli.backend_args import add_backend_arguments, backend_from_args
from causalnet_cli.outputs import check_out_dir
from causalnet_cli.sweeps.runner import SweepFolder, run_sweep
from causalnet_cli.sweeps.spec import SweepError, load_sweep

__all__ = ["NAME", "HELP", "add_arguments", "run"]

NAME = "sweep"
HELP = "run the pipeline for every cell of a TOML sweep file (base config + axes) and aggregate the results"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``causalnet sweep``."""
    parser.add_argument("spec", metavar="SPEC.toml", help="sweep file: [base] configuration and [axes] (docs/scaling.md)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="sweep folder (new or empty, unless --resume or --force; on a Ray cluster it must "
                             "be on a file system shared by every node)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--resume", action="store_true", help="keep the finished cells in DIR, run the others")
    group.add_argument("--force", action="store_true", help="delete the sweep in DIR and start over")
    parser.add_argument("--quick", action="store_true", help="start every cell from the --quick budgets of run")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no per-cell lines")
    add_backend_arguments(parser, what="the cells", default="local")


def interrupt_hint(args: argparse.Namespace) -> str:
    """Printed after Ctrl-C: finished cells are kept and can be resumed."""
    return (f"the finished cells are kept; continue with: causalnet sweep {args.spec} --out {args.out} --resume")


def run(args: argparse.Namespace) -> int:
    """Validate everything, then run the cells; print where the table and figure are."""
    try:
        check_out_dir(args.out, force=args.force, resume=args.resume, resumable=True)   # before reading anything
        spec = load_sweep(args.spec, quick=args.quick)
        SweepFolder(args.out).check(spec, resume=args.resume, force=args.force)
        text = Path(args.spec).read_text(encoding="utf-8")
        with backend_from_args(args) as backend:
            summary = run_sweep(spec, args.out, backend=backend, resume=args.resume, force=args.force,
                                progress=args.progress, source_text=text)
    except (SweepError, BackendError) as exc:
        print(f"causalnet sweep: error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(summary.ran)} cell(s) run, {len(summary.reused)} reused, {len(summary.failed)} failed "
          f"in {summary.seconds:.1f} s")
    if summary.failed:
        for name in summary.failed:
            print(f"  {name}: {summary.errors[name]}", file=sys.stderr)
        print(f"fix the cause and continue with: causalnet sweep {args.spec} --out {summary.folder} --resume",
              file=sys.stderr)
        return 1
    print(f"table:  {summary.files['md']}  (also .csv, .json)")
    print(f"figure: {summary.files['figure']}")
    return 0
