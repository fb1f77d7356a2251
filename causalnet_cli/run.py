"""``causalnet run``: the whole pipeline, from source data to the report, in one command.

Stages: collect source data, discover the graph, derive ACRs, estimate domain factors,
meta-train GSAC and the baselines, adapt to the target, compute metrics, draw the
figures and write the report. Without ``--config`` it runs the paper's default
(wireless benchmark, 3 x 3 access points, sources 0.2/0.5/0.8, target 0.65). See
``docs/pipeline.md``.
"""

from __future__ import annotations

import argparse
import json
import sys

from causalnet.backends import BackendError
from causalnet_cli.backend_args import add_backend_arguments, backend_from_args
from causalnet_cli.outputs import add_force_argument
from causalnet_cli.pipeline import ConfigError, RunFolder, RunFolderError, load_config, run_pipeline

__all__ = ["NAME", "HELP", "add_arguments", "check_own_system_flags", "interrupt_hint", "own_system_overrides",
           "run"]

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

    own = parser.add_argument_group("your own system (docs/tutorial-own-system.md)")
    own.add_argument("--data", metavar="SRC", help="source logs: a wide .csv, .parquet or .npz table "
                                                   "(sets env.kind = \"data\", env.data)")
    own.add_argument("--target-data", metavar="TGT", help="logs of the target domain (env.target_data)")
    own.add_argument("--network", metavar="NET", help="network file, .toml or .json (env.network)")
    own.add_argument("--env", dest="factory", metavar="MODULE:FACTORY",
                     help="your PettingZoo simulator (env.factory); without --data the logs are collected from it "
                          "(env.kind = \"pettingzoo\"), with --data it evaluates the policies side by side")


def interrupt_hint(args: argparse.Namespace) -> str:
    """Printed after Ctrl-C: finished stages are kept and can be resumed."""
    return f"the finished stages are kept; continue with: causalnet run --resume --out {args.out}"


def check_own_system_flags(args: argparse.Namespace) -> None:
    """Refuse empty values, a malformed ``--env`` and flags without their partners (ValueError naming the flag)."""
    given = {flag: getattr(args, dest, None) for flag, dest in (("--data", "data"), ("--target-data", "target_data"),
                                                                 ("--network", "network"), ("--env", "factory"))}
    for flag, value in given.items():
        if value is not None and not value.strip():
            raise ValueError(f"{flag}: empty value; give a path" + (" or package.module:factory" if flag == "--env"
                                                                     else ""))
    factory = given["--env"]
    if factory is not None and (factory.count(":") != 1 or not all(p.strip() for p in factory.split(":"))):
        raise ValueError(f"--env {factory!r}: expected package.module:factory (a module path, a colon, a function)")
    if args.config is not None or any(o.strip().startswith("env.") for o in args.overrides):
        return   # the configuration may supply the partners
    if given["--target-data"] is not None and given["--data"] is None:
        raise ValueError("--target-data needs --data (the source logs)")
    for flag in ("--data", "--env"):
        if given[flag] is not None and given["--network"] is None:
            raise ValueError(f"{flag} needs --network NET (the network file naming agents, edges and columns)")
    if given["--network"] is not None and given["--data"] is None and given["--env"] is None:
        raise ValueError("--network needs --data SRC or --env MODULE:FACTORY")
    if given["--data"] is not None and given["--target-data"] is None:
        raise ValueError("--data needs --target-data TGT (logs of the target domain, to estimate its factor)")


def own_system_overrides(args: argparse.Namespace) -> list[str]:
    """``--set`` overrides equivalent to ``--data/--target-data/--network/--env`` (applied before ``--set``)."""
    out = []
    data, factory = getattr(args, "data", None), getattr(args, "factory", None)
    if data:
        out += ["env.kind=data", f"env.data={json.dumps(data)}"]
    elif factory:
        out.append("env.kind=pettingzoo")
    if factory:
        out.append(f"env.factory={json.dumps(factory)}")
    if getattr(args, "target_data", None):
        out.append(f"env.target_data={json.dumps(args.target_data)}")
    if getattr(args, "network", None):
        out.append(f"env.network={json.dumps(args.network)}")
    return out


def run(args: argparse.Namespace) -> int:
    """Run the pipeline; print where the report is."""
    if args.force and args.resume:
        print("causalnet run: error: --force and --resume exclude each other (replace the folder, or continue "
              "it)", file=sys.stderr)
        return 2
    try:
        check_own_system_flags(args)
        if not args.resume:
            RunFolder(args.out).check_new(force=args.force)    # before any work
        overrides = own_system_overrides(args) + list(args.overrides)
        given = args.config is not None or args.quick or bool(overrides)
        config = load_config(args.config, quick=args.quick, overrides=overrides) if given else None
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
    print(f"metrics: {summary.folder / 'metrics.json'}")
    print(f"report:  {summary.report}  (HTML: {summary.folder / 'report.html'})")
    return 0
