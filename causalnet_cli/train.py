"""``causalnet train``: train GSAC or a SAC baseline and save metrics, policy and checkpoints.

The algorithm (``--algo``, :data:`rl.algorithms.ALGORITHMS`) is built by
:func:`rl.algorithms.make_trainer` on the environment of the environment flags:

* ``gsac``: ACR inputs of ``--graph`` (``true`` = the environment's ground truth, a
  ``graph.json`` file, or a ``causalnet discover`` output folder), trained over the
  source domains ``--domains``. The agents see the true source factors, except
  when ``--graph`` is a discover folder holding ``domain_factors.json``: then they
  see the factors estimated from its data;
* ``sac``: the reference Scalable Actor-Critic in the environment's own domain;
* ``sac-lfs``: SAC from scratch in the target domain ``--target``;
* ``sac-mtl``: SAC conditioned on the nearest source's one-hot code, over ``--domains``;
* ``sac-ft``: SAC pre-trained over ``--domains`` for ``--pretrain-iterations``, then
  fine-tuned in ``--target`` for ``--iterations`` (the curve is the fine-tuning).

Evaluation domain (curve and final metrics): ``--target`` when given, else the
environment's own factor (``--arrival``); the agents condition on its true factor.
Files: ``OUT/config.json`` (resolved configuration, written first),
``OUT/progress.csv`` and ``OUT/progress.jsonl`` (every curve point, appended as it is
measured), checkpoints under ``OUT/checkpoints/``, then ``OUT/policy/`` (policy bundle)
and ``OUT/metrics.json``. See ``docs/cli-train.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from causalnet.graph import FactoredGraph, GraphError
from causalnet.io import atomic_write_json
from causalnet.progress_log import PROGRESS_CSV, ProgressLog
from causalnet_cli.envs import build_env, parse_float_list
from causalnet_cli.evaluate import add_env_flags, evaluate_runs, factor_vector
from causalnet_cli.outputs import add_force_argument, check_out_dir, clear_out_dir
from rl.algorithms import ALGORITHMS, algorithm_config, make_trainer
from rl.gsac import GSACConfig

__all__ = ["NAME", "HELP", "add_arguments", "run", "train"]

NAME = "train"
HELP = "train GSAC or a SAC baseline; write metrics.json, the policy bundle and checkpoints"

_SOURCE_ALGOS = ("gsac", "sac-mtl", "sac-ft")
#: Mixed into each run's seed for the SAC-FT fine-tuning phase.
_FINETUNE_STREAM_TAG = 0x4654
_TARGET_ALGOS = ("sac-lfs", "sac-ft")
#: Fields of config.json that must agree with a checkpointed run to --resume it.
_RESUME_KEYS = ("algorithm", "env", "config", "graph", "source_factors", "source_w_hat", "target",
                "eval_domain_factor", "seed", "seeds", "eval_every", "eval_episodes", "checkpoint_every",
                "pretrain_iterations")


def _optional_int(text: str) -> int | None:
    if str(text).strip().lower() == "none":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer or 'none', got {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``causalnet train``."""
    parser.add_argument("--algo", choices=ALGORITHMS, default="gsac", help="algorithm (default gsac)")
    add_env_flags(parser)
    alg = parser.add_argument_group("algorithm")
    alg.add_argument("--kappa", type=int, default=1, help="neighbourhood radius (default 1)")
    alg.add_argument("--gamma", type=float, default=None,
                     help="discount (default 0.7; with --model, the run's network file)")
    alg.add_argument("--horizon", type=int, default=None,
                     help="T, steps per outer iteration (default 10; with --model, the run's)")
    alg.add_argument("--iterations", type=int, default=120_000,
                     help="outer iterations (sac-ft: fine-tuning iterations; default 120000)")
    alg.add_argument("--critic", choices=["persistent", "reset"], default="persistent",
                     help="persistent table (reference SAC) or reset every iteration (paper); default persistent")
    alg.add_argument("--actor", choices=["advantage", "reference"], default="advantage",
                     help="actor: advantages with running reward normalisation and the horizon step rule "
                          "(default), or the reference SAC actor (raw Q, reproduces the reference curve)")
    alg.add_argument("--actor-lr", type=float, default=5.0,
                     help="actor step eta (default 5; the advantage actor divides it by sum_t gamma^t)")
    alg.add_argument("--restart", type=_optional_int, default=100,
                     help="step-size restart period or 'none' (default 100)")
    alg.add_argument("--features", choices=["linear", "quadratic"], default="linear",
                     help="gsac: actor features of w_hat (default linear)")
    alg.add_argument("--critic-timing", choices=["current", "post_transition"], default="current",
                     help="critic key (s_t, a_t) or the reference code's (s_{t+1}, a_t) (default current)")
    dom = parser.add_argument_group("domains")
    dom.add_argument("--domains", default=None, metavar="W1,W2,...",
                     help="gsac, sac-mtl, sac-ft: source domain factors (default 0.2,0.5,0.8)")
    dom.add_argument("--graph", default=None, metavar="PATH|true",
                     help="gsac: 'true' (default), a graph.json, or a discover output folder (its graph.json "
                          "and, if present, domain_factors.json for the agents' w_hat)")
    dom.add_argument("--target", default=None, metavar="P",
                     help="target domain factor: required by sac-lfs and sac-ft; for gsac/sac-mtl the "
                          "evaluation domain (default: the environment's own, --arrival)")
    dom.add_argument("--model", default=None, metavar="DIR",
                     help="train inside the discovered model of a causalnet run folder of your own system "
                          "(its graph, source coordinates and target coordinate are the defaults)")
    dom.add_argument("--pretrain-iterations", type=int, default=None,
                     help="sac-ft: pre-training iterations over the sources (default --iterations)")
    ev = parser.add_argument_group("evaluation and runs")
    ev.add_argument("--eval-every", type=int, default=2000, help="curve evaluation period, 0 = none (default 2000)")
    ev.add_argument("--eval-episodes", type=int, default=400,
                    help="episodes per evaluation, curve and final (default 400)")
    ev.add_argument("--seed", type=int, default=0, help="seed of the first run (default 0)")
    ev.add_argument("--seeds", type=int, default=1,
                    help="independent runs trained together, seeds SEED..SEED+N-1 (default 1)")
    out = parser.add_argument_group("output")
    out.add_argument("--out", required=True, metavar="DIR",
                     help="output directory (must be new or empty unless --force or --resume)")
    add_force_argument(out)
    out.add_argument("--checkpoint-every", type=int, default=10_000,
                     help="checkpoint period in iterations, 0 = no checkpoints (default 10000)")
    out.add_argument("--resume", action="store_true",
                     help="continue from the newest checkpoint in OUT/checkpoints (same flags required)")
    out.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                     help="progress bar on stderr (default: on when stderr is a terminal)")


# ------------------------------------------------------------------ resolution
def _check_flags(args: argparse.Namespace) -> None:
    horizon = 10 if args.horizon is None else args.horizon
    for flag, value, least in (("--kappa", args.kappa, 0), ("--horizon", horizon, 1),
                               ("--iterations", args.iterations, 0), ("--eval-every", args.eval_every, 0),
                               ("--eval-episodes", args.eval_episodes, 2), ("--seed", args.seed, 0),
                               ("--seeds", args.seeds, 1), ("--checkpoint-every", args.checkpoint_every, 0)):
        if value < least:
            raise ValueError(f"{flag}: must be an integer >= {least}, got {value}")
    if args.gamma is not None and not 0.0 <= args.gamma <= 1.0:
        raise ValueError(f"--gamma: must lie in [0, 1], got {args.gamma}")
    if not args.actor_lr > 0:
        raise ValueError(f"--actor-lr: must be > 0, got {args.actor_lr}")
    if args.restart is not None and args.restart < 1:
        raise ValueError(f"--restart: must be an integer >= 1 or 'none', got {args.restart}")
    algo = args.algo
    if args.domains is not None and algo not in _SOURCE_ALGOS:
        raise ValueError(f"--domains applies to {', '.join(_SOURCE_ALGOS)} only (got --algo {algo})")
    if args.graph is not None and algo != "gsac":
        raise ValueError(f"--graph applies to --algo gsac only (got --algo {algo}; the SAC baselines use "
                         "kappa-hop truncation)")
    if args.target is None and algo in _TARGET_ALGOS and not getattr(args, "model", None):
        raise ValueError(f"--target is required by --algo {algo}")
    if args.target is not None and algo == "sac":
        raise ValueError("--target does not apply to --algo sac (it trains and is evaluated in the env's own "
                         "domain, --arrival); use sac-lfs or sac-ft")
    if args.pretrain_iterations is not None:
        if algo != "sac-ft":
            raise ValueError(f"--pretrain-iterations applies to --algo sac-ft only (got --algo {algo})")
        if args.pretrain_iterations < 0:
            raise ValueError(f"--pretrain-iterations: must be an integer >= 0, got {args.pretrain_iterations}")
    if args.features != "linear" and algo != "gsac":
        raise ValueError(f"--features applies to --algo gsac only (got --algo {algo})")


def _source_factors(args: argparse.Namespace, n: int) -> np.ndarray:
    values = np.atleast_1d(parse_float_list("0.2,0.5,0.8" if args.domains is None else args.domains, "--domains"))
    if np.any((values < 0) | (values > 1)):
        raise ValueError(f"--domains: domain factors must lie in [0, 1], got {values.tolist()}")
    return np.repeat(np.asarray(values, dtype=np.float64)[:, None], n, axis=1)


def _spec_graph(env) -> FactoredGraph:
    """The environment's true graph, or an empty graph of its spec (the truncation baselines need the spec only)."""
    try:
        return env.true_graph()
    except NotImplementedError:
        return FactoredGraph(env.spec, {})


def _load_graph(text: str | None, env) -> tuple[FactoredGraph, dict[str, Any], Path | None]:
    """The graph of ``--graph`` and its description; the discover folder when one was given."""
    if text is None or text.strip().lower() == "true":
        try:
            return env.true_graph(), {"kind": "true"}, None
        except NotImplementedError:
            raise ValueError("--graph: this environment has no known true graph; give a graph.json or a "
                             "causalnet discover folder (or --model DIR)") from None
    path = Path(text)
    folder = path if path.is_dir() else None
    file = path / "graph.json" if folder is not None else path
    if not file.exists():
        raise ValueError(f"--graph: {file} does not exist (give 'true', a graph.json or a discover folder)")
    try:
        graph = FactoredGraph.load(file)
    except GraphError as exc:
        raise ValueError(f"--graph: {exc}") from exc
    if graph.spec != env.spec:
        raise ValueError(f"--graph: {file} describes other variables than the environment (names, owners, "
                         "cardinalities or interaction graph differ); check the environment flags")
    return graph, {"kind": "file", "path": str(file)}, folder


def _estimated_w_hat(folder: Path, sources: np.ndarray) -> np.ndarray | None:
    """Source ``w_hat`` from ``folder/domain_factors.json`` (None when the file is absent)."""
    path = folder / "domain_factors.json"
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        rows = [d["w_hat"] for d in data["domains"]]
        truths = [d.get("true") for d in data["domains"]]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"--graph: cannot read {path}: {exc}") from exc
    w = np.array([[np.nan if v is None else float(v) for v in row] for row in rows], dtype=np.float64)
    if w.shape != sources.shape:
        raise ValueError(f"--graph: {path} holds factors of {w.shape[0]} domains x {w.shape[1]} agents, but "
                         f"--domains gives {sources.shape[0]} domains x {sources.shape[1]} agents")
    for m, truth in enumerate(truths):
        if truth is not None and not np.allclose(np.asarray(truth, dtype=np.float64), sources[m]):
            raise ValueError(f"--graph: domain {m} of {path} has true factor {truth[:3]}..., but --domains "
                             f"gives {sources[m, 0]}; pass the --domains the data was collected with")
    missing = ~np.isfinite(w)
    if missing.any():
        agents = sorted(set(np.nonzero(missing)[1].tolist()))
        raise ValueError(f"--graph: {path} has no estimate for agent(s) {agents} (no domain edge discovered); "
                         "use --graph with a graph.json file to train with the true source factors")
    return w


def resolve(args: argparse.Namespace) -> dict[str, Any]:
    """Validate the flags and build everything needed to train (nothing written)."""
    _check_flags(args)
    if getattr(args, "force", False) and args.resume:
        raise ValueError("--force and --resume exclude each other (replace the folder, or continue it)")
    out = check_out_dir(args.out, force=getattr(args, "force", False), resume=args.resume, resumable=True)
    model = None
    if getattr(args, "model", None) is not None:   # the discovered model of an own-system run (causalnet_cli/model_env.py)
        from causalnet_cli.model_env import load_model_folder
        model = load_model_folder(args.model)
    env = build_env(args) if model is None else model["env"]
    n = env.n_agents
    algo = args.algo
    if model is not None and args.graph is None:
        graph, graph_info, folder = model["graph"], {"kind": "model", "path": model["folder"]}, None
    else:
        graph, graph_info, folder = _load_graph(args.graph, env) if algo == "gsac" else (
            _spec_graph(env), {"kind": "true", "used_for": "spec only (truncation inputs)"}, None)
    sources = _source_factors(args, n) if algo in _SOURCE_ALGOS else None
    w_hat = None
    if model is not None:
        if args.domains is None and sources is not None:
            sources = model["sources"]
        graph_info["w_hat"] = "the run's domain coordinates"
    elif algo == "gsac" and folder is not None:
        w_hat = _estimated_w_hat(folder, sources)
        graph_info["w_hat"] = "estimated (domain_factors.json)" if w_hat is not None else "true source factors"
    elif algo == "gsac":
        graph_info["w_hat"] = "true source factors"
    target = None if args.target is None else factor_vector(args.target, n, "--target")
    if model is not None and target is None and algo != "sac":
        target = model["target"]          # the run's estimated target coordinate
    eval_domain = target if target is not None else np.asarray(env.domain_factor, dtype=np.float64)
    gamma = args.gamma if args.gamma is not None else (model["gamma"] if model and model["gamma"] is not None
                                                       else 0.7)
    horizon = args.horizon if args.horizon is not None else (model["horizon"] if model and model["horizon"]
                                                             else 10)
    config = algorithm_config(algo, GSACConfig(kappa=args.kappa, gamma=gamma, horizon=horizon,
                                               critic=args.critic, actor_lr=args.actor_lr, restart=args.restart,
                                               actor=args.actor,
                                               features=args.features, critic_timing=args.critic_timing).resolved(env))
    seeds = [args.seed + r for r in range(args.seeds)]
    pretrain = args.iterations if args.pretrain_iterations is None else args.pretrain_iterations
    resolved = {
        "command": NAME, "algorithm": algo,
        "env": env.config() if hasattr(env, "config") else {"env": "model" if model is not None else args.env,
                                                            **({"model": model["folder"]} if model else {})},
        "config": config.to_dict(), "graph": graph_info,
        "source_factors": None if sources is None else sources.tolist(),
        "source_w_hat": None if w_hat is None else w_hat.tolist(),
        "target": None if target is None else target.tolist(), "eval_domain_factor": eval_domain.tolist(),
        "eval_w_hat": eval_domain.tolist(), "iterations": args.iterations,
        "pretrain_iterations": pretrain if algo == "sac-ft" else None,
        "seed": args.seed, "seeds": args.seeds, "run_seeds": seeds, "eval_every": args.eval_every,
        "eval_episodes": args.eval_episodes, "checkpoint_every": args.checkpoint_every}
    return {"env": env, "graph": graph, "sources": sources, "w_hat": w_hat, "target": target,
            "eval_domain": eval_domain, "config": config, "seeds": seeds, "pretrain": pretrain,
            "resolved": resolved, "out": out}


def _check_resume(out: Path, resolved: dict[str, Any], resume: bool) -> None:
    ckpt = out / "checkpoints"
    has_ckpt = ckpt.is_dir() and any(ckpt.rglob("checkpoint-*.json"))
    if not resume:
        if has_ckpt:
            raise ValueError(f"--out: {out} holds checkpoints of an earlier run; pass --resume to continue it or "
                             "choose another --out")
        return
    config_path = out / "config.json"
    if not config_path.exists():
        return
    try:
        saved = json.loads(config_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"--resume: cannot read {config_path}: {exc}") from exc
    differ = [k for k in _RESUME_KEYS if saved.get(k) != json.loads(json.dumps(resolved.get(k)))]
    if differ:
        raise ValueError(f"--resume: the flags differ from the checkpointed run in {differ} (see {config_path})")


# ------------------------------------------------------------------ training
def _train_phase(trainer, iterations: int, *, directory: Path | None, every: int, resume: bool,
                 eval_every: int, eval_episodes: int, eval_env, eval_w_hat, progress: bool, on_eval=None):
    if directory is None or every == 0:
        return trainer.run(iterations, eval_every=eval_every, eval_episodes=eval_episodes, eval_env=eval_env,
                           eval_w_hat=eval_w_hat, progress=progress, on_eval=on_eval)
    from rl.persistence import train_with_checkpoints
    return train_with_checkpoints(trainer, iterations, directory=directory, every=every, resume=resume,
                                  eval_every=eval_every, eval_episodes=eval_episodes, eval_env=eval_env,
                                  eval_w_hat=eval_w_hat, progress=progress, on_eval=on_eval)


def train(args: argparse.Namespace) -> dict[str, Any]:
    """Run the whole command on parsed ``args``; return the metrics (files written)."""
    from rl.persistence import PersistenceError, PolicyBundle, save_policy

    started = time.perf_counter()
    r = resolve(args)
    out, env, resolved = r["out"], r["env"], r["resolved"]
    _check_resume(out, resolved, args.resume)
    progress = sys.stderr.isatty() if args.progress is None else bool(args.progress)
    ckpt_dir = out / "checkpoints" if args.checkpoint_every else None

    log: list[ProgressLog] = []

    def write_config() -> None:            # after the trainer is built: bad input leaves no file behind
        if getattr(args, "force", False):
            clear_out_dir(out)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_json(out / "config.json", resolved)
        log.append(ProgressLog(out))

    def on_eval(iteration: int, means: np.ndarray, errs: np.ndarray) -> None:
        log[0].training_hook("train", args.algo)(iteration, means, errs)

    eval_env = env.with_domain_factor(r["eval_domain"])
    common = dict(config=r["config"], rng=r["seeds"])
    algo = args.algo
    extra: dict[str, Any] = {}
    from causalnet_cli.pipeline.stages import check_tabular_actor_size

    check_tabular_actor_size(r["graph"], kappa=r["config"].kappa, method=algo)   # before any file is written
    try:
        if algo == "sac-ft":
            pre = make_trainer(algo, env, r["graph"], source_factors=r["sources"], **common)
            write_config()
            pre_result = _train_phase(pre, r["pretrain"], directory=None if ckpt_dir is None else ckpt_dir / "pretrain",
                                      every=args.checkpoint_every, resume=args.resume, eval_every=0,
                                      eval_episodes=args.eval_episodes, eval_env=None, eval_w_hat=None,
                                      progress=progress)
            extra["pretrain_iterations"] = pre.iteration
            extra["pretrain_train_seconds"] = pre_result.train_seconds
            # fine-tuning streams: independent of the pre-training streams of the same seeds
            trainer = make_trainer(algo, env, r["graph"], config=r["config"], target_factor=r["target"],
                                   initial_policy=pre.policies(),
                                   rng=[np.random.SeedSequence([s, _FINETUNE_STREAM_TAG]) for s in r["seeds"]])
            directory = None if ckpt_dir is None else ckpt_dir / "finetune"
        else:
            kwargs: dict[str, Any] = {}
            if algo in ("gsac", "sac-mtl"):
                kwargs["source_factors"] = r["sources"]
                if r["w_hat"] is not None:
                    kwargs["source_w_hat"] = r["w_hat"]
            if algo == "sac-lfs":
                kwargs["target_factor"] = r["target"]
            trainer = make_trainer(algo, env, r["graph"], **kwargs, **common)
            write_config()
            directory = ckpt_dir
        result = _train_phase(trainer, args.iterations, directory=directory, every=args.checkpoint_every,
                              resume=args.resume, eval_every=args.eval_every, eval_episodes=args.eval_episodes,
                              eval_env=eval_env, eval_w_hat=r["eval_domain"], progress=progress, on_eval=on_eval)
    except PersistenceError as exc:
        raise ValueError(f"--resume: {exc}") from exc

    # final evaluation (reproducible with `causalnet evaluate --seed SEED --episodes EVAL_EPISODES`)
    policies = trainer.policies(w_hat=r["eval_domain"])
    eval_start = time.perf_counter()
    final = evaluate_runs(eval_env, policies, gamma=r["config"].gamma, horizon=r["config"].horizon,
                          episodes=args.eval_episodes, seed=args.seed)
    final_seconds = time.perf_counter() - eval_start
    done_here = trainer.iteration - int(result.extra.get("resumed_from", 0))
    ips = done_here / result.train_seconds if result.train_seconds > 0 else None
    curve_runs = result.eval_returns                                   # (R, E)
    metrics: dict[str, Any] = {
        "command": NAME, "algorithm": algo, "iterations": int(trainer.iteration), "n_runs": trainer.n_runs,
        "seeds": r["seeds"], "eval_domain_factor": r["eval_domain"].tolist(),
        "curve": [[int(it), float(curve_runs[:, e].mean())] for e, it in enumerate(result.eval_iterations)],
        "final": final, "iterations_per_second": ips,
        "timing": {"train_seconds": result.train_seconds, "eval_seconds": result.eval_seconds,
                   "final_eval_seconds": final_seconds, "total_seconds": time.perf_counter() - started,
                   "iterations_this_session": done_here,
                   "resumed_from": int(result.extra.get("resumed_from", 0)), **extra},
        "critic_entries": int(trainer.critic.n_entries())}
    if trainer.n_runs > 1:
        metrics["curve_runs"] = curve_runs.tolist()           # (R, E)
    else:
        metrics["curve_std_err"] = result.eval_std_err[0].tolist()
    bundle = PolicyBundle.from_trainer(trainer, w_hat=r["eval_domain"], algorithm=algo,
                                       info={"iterations": int(trainer.iteration), "seeds": r["seeds"],
                                             "eval_domain_factor": r["eval_domain"].tolist(),
                                             "eval_episodes": args.eval_episodes,
                                             "pretrain_source_factors": (r["sources"].tolist() if algo == "sac-ft"
                                                                         else None)})
    save_policy(bundle, out / "policy")
    metrics["files"] = {"config": str(out / "config.json"), "policy": str(out / "policy"),
                        "metrics": str(out / "metrics.json"), "progress": str(out / PROGRESS_CSV)}
    if ckpt_dir is not None:
        metrics["files"]["checkpoints"] = str(ckpt_dir)
    atomic_write_json(out / "metrics.json", metrics)
    return metrics


def interrupt_hint(args: argparse.Namespace) -> str:
    """Printed after Ctrl-C: how to continue the interrupted run."""
    if args.checkpoint_every:
        return (f"checkpoints are kept in {Path(args.out) / 'checkpoints'}; continue with the same command "
                "plus --resume")
    return "no checkpoints were kept (--checkpoint-every 0); run the command again to start over"


def run(args: argparse.Namespace) -> int:
    """Train, write the files, print a one-line summary on stderr."""
    metrics = train(args)
    d = metrics["final"]["discounted_return"]
    ips = metrics["iterations_per_second"]
    print(f"{metrics['algorithm']}: {metrics['iterations']} iterations x {metrics['n_runs']} run(s); final "
          f"discounted return {d['mean']:.4f} (95% CI {d['ci95'][0]:.4f}..{d['ci95'][1]:.4f}); "
          f"{'n/a' if ips is None else f'{ips:.0f}'} iterations/s; wrote {args.out}", file=sys.stderr)
    return 0
