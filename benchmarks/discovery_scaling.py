"""Time and accuracy of local discovery against the number of agents (wireless benchmark).

Local discovery (:class:`causalnet.discovery.LocalDiscovery`) on ``from_grid(g)``
networks (g = 3, 7, 15, 31: 16, 64, 256, 1024 agents) with a fixed number of
transitions per domain, next to causal-learn's global PC with tiers on the
smallest network. Prints a table and writes ``benchmarks/results/discovery_scaling.json``.

Usage::

    python benchmarks/discovery_scaling.py [--grids 3 7 15 31] [--episodes 1000] [--n-jobs 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from causalnet.discovery import LocalDiscovery
from causalnet.discovery_global import GlobalDiscovery
from causalnet.graph_metrics import EDGE_TYPES, compare_graphs
from causalnet.io import atomic_write_json
from rl.envs import WirelessAccessEnv
from rl.rollout import collect_transitions

DOMAINS = (0.2, 0.5, 0.8)
HORIZON = 10


def _row(name, env, tr, model, seconds, collect_s):
    m = compare_graphs(model.graph_, env.true_graph())
    return {"method": name, "grid": None, "n_agents": env.n_agents, "rows": len(tr),
            "collect_seconds": collect_s, "fit_seconds": seconds,
            "ms_per_agent": 1e3 * seconds / env.n_agents,
            "n_tests": getattr(model, "n_tests_", None),
            "f1": m["f1"], "precision": m["precision"], "recall": m["recall"],
            "f1_by_mask": {k: m["by_mask"][k]["f1"] for k in EDGE_TYPES if k in m["by_mask"]}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grids", type=int, nargs="+", default=[3, 7, 15, 31])
    parser.add_argument("--episodes", type=int, default=1000, help="episodes per domain (horizon 10)")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--global-grid", type=int, default=3, help="grid of the global PC baseline (0: skip)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "discovery_scaling.json"))
    args = parser.parse_args(argv)

    rows = []
    seeds = np.random.SeedSequence(args.seed).spawn(len(args.grids))
    for grid, seed in zip(args.grids, seeds):
        env = WirelessAccessEnv.from_grid(grid)
        t0 = time.perf_counter()
        tr = collect_transitions(env, None, episodes=args.episodes, horizon=HORIZON, domain_factors=DOMAINS,
                                 rng=np.random.default_rng(seed))
        collect_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        model = LocalDiscovery(n_jobs=args.n_jobs).fit(tr)
        row = _row("local", env, tr, model, time.perf_counter() - t0, collect_s)
        row["grid"] = grid
        rows.append(row)
        print(f"local  g={grid:2d} n={env.n_agents:5d}  fit {row['fit_seconds']:7.1f} s  "
              f"{row['ms_per_agent']:6.1f} ms/agent  F1 {row['f1']:.3f}", flush=True)
        if grid == args.global_grid:
            t0 = time.perf_counter()
            glob = GlobalDiscovery(method="pc").fit(tr)
            grow = _row("global-pc", env, tr, glob, time.perf_counter() - t0, collect_s)
            grow["grid"] = grid
            rows.append(grow)
            print(f"global g={grid:2d} n={env.n_agents:5d}  fit {grow['fit_seconds']:7.1f} s  "
                  f"{grow['ms_per_agent']:6.1f} ms/agent  F1 {grow['f1']:.3f}", flush=True)
        del tr

    print()
    print(f"{'method':10s} {'agents':>6s} {'rows':>7s} {'fit s':>8s} {'ms/agent':>9s} {'tests':>9s} "
          f"{'F1':>6s} {'F1 a->s':>8s} {'F1 s->s':>8s}")
    for r in rows:
        tests = "-" if r["n_tests"] is None else str(r["n_tests"])
        print(f"{r['method']:10s} {r['n_agents']:6d} {r['rows']:7d} {r['fit_seconds']:8.1f} "
              f"{r['ms_per_agent']:9.1f} {tests:>9s} {r['f1']:6.3f} "
              f"{r['f1_by_mask'].get('action->state', float('nan')):8.3f} "
              f"{r['f1_by_mask'].get('state->state', float('nan')):8.3f}")
    local = [r for r in rows if r["method"] == "local"]
    glob = [r for r in rows if r["method"] == "global-pc"]
    summary = {}
    if len(local) >= 2:
        per_agent = [r["ms_per_agent"] for r in local]
        summary["ms_per_agent_ratio_largest_to_smallest"] = per_agent[-1] / per_agent[0]
    if glob:
        same = [r for r in local if r["grid"] == glob[0]["grid"]][0]
        summary["global_over_local_time"] = glob[0]["fit_seconds"] / same["fit_seconds"]
        summary["f1_local_minus_global"] = same["f1"] - glob[0]["f1"]
    print("summary:", summary)
    atomic_write_json(args.out, {
        "benchmark": "discovery_scaling", "episodes_per_domain": args.episodes, "horizon": HORIZON,
        "domains": list(DOMAINS), "n_jobs": args.n_jobs, "seed": args.seed,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "rows": rows, "summary": summary})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
