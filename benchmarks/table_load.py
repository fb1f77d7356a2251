"""Time and peak memory of loading a large wide CSV table (``causalnet.tables_read.read_table``).

Writes a CSV of ``--agents`` agents (one 3-valued state coordinate, a binary action and a
0/1 reward each, plus ``<state>_next``: ``4 * agents + 3`` columns) with ``--rows`` rows
(episodes of 10 steps in 4 domains), then loads it in a fresh subprocess and reports the
wall and CPU time (the wall time depends on the machine's load), the increase of the
peak resident set size over the process's size before loading (``VmHWM``), and the size of the coded arrays (int8 codes and 0/1 rewards, as ``Transitions`` keeps them).
Target (issue 10): peak memory no more than 1.5 x the coded arrays for 1024 agents and
200,000 rows. Prints a table and writes ``benchmarks/results/table_load.json``.

Usage::

    python benchmarks/table_load.py [--agents 1024] [--rows 200000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"

_CHILD = r"""
import json, sys, time
import numpy, pandas, pyarrow   # imported before the baseline is taken
from causalnet.network_file import load_network_file
from causalnet.tables_read import read_table

def vm(key):   # kB; VmHWM is this process's own peak (ru_maxrss survives exec and would include the parent's)
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1])

net = load_network_file(sys.argv[2])
before = vm("VmHWM")
start, cpu = time.perf_counter(), time.process_time()
data, codebook = read_table(sys.argv[1], net)
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
peak = vm("VmHWM")
coded = sum(a.nbytes for a in (data.states, data.next_states, data.actions, data.rewards, data.domain,
                               data.episode, data.time))
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "baseline_bytes": before * 1024, "peak_increase_bytes": (peak - before) * 1024, "coded_bytes": coded,
                  "rows": len(data), "states_dtype": str(data.states.dtype), "rewards_dtype": str(data.rewards.dtype),
                  "cardinality": sorted(set(data.spec.state_cardinality))}))
"""


def write_csv(path: Path, agents: int, rows: int, seed: int = 0, block: int = 5000) -> None:
    """A random wide table written straight from byte matrices (fast for many columns)."""
    rng = np.random.default_rng(seed)
    names = ([f"s{i}_0" for i in range(agents)] + [f"a{i}" for i in range(agents)]
             + [f"r{i}" for i in range(agents)] + [f"s{i}_0_next" for i in range(agents)])
    with open(path, "wb") as fh:
        fh.write((",".join(["domain", "episode", "t", *names]) + "\n").encode())
        for r0 in range(0, rows, block):
            r = np.arange(r0, min(rows, r0 + block))
            episode, t = r // 10, r % 10
            domain = episode % 4
            digits = np.concatenate([rng.integers(0, 3, (r.size, agents)), rng.integers(0, 2, (r.size, agents)),
                                     rng.integers(0, 2, (r.size, agents)), rng.integers(0, 3, (r.size, agents))],
                                    axis=1)
            cells = np.empty((r.size, 2 * digits.shape[1]), dtype=np.uint8)
            cells[:, 0::2] = digits + 48
            cells[:, 1::2] = ord(",")
            cells[:, -1] = ord("\n")
            prefix = [f"{d},{e},{k},".encode() for d, e, k in zip(domain, episode, t)]
            fh.write(b"".join(p + line.tobytes() for p, line in zip(prefix, cells)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1024)
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        write_csv(tmp / "logs.csv", args.agents, args.rows)
        write_seconds = time.perf_counter() - start
        size = (tmp / "logs.csv").stat().st_size
        (tmp / "net.json").write_text(json.dumps({"n_agents": args.agents, "edges": [[i, i + 1] for i in
                                                                                      range(args.agents - 1)],
                                                  "state_dims": 1}))
        proc = subprocess.run([sys.executable, "-c", _CHILD, str(tmp / "logs.csv"), str(tmp / "net.json")],
                              capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": ""})
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-3000:])
        res = json.loads(proc.stdout.strip().splitlines()[-1])
    res.update({"agents": args.agents, "rows_requested": args.rows, "columns": 4 * args.agents + 3,
                "csv_bytes": size, "write_seconds": round(write_seconds, 1),
                "peak_over_coded": res["peak_increase_bytes"] / res["coded_bytes"], "target_peak_over_coded": 1.5})
    print(f"{'agents':>7} {'rows':>8} {'CSV MB':>8} {'load s':>7} {'CPU s':>6} {'coded MB':>9} {'peak +MB':>9} {'peak/coded':>10}")
    print(f"{args.agents:>7} {res['rows']:>8} {size / 2**20:>8.0f} {res['seconds']:>7.1f} {res['cpu_seconds']:>6.1f} "
          f"{res['coded_bytes'] / 2**20:>9.0f} {res['peak_increase_bytes'] / 2**20:>9.0f} "
          f"{res['peak_over_coded']:>10.2f}  (target <= 1.5; codes {res['states_dtype']}, rewards "
          f"{res['rewards_dtype']})")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"table_load_{args.agents}x{args.rows}.json").write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
