"""Engine speed: SAC iterations per second and GSAC agent-steps per second, numpy vs numba.

* SAC at the reference configuration (3 x 4 vertices, 2 users per vertex: 24 agents,
  truncation inputs, persistent hashed critic, one run) in outer iterations per
  second, against the 50 it/s measured for the public reference code (its code is
  not available here, so it is not timed side by side); target >= 30x, 1,500 it/s.
* GSAC (ACR inputs, linear features, 3 sources, persistent critic) at 1,024 agents
  (grid 31) and 4,096 agents (grid 63), ``--runs`` runs advanced together, in
  agent-steps per second (runs x agents x (T + 1) steps per iteration); target
  >= 5M at n >= 1024.

Every configuration runs in a fresh subprocess (so its peak resident memory,
``ru_maxrss``, is its own); wall and CPU (process) time are both reported because
the machine is shared: wall-clock rates drop with the load, CPU-time rates much less.
Compilation is excluded (a warm-up precedes the timing). Writes
``benchmarks/results/engine_speed.json``.

Usage::

    python benchmarks/engine_speed.py [--quick] [--runs 5] [--engines numpy,numba]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
REFERENCE_IT_PER_S = 50.0


def child(kind: str, grid: int, runs: int, iterations: int, engine: str) -> dict:
    from rl.envs import WirelessAccessEnv
    from rl.gsac import GSACConfig, GSACTrainer

    if kind == "sac":
        env = WirelessAccessEnv(3, 4, users_per_vertex=2)
        trainer = GSACTrainer(env, env.true_graph(), GSACConfig.reference_sac(), rng=0, n_runs=runs, engine=engine)
    else:
        env = WirelessAccessEnv.from_grid(grid)
        trainer = GSACTrainer(env, env.true_graph(), GSACConfig(), domain_factors=[0.2, 0.5, 0.8], rng=0,
                              n_runs=runs, engine=engine)
    trainer.iterate(max(3, iterations // 10))                  # warm-up: compilation, table growth
    best_wall, best_cpu = float("inf"), float("inf")
    for _ in range(3):
        w0, c0 = time.perf_counter(), time.process_time()
        trainer.iterate(iterations)
        best_wall = min(best_wall, time.perf_counter() - w0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    steps = iterations * runs * env.n_agents * (trainer.config.horizon + 1)
    return {"kind": kind, "engine": engine, "agents": env.n_agents, "runs": runs, "iterations": iterations,
            "wall_seconds": best_wall, "cpu_seconds": best_cpu,
            "iterations_per_second_wall": iterations / best_wall,
            "iterations_per_second_cpu": iterations / best_cpu,
            "agent_steps_per_second_wall": steps / best_wall, "agent_steps_per_second_cpu": steps / best_cpu,
            "critic_entries": trainer.critic.n_entries(), "critic_mb": trainer.critic.nbytes() / 2**20,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_child(*args) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *map(str, args)], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations, no 4,096-agent numpy run")
    parser.add_argument("--runs", type=int, default=5, help="runs advanced together in the GSAC rows")
    parser.add_argument("--engines", default="numpy,numba")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, grid, runs, iterations, engine = args.child
        print(json.dumps(child(kind, int(grid), int(runs), int(iterations), engine)))
        return
    engines = args.engines.split(",")
    rows = []
    sac_its = 300 if args.quick else 2000
    for engine in engines:
        rows.append(run_child("sac", 0, 1, sac_its, engine))
    for grid, its in ((31, 5 if args.quick else 20), (63, 2 if args.quick else 5)):
        for engine in engines:
            if args.quick and grid == 63 and engine == "numpy":
                continue
            rows.append(run_child("gsac", grid, args.runs, its, engine))
    print(f"{'kind':5} {'engine':6} {'agents':>6} {'runs':>4} | {'it/s wall':>9} {'it/s CPU':>9} | "
          f"{'agent-steps/s wall':>18} {'CPU':>10} | {'peak RSS MB':>11}")
    for r in rows:
        print(f"{r['kind']:5} {r['engine']:6} {r['agents']:6d} {r['runs']:4d} | {r['iterations_per_second_wall']:9.1f} "
              f"{r['iterations_per_second_cpu']:9.1f} | {r['agent_steps_per_second_wall'] / 1e6:17.2f}M "
              f"{r['agent_steps_per_second_cpu'] / 1e6:9.2f}M | {r['peak_rss_mb']:11.0f}")
    for r in rows:
        if r["kind"] == "sac":
            print(f"SAC {r['engine']}: {r['iterations_per_second_wall'] / REFERENCE_IT_PER_S:.1f}x the reference's "
                  f"{REFERENCE_IT_PER_S:.0f} it/s (wall), {r['iterations_per_second_cpu'] / REFERENCE_IT_PER_S:.1f}x (CPU)")
    RESULTS.mkdir(exist_ok=True)
    load = os.getloadavg()
    payload = {"reference_iterations_per_second": REFERENCE_IT_PER_S, "load_average": load,
               "cpu_count": os.cpu_count(), "python": platform.python_version(), "rows": rows}
    (RESULTS / "engine_speed.json").write_text(json.dumps(payload, indent=2))
    print(f"load average {load[0]:.1f} on {os.cpu_count()} CPUs; wrote {RESULTS / 'engine_speed.json'}")


if __name__ == "__main__":
    main()
