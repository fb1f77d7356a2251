"""Effect of the critic memory cap on the return GSAC reaches.

Trains GSAC (ACR inputs, linear features, sources 0.2/0.5/0.8, persistent hashed
critic) on the wireless grid ``--grid`` for ``--iterations`` outer iterations with
``--runs`` seeds, once without a cap and once per cap, the cap given as a fraction
of the keys the uncapped critic ends with; evaluates every run in the target
domain 0.65 (true factor) and reports the mean return with a 95% interval, the
keys kept, the keys evicted and the table's bytes. Same seeds in every row, so the
rows differ only by the cap. Writes ``benchmarks/results/critic_cap.json``.

Usage::

    python benchmarks/critic_cap.py [--grid 5] [--iterations 5000] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy import stats

from rl.critics import critic_max_entries
from rl.envs import WirelessAccessEnv
from rl.gsac import GSACConfig, GSACTrainer

RESULTS = Path(__file__).resolve().parent / "results"


def train(env: WirelessAccessEnv, memory_mb: float | None, iterations: int, runs: int, episodes: int) -> dict:
    trainer = GSACTrainer(env, env.true_graph(), GSACConfig(critic_memory_mb=memory_mb),
                          domain_factors=[0.2, 0.5, 0.8], rng=0, n_runs=runs)
    start = time.perf_counter()
    trainer.iterate(iterations)
    seconds = time.perf_counter() - start
    target = env.with_domain_factor(0.65)
    means, _ = trainer.evaluate(target, episodes=episodes, w_hat=np.full(env.n_agents, 0.65))
    half = stats.t.ppf(0.975, runs - 1) * means.std(ddof=1) / np.sqrt(runs) if runs > 1 else float("nan")
    table = trainer.critic._table
    return {"memory_mb": memory_mb, "max_entries": trainer.critic.max_entries, "keys": int(table.size),
            "evicted": int(table.evicted), "table_mb": trainer.critic.nbytes() / 2**20,
            "return_mean": float(means.mean()), "return_ci95": [float(means.mean() - half), float(means.mean() + half)],
            "returns": means.tolist(), "train_seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--grid", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--episodes", type=int, default=400)
    args = parser.parse_args()
    env = WirelessAccessEnv.from_grid(args.grid)
    rows = [train(env, None, args.iterations, args.runs, args.episodes)]
    free_keys = rows[0]["keys"]
    for fraction in (0.5, 0.25, 0.1):
        # the largest power-of-two budget whose cap is at most this fraction of the free keys
        mb = 2.0 ** np.floor(np.log2(fraction * free_keys * 32 / 2**20))
        if critic_max_entries(mb) >= free_keys:
            continue
        row = train(env, float(mb), args.iterations, args.runs, args.episodes)
        row["cap_fraction_of_free_keys"] = row["max_entries"] / free_keys
        rows.append(row)
    print(f"GSAC, {env.n_agents} agents, {args.iterations} iterations, {args.runs} runs; target 0.65")
    print(f"{'cap MB':>8} {'max keys':>10} {'kept':>10} {'evicted':>10} | return [95% CI]")
    for r in rows:
        cap = "none" if r["memory_mb"] is None else f"{r['memory_mb']:.4g}"
        mx = "-" if r["max_entries"] is None else str(r["max_entries"])
        print(f"{cap:>8} {mx:>10} {r['keys']:10d} {r['evicted']:10d} | {r['return_mean']:.4f} "
              f"[{r['return_ci95'][0]:.4f}, {r['return_ci95'][1]:.4f}]")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "critic_cap.json").write_text(json.dumps({"args": vars(args), "agents": env.n_agents,
                                                         "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
