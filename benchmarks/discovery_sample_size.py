"""Accuracy of local discovery against the sample size (wireless benchmark, g = 3).

For each number of episodes per domain (horizon 10, source domains arrival
0.2 / 0.5 / 0.8, uniform random policy) this collects data, runs
:class:`causalnet.discovery.LocalDiscovery` with default options and reports F1
overall and per mask type. The weak edges are action->state (a neighbour's
action matters only through a collision on a shared AP). Prints a table and
writes ``benchmarks/results/discovery_sample_size.json``.

Usage::

    python benchmarks/discovery_sample_size.py [--episodes 500 1000 2000 5000 10000 20000] [--seeds 1]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from causalnet.discovery import LocalDiscovery
from causalnet.graph_metrics import EDGE_TYPES, compare_graphs
from causalnet.io import atomic_write_json
from rl.envs import WirelessAccessEnv
from rl.rollout import collect_transitions

DOMAINS = (0.2, 0.5, 0.8)
HORIZON = 10


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grid", type=int, default=3)
    parser.add_argument("--episodes", type=int, nargs="+", default=[500, 1000, 2000, 5000, 10000, 20000])
    parser.add_argument("--seeds", type=int, default=1, help="repetitions per size")
    parser.add_argument("--alpha", type=float, default=None, help="override LocalDiscovery's alpha")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results",
                                                      "discovery_sample_size.json"))
    args = parser.parse_args(argv)
    env = WirelessAccessEnv.from_grid(args.grid)
    truth = env.true_graph()
    kwargs = {} if args.alpha is None else {"alpha": args.alpha}
    rows = []
    streams = np.random.SeedSequence(2025).spawn(len(args.episodes) * args.seeds)
    for k, episodes in enumerate(args.episodes):
        for rep in range(args.seeds):
            rng = np.random.default_rng(streams[k * args.seeds + rep])
            tr = collect_transitions(env, None, episodes=episodes, horizon=HORIZON, domain_factors=DOMAINS, rng=rng)
            t0 = time.perf_counter()
            model = LocalDiscovery(n_jobs=args.n_jobs, **kwargs).fit(tr)
            seconds = time.perf_counter() - t0
            m = compare_graphs(model.graph_, truth)
            row = {"episodes_per_domain": episodes, "rows": len(tr), "seed": rep, "fit_seconds": seconds,
                   "f1": m["f1"], "precision": m["precision"], "recall": m["recall"],
                   "by_mask": {t: {key: m["by_mask"][t][key] for key in ("f1", "fp", "fn")} for t in EDGE_TYPES},
                   "exact_except_action_state": all(m["by_mask"][t]["shd"] == 0 for t in EDGE_TYPES
                                                    if t != "action->state")}
            rows.append(row)
            print(f"episodes/domain {episodes:6d} rows {len(tr):7d} seed {rep}  fit {seconds:6.1f} s  "
                  f"F1 {m['f1']:.3f}  a->s F1 {m['by_mask']['action->state']['f1']:.3f}  "
                  f"other masks exact: {row['exact_except_action_state']}", flush=True)
    print()
    header = f"{'eps/dom':>8s} {'rows':>7s} {'F1':>6s} " + " ".join(f"{t:>15s}" for t in EDGE_TYPES)
    print(header)
    for r in rows:
        print(f"{r['episodes_per_domain']:8d} {r['rows']:7d} {r['f1']:6.3f} "
              + " ".join(f"{r['by_mask'][t]['f1']:15.3f}" for t in EDGE_TYPES))
    atomic_write_json(args.out, {"benchmark": "discovery_sample_size", "grid": args.grid, "horizon": HORIZON,
                                 "domains": list(DOMAINS), "alpha": model.alpha, "rows": rows})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
