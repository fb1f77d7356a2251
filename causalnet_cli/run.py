"""``causalnet run``: the whole pipeline, from source data to the report, in one command.

Stages: collect source data, discover the graph, derive ACRs, estimate domain factors,
meta-train GSAC and the baselines, adapt to the target, compute metrics, draw the
figures and write the report. Without ``--config`` it runs the paper's default
(wireless benchmark, 3 x 3 access points, sources 0.2/0.5/0.8, target 0.65). See
``docs/pipeline.md``.
"""

from __future__ import annotations

import argparse
import sys

from causalnet.backends import BackendError
from causalnet_cli.backend_args import add_backend_arguments, backend_from_args
from causalnet_cli.outputs import add_force_argument
from causalnet_cli.pipeline import ConfigError, RunFolder, RunFolderError, load_config, run_pipeline
from causalnet_cli.pipeline.stages import CONTINUOUS_KINDS, CONTINUOUS_STOP_MESSAGE

__all__ = ["NAME", "HELP", "add_arguments", "run"]

NAME = "run"
HELP = "run the whole pipeline (data, discovery, ACRs, GSAC and baselines, adaptation, figures, report)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``causalnet run``."""
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="results folder (must be new or empty, unless --force or --resume)")
    add_force_argument(parser)
    parser.add_argument("--config", metavar="FILE.toml", help="TOML configuration (keys: docs/pipeline.md)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run of every stage in about a minute (small data, short training)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one key, e.g. --set train.iterations=5000 (repeatable; applied last)")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run in --out, skipping the stages it finished")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bars on stderr (default: on when stderr is a terminal); --no-progress "
                             "also silences the stage messages (only the final lines are printed)")
    add_backend_arguments(parser, what="discovery's groups of agents", default=None)


def interrupt_hint(args: argparse.Namespace) -> str:
    """Printed after Ctrl-C: finished stages are kept and can be resumed."""
    return f"the finished stages are kept; continue with: causalnet run --resume --out {args.out}"


def run(args: argparse.Namespace) -> int:
    """Run the pipeline; print where the report is."""
    if args.force and args.resume:
        print("causalnet run: error: --force and --resume exclude each other (replace the folder, or continue "
              "it)", file=sys.stderr)
        return 2
    try:
        if not args.resume:
            RunFolder(args.out).check_new(force=args.force)    # before any work
        given = args.config is not None or args.quick or bool(args.overrides)
        config = load_config(args.config, quick=args.quick, overrides=args.overrides) if given else None
        if config is None and not args.resume:
            config = load_config()
        with backend_from_args(args) as executor:
            summary = run_pipeline(config, args.out, resume=args.resume, progress=args.progress is not False,
                                   bars=None if args.progress is None else args.progress, force=args.force,
                                   executor=executor)
    except (ConfigError, RunFolderError, BackendError) as exc:
        print(f"causalnet run: error: {exc}", file=sys.stderr)
        return 2
    if summary.skipped:
        print(f"reused {len(summary.skipped)} finished stage(s): {', '.join(summary.skipped)}")
    print(f"finished {len(summary.ran)} stage(s) in {summary.seconds:.1f} s")
    if not (summary.folder / "metrics.json").exists() and summary.config.env.kind in CONTINUOUS_KINDS:
        print(CONTINUOUS_STOP_MESSAGE)
        print(f"results: {summary.folder} (graph.json, acr.json, domain_factors.json)")
        return 0
    print(f"metrics: {summary.folder / 'metrics.json'}")
    print(f"report:  {summary.report}  (HTML: {summary.folder / 'report.html'})")
    return 0
