"""Throughput of the batched wireless environment's ``step`` on one core.

Measures agent-steps per second (copies x agents advanced per second) of
``WirelessAccessEnv.step`` with uniformly random actions sampled beforehand, on the
paper's grid sizing (``from_grid(g)``: g x g APs, (g+1)^2 users) for several batch
sizes. Each configuration is timed ``--repeats`` times; the table shows the median.
Results go to ``benchmarks/results/env_throughput.json``.

Run::

    python benchmarks/env_throughput.py                # g = 5, 31; B = 1, 256, 1024
    python benchmarks/env_throughput.py --grids 5 --batches 1 256 --repeats 3

The process pins itself to one CPU and caps BLAS/OpenMP pools at one thread before
importing numpy, so the figures are single-core figures.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from causalnet.io import atomic_write_json  # noqa: E402
from rl.envs import WirelessAccessEnv  # noqa: E402
from rl.policies.base import UniformPolicy  # noqa: E402

TARGET_AGENT_STEPS = 5_000_000
TARGET_MIN_WORK = 10_000          # the target applies when B x n reaches this
# Reference code (Networked-MARL, tabular SAC) on this class of machine: about 50 outer
# iterations per second, each 11 environment steps of 24 agents, learning included
# (project notes, gsac.md section 7). Cited, not measured here.
REFERENCE_AGENT_STEPS = 50 * 11 * 24
DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "env_throughput.json"


@dataclass(frozen=True)
class Row:
    grid: int
    agents: int
    batch: int
    work: int                      # B x n, agent-steps per call
    steps_per_repeat: int
    seconds_per_step: float        # median over repeats
    agent_steps_per_s: float       # median over repeats
    agent_steps_per_s_min: float
    agent_steps_per_s_max: float
    meets_target: bool | None      # None when B x n is below TARGET_MIN_WORK


def pin_to_one_cpu(cpu: int | None) -> int | None:
    """Restrict this process to one CPU (Linux); return it, or None where unsupported."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    chosen = allowed[0] if cpu is None else cpu
    if chosen not in allowed:
        raise SystemExit(f"--cpu {cpu} is not available to this process; allowed CPUs: {allowed}")
    os.sched_setaffinity(0, {chosen})
    return chosen


def measure(grid: int, batch: int, *, repeats: int, seconds: float, seed: int) -> Row:
    """Time ``step`` on ``from_grid(grid)`` with ``batch`` copies."""
    env = WirelessAccessEnv.from_grid(grid)
    rng = np.random.default_rng(seed)
    policy = UniformPolicy(env.action_counts)
    states = env.reset(batch, rng)
    pool = [policy(states, rng) for _ in range(16)]     # pre-sampled uniform random actions
    # calibrate the number of steps so that one repeat lasts about `seconds`
    start = time.perf_counter()
    for actions in pool[:4]:
        states, _ = env.step(states, actions, rng)
    per_step = (time.perf_counter() - start) / 4
    steps = max(8, int(seconds / max(per_step, 1e-9)))
    rates, durations = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        for k in range(steps):
            states, _ = env.step(states, pool[k % len(pool)], rng)
        elapsed = time.perf_counter() - start
        durations.append(elapsed / steps)
        rates.append(steps * batch * env.n_agents / elapsed)
    work = batch * env.n_agents
    rate = statistics.median(rates)
    return Row(grid=grid, agents=env.n_agents, batch=batch, work=work, steps_per_repeat=steps,
               seconds_per_step=statistics.median(durations), agent_steps_per_s=rate,
               agent_steps_per_s_min=min(rates), agent_steps_per_s_max=max(rates),
               meets_target=(rate >= TARGET_AGENT_STEPS) if work >= TARGET_MIN_WORK else None)


def format_table(rows: list[Row]) -> str:
    head = (f"{'grid':>4} {'agents':>6} {'B':>5} {'B x n':>8} {'us/step':>9} "
            f"{'agent-steps/s':>14} {'(min - max)':>21} {'x reference':>11} {'target':>7}")
    lines = [head, "-" * len(head)]
    for r in rows:
        target = "-" if r.meets_target is None else ("yes" if r.meets_target else "NO")
        spread = f"({r.agent_steps_per_s_min / 1e6:.2f} - {r.agent_steps_per_s_max / 1e6:.2f} M)"
        lines.append(f"{r.grid:>4} {r.agents:>6} {r.batch:>5} {r.work:>8} {r.seconds_per_step * 1e6:>9.1f} "
                     f"{r.agent_steps_per_s / 1e6:>12.2f} M {spread:>21} "
                     f"{r.agent_steps_per_s / REFERENCE_AGENT_STEPS:>11.0f} {target:>7}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grids", type=int, nargs="+", default=[5, 31], help="APs per side (from_grid)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 256, 1024], help="batch sizes B")
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats per configuration (median)")
    parser.add_argument("--seconds", type=float, default=0.3, help="approximate length of one repeat")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generator")
    parser.add_argument("--cpu", type=int, default=None, help="CPU to pin to (default: first allowed)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON result file")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.seconds <= 0:
        parser.error("--repeats must be >= 1 and --seconds > 0")
    cpu = pin_to_one_cpu(args.cpu)
    rows = [measure(g, b, repeats=args.repeats, seconds=args.seconds, seed=args.seed)
            for g in args.grids for b in args.batches]
    print(format_table(rows))
    print(f"\ntarget: >= {TARGET_AGENT_STEPS / 1e6:.0f} M agent-steps/s on one core when B x n >= "
          f"{TARGET_MIN_WORK:,}")
    print(f"reference code: about {REFERENCE_AGENT_STEPS:,} agent-steps/s including learning "
          "(50 outer iterations/s x 11 steps x 24 agents; cited from the project notes, not measured here)")
    result = {
        "benchmark": "env_throughput",
        "what": "agent-steps per second of WirelessAccessEnv.step, uniform random actions pre-sampled",
        "settings": {"grids": args.grids, "batches": args.batches, "repeats": args.repeats,
                     "seconds_per_repeat": args.seconds, "seed": args.seed, "statistic": "median",
                     "pinned_cpu": cpu, "threads": 1},
        "machine": {"python": sys.version.split()[0], "numpy": np.__version__,
                    "platform": platform.platform(), "processor": platform.processor(),
                    "cpu_count": os.cpu_count(), "load_average": list(os.getloadavg())
                    if hasattr(os, "getloadavg") else None},
        "target_agent_steps_per_s": TARGET_AGENT_STEPS,
        "target_min_work": TARGET_MIN_WORK,
        "reference_agent_steps_per_s_cited": REFERENCE_AGENT_STEPS,
        "rows": [asdict(r) for r in rows],
    }
    atomic_write_json(args.output, result)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
