"""Target-phase step size and iterations per episode of SAC-FT and SAC-LFS, chosen on a source domain.

Why: with the meta-training step size (``actor_lr = 5``) and one iteration per target
episode, SAC-FT's adaptation curve does not move. The pre-trained SAC-FT policy is nearly
deterministic after the default 30,000 meta-training iterations (most action
probabilities above 0.97), so the policy-gradient score ``1{a} - pi(a|s)`` is close to 0
at the actions it takes, and the fresh critic of the target phase starts at 0: one step
moves the logits by about 1e-4, which changes no sampled action in the evaluation
(common random numbers), hence a curve identical to 16 digits.

Protocol (the target domain is never used): pre-train SAC-FT over the sources with one
held out (default: pre-train on 0.2 and 0.8, hold out 0.5), as the pipeline does
(``train.iterations`` iterations), then run the adaptation curve in the held-out source
for every ``(actor_lr, iterations_per_episode)`` of the grid, with fresh fine-tuning
streams; SAC-LFS likewise from scratch. Score: the mean return over the curve's episodes
1..E (the area under the adaptation curve), mean over runs. Prints a table and writes
``benchmarks/results/ft_step_size.json``; the chosen values are the defaults of
``adapt.ft_actor_lr``, ``adapt.ft_iterations_per_episode``, ``adapt.lfs_actor_lr`` and
``adapt.lfs_iterations_per_episode``.

Usage::

    python benchmarks/ft_step_size.py [--iterations 30000] [--runs 2] [--episodes 30]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import time
from pathlib import Path

import numpy as np

from causalnet.io import atomic_write_json
from rl.actors import softmax_tables
from rl.adaptation import adaptation_curves
from rl.algorithms import make_trainer
from rl.envs import WirelessAccessEnv
from rl.gsac import GSACConfig

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=30_000, help="pre-training iterations (pipeline default)")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--episodes", type=int, default=30, help="adaptation episodes (pipeline default)")
    parser.add_argument("--eval-episodes", type=int, default=200)
    parser.add_argument("--pretrain", default="0.2,0.8", help="source factors used for pre-training")
    parser.add_argument("--held-out", type=float, default=0.5, help="source factor the step sizes are chosen in")
    parser.add_argument("--lrs", default="5,50,500,5000")
    parser.add_argument("--per-episode", default="1,4")
    parser.add_argument("--scales", default="1", help="SAC-FT: factors applied to the pre-trained logits")
    parser.add_argument("--cache", default=None, help="npz file caching the pre-trained parameters")
    args = parser.parse_args(argv)

    env = WirelessAccessEnv.from_grid(3)
    graph = env.true_graph()
    base = GSACConfig(kappa=1, gamma=0.7, horizon=10, actor_lr=5.0)
    sources = np.array([[float(w)] * env.n_agents for w in args.pretrain.split(",")])
    start = time.perf_counter()
    pre = make_trainer("sac-ft", env, graph, config=base, source_factors=sources, rng=0, n_runs=args.runs)
    if args.cache and Path(args.cache).exists():
        pre.theta = np.load(args.cache)["theta"]
    else:
        pre.iterate(args.iterations)
        if args.cache:
            np.savez(args.cache, theta=pre.theta)
    pretrain_seconds = time.perf_counter() - start
    probs, _ = softmax_tables(pre.theta, pre.features(pre.w_hat[np.zeros(args.runs, dtype=np.int64)]), pre._mask)
    top = probs.max(axis=-1)
    print(f"pre-trained {args.iterations} iterations x {args.runs} runs in {pretrain_seconds:.0f} s; "
          f"largest action probability per state: median {np.median(top):.4f}, share above 0.97 "
          f"{np.mean(top > 0.97):.2f}")

    rows = []
    lrs = [float(x) for x in args.lrs.split(",")]
    ks = [int(x) for x in args.per_episode.split(",")]
    scales = [float(x) for x in args.scales.split(",")]
    grid = [("sac-ft", lr, k, c) for lr, k, c in itertools.product(lrs, ks, scales)]
    grid += [("sac-lfs", lr, k, 1.0) for lr, k in itertools.product(lrs, ks)]
    for method, lr, k, scale in grid:
        cfg = dataclasses.replace(base, actor_lr=lr)
        extra = {"initial_policy": pre.theta * scale} if method == "sac-ft" else {}
        trainer = make_trainer(method, env, graph, config=cfg, target_factor=args.held_out, rng=1, n_runs=args.runs,
                               **extra)
        t0 = time.perf_counter()
        curves = adaptation_curves({method: trainer}, env, args.held_out, episodes=args.episodes,
                                   eval_episodes=args.eval_episodes, rng=2, iterations_per_episode=k,
                                   average_steps=20)
        curve = curves.methods[method]
        rows.append({"method": method, "actor_lr": lr, "iterations_per_episode": k, "logit_scale": scale,
                     "start": float(curve.mean[0]), "end": float(curve.mean[-1]),
                     "area": float(curve.per_run[:, 1:].mean()),
                     "moved": float(np.max(np.abs(curve.mean - curve.mean[0]))),
                     "seconds": round(time.perf_counter() - t0, 1)})
        r = rows[-1]
        print(f"{method:8s} lr {lr:>7g} k {k} scale {scale:g}: start {r['start']:.4f} end {r['end']:.4f} "
              f"area {r['area']:.4f} "
              f"max change {r['moved']:.4f} ({r['seconds']} s)", flush=True)
    best = {}
    for method in ("sac-ft", "sac-lfs"):
        mine = [r for r in rows if r["method"] == method]
        best[method] = max(mine, key=lambda r: r["area"])
        print(f"best {method}: actor_lr {best[method]['actor_lr']:g}, {best[method]['iterations_per_episode']} "
              f"iteration(s) per episode, logit scale {best[method]['logit_scale']:g} "
              f"(area {best[method]['area']:.4f})")
    RESULTS.mkdir(exist_ok=True)
    atomic_write_json(RESULTS / "ft_step_size.json", {
        "protocol": {"pretrain_sources": args.pretrain, "held_out_source": args.held_out,
                     "pretrain_iterations": args.iterations, "runs": args.runs, "episodes": args.episodes,
                     "eval_episodes": args.eval_episodes, "env": env.config()},
        "pretrained_policy": {"median_top_probability": float(np.median(top)),
                              "share_top_above_0.97": float(np.mean(top > 0.97))},
        "pretrain_seconds": round(pretrain_seconds, 1), "rows": rows,
        "best": {m: {k: best[m][k] for k in ("actor_lr", "iterations_per_episode", "logit_scale", "area")}
                 for m in best}})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
