"""Local discovery on the continuous synthetic family: F1, precision and domain shifts found.

For each number of agents and mechanism (linear-Gaussian, nonlinear additive
noise), builds :class:`rl.envs.SyntheticContinuousEnv` on a random topology
(seed ``--seed``), collects ``--episodes`` episodes of 10 steps per source domain
(w = 0.2, 0.5, 0.8) under the uniform policy and runs
:class:`causalnet.LocalDiscovery` with each CI test. Prints F1, precision,
recall, the domain-affected coordinates found per kind of shift (mean,
non-monotone ``mean-bump``, slope, variance-only), the number of tests and the
time. Writes ``benchmarks/results/continuous_discovery.json``.

Run: ``python benchmarks/continuous_discovery.py [--agents 16 64] [--tests fisherz regression additive]``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from causalnet import LocalDiscovery, compare_graphs
from causalnet.io import atomic_write_json
from rl.envs.synthetic_continuous import SHIFT_KINDS, SyntheticContinuousEnv
from rl.rollout import collect_transitions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--mechanisms", nargs="+", default=["linear", "nonlinear"])
    parser.add_argument("--tests", nargs="+", default=["fisherz", "regression", "additive"])
    parser.add_argument("--episodes", type=int, default=1000, help="episodes per source domain")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).parent / "results" / "continuous_discovery.json")
    args = parser.parse_args(argv)

    rows = []
    print(f"{'agents':>6} {'mechanism':>9} {'test':>10} {'rows':>7} {'F1':>6} {'prec':>6} {'recall':>6} "
          f"{'shifts found (mean/bump/slope/var)':>36} {'tests':>6} {'sec':>6}")
    for n in args.agents:
        for mech in args.mechanisms:
            env = SyntheticContinuousEnv.random(n, rng=args.seed, mechanism=mech)
            data = collect_transitions(env, None, episodes=args.episodes, horizon=10,
                                       domain_factors=[0.2, 0.5, 0.8], rng=args.seed + 1)
            kinds = env.shift_kinds()
            for test in args.tests:
                start = time.perf_counter()
                model = LocalDiscovery(ci_test=test).fit(data)
                seconds = time.perf_counter() - start
                m = compare_graphs(model.graph_, env.true_graph())
                found = {k: [sum(1 for t, kk in kinds.items() if kk == k and "domain" in model.graph_.parents[t]),
                             sum(1 for kk in kinds.values() if kk == k)] for k in SHIFT_KINDS}
                row = {"agents": n, "mechanism": mech, "test": test, "rows": len(data), "f1": m["f1"],
                       "precision": m["precision"], "recall": m["recall"], "shd": m["shd"],
                       "shifts_found": found, "n_tests": model.n_tests_, "seconds": seconds}
                rows.append(row)
                shown = " ".join(f"{a}/{b}" for a, b in found.values())
                print(f"{n:>6} {mech:>9} {test:>10} {len(data):>7} {m['f1']:>6.3f} {m['precision']:>6.3f} "
                      f"{m['recall']:>6.3f} {shown:>36} {model.n_tests_:>6} {seconds:>6.1f}", flush=True)
    atomic_write_json(args.out, {"benchmark": "continuous_discovery", "episodes_per_domain": args.episodes,
                                 "domains": [0.2, 0.5, 0.8], "seed": args.seed, "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
