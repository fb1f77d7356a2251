"""Throughput of the batched traffic grid's ``step`` on one core (agent-steps per second).

Times ``TrafficGridEnv(R, C).step`` with uniformly random phases sampled beforehand,
for several grid sizes and batch sizes; each configuration is timed ``--repeats`` times
and the table shows the median. Results go to ``benchmarks/results/traffic_throughput.json``.

Run::

    python benchmarks/traffic_throughput.py                     # 8x8 and 32x32; B = 1, 64, 256
    python benchmarks/traffic_throughput.py --sizes 32 --batches 256 --repeats 3

The process caps BLAS/OpenMP pools at one thread before importing numpy.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from causalnet.io import atomic_write_json  # noqa: E402
from rl.envs.traffic import TrafficGridEnv  # noqa: E402

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "traffic_throughput.json"


def measure(size: int, batch: int, *, steps: int, repeats: int, seed: int = 0) -> dict:
    """Median agent-steps/s of ``steps`` steps of a ``size x size`` grid with ``batch`` copies."""
    env = TrafficGridEnv(size, size)
    rng = np.random.default_rng(seed)
    actions = rng.integers(0, 2, (steps, batch, env.n_agents))
    rates = []
    for _ in range(repeats):
        states = env.reset(batch, rng)
        start = time.perf_counter()
        for t in range(steps):
            states, _ = env.step(states, actions[t], rng)
        rates.append(steps * batch * env.n_agents / (time.perf_counter() - start))
    return {"size": size, "agents": env.n_agents, "batch": batch, "steps": steps,
            "agent_steps_per_s": statistics.median(rates), "min": min(rates), "max": max(rates)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 32], help="grid side lengths (default 8 32)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 64, 256], help="copies per step")
    parser.add_argument("--steps", type=int, default=20, help="steps per repeat (default 20)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats (default 5)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    rows = [measure(s, b, steps=args.steps, repeats=args.repeats) for s in args.sizes for b in args.batches]
    print("| grid | intersections | batch | agent-steps/s (median) | min | max |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['size']}x{r['size']} | {r['agents']} | {r['batch']} | {r['agent_steps_per_s']:,.0f} | "
              f"{r['min']:,.0f} | {r['max']:,.0f} |")
    atomic_write_json(args.output, {"rows": rows, "machine": platform.platform(), "numpy": np.__version__})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
