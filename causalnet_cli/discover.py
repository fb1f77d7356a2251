"""``causalnet discover``: learn the factored transition graph, domain factors and ACRs.

Two sources of data:

* an environment (``--env wireless|synthetic`` and its flags): ``--trajectories``
  episodes of ``--horizon`` steps per source domain (``--domains``) under the
  uniformly random policy, collected with :func:`rl.rollout.collect_transitions`
  and saved as ``OUT/data.npz`` + ``OUT/data.json``; the environment's true graph
  is the ground truth, so ``OUT/structure_metrics.json`` is written too;
* a saved :class:`~causalnet.data.Transitions` file (``--data FILE.npz``), with an
  optional ground-truth graph (``--truth GRAPH.json``).

Discovery (``--method local`` = :class:`~causalnet.discovery.LocalDiscovery`,
``global-pc``/``cdnod`` = :class:`~causalnet.discovery_global.GlobalDiscovery`)
gives ``OUT/graph.json``; :class:`~causalnet.domain_factors.DomainFactorEstimator`
gives ``OUT/domain_factors.json``; :mod:`causalnet.acr` gives ``OUT/acr.json``.
``OUT/discovery_config.json`` records the resolved options and timings. Every
result is computed before the first file is written, and each file is written
atomically, so a failed run leaves no partial output. See ``docs/cli-discover.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from causalnet.acr import acr_table, domain_acr, policy_acr, value_acr
from causalnet.data import Transitions
from causalnet.discovery import LocalDiscovery, hops_warning
from causalnet.discovery_global import GlobalDiscovery
from causalnet.domain_factors import DomainFactorEstimator
from causalnet.domain_factors_continuous import ContinuousDomainFactorEstimator, make_domain_factor_estimator
from causalnet.graph import FactoredGraph, GraphError
from causalnet.graph_metrics import EDGE_TYPES, compare_graphs
from causalnet.io import atomic_write_json, json_ready
from causalnet_cli.envs import add_env_arguments, build_env, parse_float_list
from causalnet_cli.outputs import add_force_argument, check_out_dir, clear_out_dir

__all__ = ["NAME", "HELP", "DEFAULT_TRAJECTORIES", "METHODS", "add_arguments", "run", "discover"]

NAME = "discover"
HELP = "discover the factored transition graph, domain factors and ACRs from data or an environment"

#: Episodes per source domain when collecting from an environment: the sample budget
#: of ``docs/discovery.md`` (20,000 episodes x 10 steps x 3 domains = 600,000 rows on
#: the g = 3 wireless network).
DEFAULT_TRAJECTORIES = 20_000
#: ``--method`` choices.
METHODS = ("local", "global-pc", "cdnod")
_CI_TESTS = ("auto", "gsq", "chisq", "fisherz", "regression", "additive", "kci", "fastkci", "rcit")
_FILES = {"graph": "graph.json", "acr": "acr.json", "domain_factors": "domain_factors.json",
          "structure_metrics": "structure_metrics.json", "config": "discovery_config.json"}
_DATA_STEM = "data"

logger = logging.getLogger(__name__)


# ------------------------------------------------------------------ flags
def _optional_int(text: str) -> int | None:
    """argparse type: an integer >= 0, or ``none`` for no limit."""
    if str(text).strip().lower() == "none":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0 or 'none', got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0 or 'none', got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``causalnet discover``."""
    before = set(id(a) for a in parser._actions)
    add_env_arguments(parser)
    env_flags = {a.dest: (a.default, a.option_strings[0]) for a in parser._actions
                 if id(a) not in before and a.option_strings}
    parser.set_defaults(_env_flag_defaults=env_flags)

    src = parser.add_argument_group("data")
    src.add_argument("--data", default=None, metavar="FILE.npz",
                     help="discover from a saved Transitions dataset (FILE.npz + FILE.json) instead of "
                          "collecting from --env; environment and collection flags are then not allowed")
    src.add_argument("--truth", default=None, metavar="GRAPH.json",
                     help="ground-truth graph (graph.json format) to score a --data run against")
    src.add_argument("--domains", default=None, metavar="W1,W2,...",
                     help="domain factor of each source domain, in [0, 1] (wireless: arrival "
                          "probability; default 0.2,0.5,0.8)")
    src.add_argument("--trajectories", type=int, default=None, metavar="N",
                     help=f"episodes collected per source domain (default {DEFAULT_TRAJECTORIES}, the "
                          "documented discovery budget)")
    src.add_argument("--horizon", type=int, default=None, help="steps per episode (default 10)")
    src.add_argument("--seed", type=int, default=None, help="seed of the data collection (default 0)")

    disc = parser.add_argument_group("discovery")
    disc.add_argument("--method", choices=METHODS, default="local",
                      help="local: LocalDiscovery (per-target parent selection in the neighbourhood); "
                           "global-pc / cdnod: causal-learn's PC with tiers / CD-NOD over all variables "
                           "(default local)")
    disc.add_argument("--alpha", type=float, default=0.001, help="significance level (default 0.001)")
    disc.add_argument("--ci-test", choices=_CI_TESTS, default="auto",
                      help="conditional-independence test (default auto: gsq on discrete data, additive regression test on continuous data)")
    disc.add_argument("--max-cond-size", type=_optional_int, default=4, metavar="K",
                      help="cap on the conditioning-set size, or 'none' (default 4)")
    disc.add_argument("--hops", type=_optional_int, default=1, metavar="K",
                      help="local: candidates from the K-hop neighbourhood, or 'none' for all agents "
                           "(default 1)")
    disc.add_argument("--backend", choices=["fast", "causal-learn"], default="fast",
                      help="local: CI-test kernels (default fast; same p-values as causal-learn)")
    disc.add_argument("--jobs", type=int, default=1,
                      help="local: worker processes, -1 for all cores (default 1; used with >= 8 agents)")
    disc.add_argument("--kappa", type=int, default=1, help="ACR traceback horizon (default 1)")

    out = parser.add_argument_group("output")
    out.add_argument("--out", required=True, metavar="DIR",
                     help="output directory (created if needed; must be new or empty unless --force)")
    add_force_argument(out)
    out.add_argument("--json", action="store_true", help="print one JSON summary on stdout")
    out.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                     help="progress bar on stderr (default: on when stderr is a terminal)")


def _check_flags(args: argparse.Namespace) -> None:
    if not 0.0 < args.alpha < 1.0:
        raise ValueError(f"--alpha: must lie in (0, 1), got {args.alpha}")
    if args.kappa < 0:
        raise ValueError(f"--kappa: must be an integer >= 0, got {args.kappa}")
    if args.jobs == 0 or args.jobs < -1:
        raise ValueError(f"--jobs: must be a positive integer or -1 (all cores), got {args.jobs}")
    if args.method != "local":
        for flag, value, default in (("--hops", args.hops, 1), ("--backend", args.backend, "fast"),
                                     ("--jobs", args.jobs, 1)):
            if value != default:
                raise ValueError(f"{flag} applies to --method local only (got --method {args.method})")
    if args.data is None:
        if args.env == "wireless" and str(getattr(args, "arrival", "0.5")) != "0.5":
            raise ValueError("--arrival is the wireless domain factor, which --domains sets for each source "
                             "domain during collection; give the domains with --domains")
        if args.truth is not None:
            raise ValueError("--truth needs --data (an environment brings its own ground truth)")
        for flag, value, least in (("--trajectories", args.trajectories, 1), ("--horizon", args.horizon, 1),
                                   ("--seed", args.seed, 0)):
            if value is not None and value < least:
                raise ValueError(f"{flag}: must be an integer >= {least}, got {value}")
        return
    given = [flag for flag, value in (("--domains", args.domains), ("--trajectories", args.trajectories),
                                      ("--horizon", args.horizon), ("--seed", args.seed))
             if value is not None]
    env_defaults: dict[str, tuple[Any, str]] = getattr(args, "_env_flag_defaults", {})
    given += [flag for dest, (default, flag) in env_defaults.items() if getattr(args, dest, default) != default]
    if given:
        raise ValueError(f"--data cannot be combined with {', '.join(given)} (those flags describe "
                         "data collection from an environment)")


def _parse_domains(text: str | None) -> list[float]:
    values = np.atleast_1d(parse_float_list("0.2,0.5,0.8" if text is None else text, "--domains")).tolist()
    if any(not 0.0 <= w <= 1.0 for w in values):
        raise ValueError(f"--domains: domain factors must lie in [0, 1], got {values}")
    return [float(w) for w in values]


def _out_dir(args: argparse.Namespace) -> Path:
    return check_out_dir(args.out, force=getattr(args, "force", False))


# ------------------------------------------------------------------ progress
class _Stages:
    """A stage-level tqdm bar on stderr (or nothing), and per-stage wall times."""

    def __init__(self, names: list[str], enabled: bool) -> None:
        self.seconds: dict[str, float] = {}
        self._bar = None
        if enabled:
            from tqdm.auto import tqdm
            self._bar = tqdm(total=len(names), desc="discover", unit="stage", file=sys.stderr, leave=False)

    def run(self, name: str) -> "_StageTimer":
        return _StageTimer(self, name)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


class _StageTimer:
    def __init__(self, stages: _Stages, name: str) -> None:
        self.stages, self.name = stages, name

    def __enter__(self) -> None:
        if self.stages._bar is not None:
            self.stages._bar.set_postfix_str(self.name)
        self.start = time.perf_counter()

    def __exit__(self, *exc: Any) -> None:
        self.stages.seconds[self.name] = round(time.perf_counter() - self.start, 3)
        if self.stages._bar is not None and exc[0] is None:
            self.stages._bar.update(1)


# ------------------------------------------------------------------ pipeline
def _load_data(path: str) -> Transitions:
    try:
        return Transitions.load(path)
    except ValueError as exc:
        raise ValueError(f"--data: {exc}") from exc


def _load_truth(path: str, data: Transitions) -> FactoredGraph:
    try:
        truth = FactoredGraph.load(path)
    except GraphError as exc:
        raise ValueError(f"--truth: {exc}") from exc
    if truth.spec != data.spec:
        raise ValueError(f"--truth: {path} describes other variables than the --data spec "
                         "(names, owners, cardinalities or interaction graph differ)")
    return truth


def _estimator(args: argparse.Namespace) -> LocalDiscovery | GlobalDiscovery:
    if args.method == "local":
        return LocalDiscovery(alpha=args.alpha, ci_test=args.ci_test, max_cond_size=args.max_cond_size,
                              neighborhood_hops=args.hops, backend=args.backend, n_jobs=args.jobs)
    return GlobalDiscovery(method="pc" if args.method == "global-pc" else "cdnod", alpha=args.alpha,
                           ci_test=args.ci_test, max_cond_size=args.max_cond_size)


def _acr_result(graph: FactoredGraph, truth: FactoredGraph | None, kappa: int) -> dict[str, Any]:
    agents = []
    for i in range(graph.spec.n_agents):
        row: dict[str, Any] = {"agent": i,
                               "value_acr": value_acr(graph, i, kappa=kappa),
                               "policy_acr": policy_acr(graph, i, kappa=kappa),
                               "domain_acr": domain_acr(graph, i, kappa=kappa)}
        if truth is not None:
            row["true_value_acr"] = value_acr(truth, i, kappa=kappa)
            row["true_policy_acr"] = policy_acr(truth, i, kappa=kappa)
            row["true_domain_acr"] = domain_acr(truth, i, kappa=kappa)
        agents.append(row)
    out: dict[str, Any] = {"kappa": kappa, "agents": agents, "table": acr_table(graph, kappa=kappa)}
    if truth is not None:
        out["agents_matching_truth"] = sum(
            r["value_acr"] == r["true_value_acr"] and r["policy_acr"] == r["true_policy_acr"]
            and r["domain_acr"] == r["true_domain_acr"] for r in agents)
    return out


def _domain_factor_result(est: DomainFactorEstimator, data: Transitions) -> dict[str, Any]:
    """JSON summary of an estimator fitted on ``data``: per-domain ``w_hat`` beside the true factors."""
    true = data.domain_factors
    continuous = isinstance(est, ContinuousDomainFactorEstimator)  # w_hat: a score, not on the factor's scale
    domains = []
    for m in range(est.w_hat_.shape[0]):
        row: dict[str, Any] = {"domain": m, "w_hat": est.w_hat_[m], "stderr": est.stderr_[m],
                               "true": None if true is None else true[m]}
        if true is not None and not continuous:
            err = np.abs(est.w_hat_[m] - true[m])
            row["max_abs_error"] = float(np.nanmax(err)) if np.isfinite(err).any() else None
        domains.append(row)
    agents = [i for i in range(est.w_hat_.shape[1]) if np.isfinite(est.w_hat_[:, i]).all()]
    out = {"affected": est.affected_, "agents_with_factor": agents,
           "true_factors_known": true is not None, "domains": domains}
    if continuous:
        out["estimator"] = "continuous"
        out["changing_parameters"] = est.changing_
    return out


def discover(args: argparse.Namespace) -> dict[str, Any]:
    """Run the whole command on parsed ``args``; return the JSON summary (files written)."""
    _check_flags(args)
    out_dir = _out_dir(args)
    progress = sys.stderr.isatty() if args.progress is None else bool(args.progress)
    from_env = args.data is None
    stage_names = (["collect"] if from_env else ["load"]) + ["discover", "domain factors", "acr", "write"]
    stages = _Stages(stage_names, progress)
    started = time.perf_counter()
    captured: list[str] = []
    try:
        # --- data
        if from_env:
            env = build_env(args)
            domains = _parse_domains(args.domains)
            trajectories = DEFAULT_TRAJECTORIES if args.trajectories is None else args.trajectories
            horizon = 10 if args.horizon is None else args.horizon
            seed = 0 if args.seed is None else args.seed
            from rl.rollout import collect_transitions
            with stages.run("collect"):
                data = collect_transitions(env, None, episodes=trajectories, horizon=horizon,
                                           domain_factors=domains, rng=np.random.default_rng(seed))
            truth: FactoredGraph | None = env.true_graph()
            source: dict[str, Any] = {
                "kind": "env", "env": env.config() if hasattr(env, "config") else {"env": args.env},
                "domains": domains, "trajectories_per_domain": trajectories, "horizon": horizon,
                "seed": seed, "policy": "uniform"}
        else:
            with stages.run("load"):
                data = _load_data(args.data)
                truth = None if args.truth is None else _load_truth(args.truth, data)
            source = {"kind": "data", "path": str(args.data), "truth": args.truth}
        source.update(n_rows=len(data), n_domains=data.n_domains, n_episodes=data.n_episodes,
                      n_agents=data.spec.n_agents, n_state=data.spec.n_state)

        # --- discovery, domain factors, ACRs (everything computed before any write)
        if args.method == "local" and truth is not None and (msg := hops_warning(truth, args.hops)):
            captured.append(msg)
        estimator = _estimator(args)
        with stages.run("discover"), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            estimator.fit(data)
        captured += [str(w.message) for w in caught]
        graph = estimator.graph_
        with stages.run("domain factors"):
            factors = _domain_factor_result(make_domain_factor_estimator(graph).fit(data), data)
        with stages.run("acr"):
            acr = _acr_result(graph, truth, args.kappa)
        metrics = None if truth is None else compare_graphs(graph, truth)

        # --- write
        with stages.run("write"):
            if getattr(args, "force", False):
                clear_out_dir(out_dir)
            paths = _write_outputs(out_dir, data if from_env else None, graph, acr, factors, metrics)
            seconds = dict(stages.seconds, total=round(time.perf_counter() - started, 3))
            config = {"command": NAME, "source": source,
                      "discovery": _discovery_info(args, estimator), "kappa": args.kappa,
                      "warnings": captured, "files": {k: str(v) for k, v in paths.items()},
                      "seconds": seconds}
            paths["config"] = atomic_write_json(out_dir / _FILES["config"], json_ready(config))
    finally:
        stages.close()
    return _summary(out_dir, paths, data, graph, metrics, acr, captured, dict(stages.seconds,
                    total=round(time.perf_counter() - started, 3)))


def _discovery_info(args: argparse.Namespace, estimator: Any) -> dict[str, Any]:
    info: dict[str, Any] = {"method": args.method, "params": {k: v for k, v in estimator.get_params().items()}}
    for attr in ("n_tests_", "n_underpowered_tests_", "n_ignored_edges_", "constant_columns_", "fit_seconds_"):
        if hasattr(estimator, attr):
            info[attr.rstrip("_")] = getattr(estimator, attr)
    return info


def _write_outputs(out_dir: Path, data: Transitions | None, graph: FactoredGraph, acr: dict[str, Any],
                   factors: dict[str, Any], metrics: dict[str, Any] | None) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    if data is not None:
        paths["data"], paths["data_spec"] = data.save(out_dir / _DATA_STEM)
    paths["graph"] = graph.save(out_dir / _FILES["graph"])
    paths["acr"] = atomic_write_json(out_dir / _FILES["acr"], json_ready(acr))
    paths["domain_factors"] = atomic_write_json(out_dir / _FILES["domain_factors"], json_ready(factors))
    stale = out_dir / _FILES["structure_metrics"]
    if metrics is not None:
        paths["structure_metrics"] = atomic_write_json(stale, json_ready(metrics))
    elif stale.exists():
        stale.unlink()  # from an earlier run with ground truth; it would not describe this graph
        logger.info("removed stale %s", stale)
    return paths


def _summary(out_dir: Path, paths: dict[str, Path], data: Transitions, graph: FactoredGraph,
             metrics: dict[str, Any] | None, acr: dict[str, Any], captured: list[str],
             seconds: dict[str, float]) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "command": NAME, "out": str(out_dir), "files": {k: str(v) for k, v in paths.items()},
        "n_rows": len(data), "n_domains": data.n_domains, "n_agents": data.spec.n_agents,
        "n_edges": graph.n_edges(), "domain_affected": graph.domain_affected,
        "mean_value_acr_dim": float(np.mean([r["acr_dim"] for r in acr["table"]])),
        "warnings": captured, "seconds": seconds}
    if metrics is not None:
        summary["structure_metrics"] = {
            **{k: metrics[k] for k in ("precision", "recall", "f1", "shd")},
            "by_mask": {kind: {k: metrics["by_mask"][kind][k] for k in ("precision", "recall", "f1", "shd")}
                        for kind in EDGE_TYPES}}
    if "agents_matching_truth" in acr:
        summary["acr_agents_matching_truth"] = acr["agents_matching_truth"]
    return json_ready(summary)


def _print_human(summary: dict[str, Any]) -> None:
    err = sys.stderr
    print(f"discovered {summary['n_edges']} edges from {summary['n_rows']} rows "
          f"({summary['n_domains']} domains, {summary['n_agents']} agents) in "
          f"{summary['seconds']['total']:.1f} s; {len(summary['domain_affected'])} domain-affected "
          f"coordinates; mean value-ACR size {summary['mean_value_acr_dim']:.2f}", file=err)
    metrics = summary.get("structure_metrics")
    if metrics is not None:
        print(f"vs ground truth: F1 {metrics['f1']:.3f}  precision {metrics['precision']:.3f}  "
              f"recall {metrics['recall']:.3f}  SHD {metrics['shd']}", file=err)
        for kind, m in metrics["by_mask"].items():
            print(f"  {kind:<15} F1 {m['f1']:.3f}  SHD {m['shd']}", file=err)
        if "acr_agents_matching_truth" in summary:
            print(f"ACRs equal to the true ones for {summary['acr_agents_matching_truth']} of "
                  f"{summary['n_agents']} agents", file=err)
    for message in summary["warnings"]:
        print(f"warning: {message}", file=err)
    for path in summary["files"].values():
        print(f"wrote {path}", file=err)


def interrupt_hint(args: argparse.Namespace) -> str:
    """Printed after Ctrl-C: discover writes its files only at the end."""
    return f"nothing was written to {args.out} (files are written only once every result is computed)"


def run(args: argparse.Namespace) -> int:
    """Run the command: write the files, print a summary (stderr, or JSON on stdout with --json)."""
    summary = discover(args)
    _print_human(summary)
    if args.json:
        print(json.dumps(summary, indent=2))
    return 0
