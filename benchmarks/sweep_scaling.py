"""Wall time of ``causalnet sweep`` against the backend and the number of workers; identical results.

Runs one sweep, grids x targets x seeds (default 3 x 3 x 5 = 45 cells of the wireless
benchmark), once per (backend, workers) pair, each in a fresh ``causalnet sweep``
subprocess (so the wall time includes starting the pool or the Ray instance). Then
checks that every run produced byte-identical aggregated tables (``summary.json``,
``summary.csv``, ``summary.md``) and byte-identical per-cell ``metrics.json`` and
``graph.json``.

Budgets per cell: ``tiny`` (600 episodes per source domain, 300 training iterations,
2 runs; a few seconds per cell) or ``quick`` (``causalnet run --quick``: about a minute
per cell on the 3 x 3 grid).

Issue 14's target: a 3 x 3 x 5 sweep runs on ``local`` and on ``ray`` with identical
aggregated results; wall time against workers is reported. The machine the numbers in
``docs/scaling.md`` come from has 2 cores shared with other jobs: the load average is
recorded next to every timing. Prints a table and writes
``benchmarks/results/sweep_scaling.json``.

Usage::

    python benchmarks/sweep_scaling.py [--budget tiny|quick] [--runs local:2 ray:2 local:1]
        [--grids 2 3 4] [--targets 0.6 0.65 0.7] [--seeds 5] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from causalnet.io import atomic_write_json

RESULTS = Path(__file__).resolve().parent / "results"
BUDGETS = {
    "tiny": ("data.episodes = 600\n"
             "train = {iterations = 300, runs = 2, eval_points = 3, eval_episodes = 40}\n"
             "adapt = {episodes = 4, eval_episodes = 40}\n"
             "analysis = {error_repeats = 3, error_trajectories = [2, 8]}\n"),
    "quick": "",
}
COMPARED = ("summary.json", "summary.csv", "summary.md")


def sweep_text(budget: str, grids: list[int], targets: list[float], seeds: int) -> str:
    """The sweep file of the benchmark."""
    quick = "quick = true\n" if budget == "quick" else ""
    return (f"{quick}[base]\n{BUDGETS[budget]}[axes]\n\"env.grid\" = {grids}\n"
            f"\"domains.target\" = {targets}\nseed = {list(range(seeds))}\n")


def run_one(spec: Path, out: Path, backend: str, workers: int) -> dict:
    """One ``causalnet sweep`` in a subprocess; its wall time and the load around it."""
    cmd = [sys.executable, "-m", "causalnet_cli.main", "sweep", str(spec), "--out", str(out),
           "--backend", backend, "--workers", str(workers), "--no-progress"]
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"causalnet sweep on {backend} ({workers} workers) failed:\n{proc.stderr}")
    return {"backend": backend, "workers": workers, "wall_seconds": round(wall, 1),
            "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2)}


def folder_digest(out: Path) -> dict[str, bytes]:
    """The bytes that must agree across runs: aggregated tables, every cell's metrics and graph."""
    files = {name: (out / name).read_bytes() for name in COMPARED}
    for cell in sorted((out / "cells").iterdir()):
        for name in ("metrics.json", "graph.json"):
            files[f"cells/{cell.name}/{name}"] = (cell / name).read_bytes()
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", choices=sorted(BUDGETS), default="tiny")
    parser.add_argument("--runs", nargs="+", default=["local:2", "ray:2", "local:1"], metavar="BACKEND:WORKERS")
    parser.add_argument("--grids", nargs="+", type=int, default=[2, 3, 4])
    parser.add_argument("--targets", nargs="+", type=float, default=[0.6, 0.65, 0.7])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--keep", metavar="DIR", help="keep the sweep folders here (default: a temporary folder)")
    args = parser.parse_args(argv)

    runs = []
    for item in args.runs:
        backend, _, workers = item.partition(":")
        runs.append((backend, int(workers or 1)))
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="sweep_scaling_"))
    root.mkdir(parents=True, exist_ok=True)
    spec = root / "sweep.toml"
    spec.write_text(sweep_text(args.budget, args.grids, args.targets, args.seeds))
    n_cells = len(args.grids) * len(args.targets) * args.seeds
    print(f"{n_cells} cells ({len(args.grids)} grids x {len(args.targets)} targets x {args.seeds} seeds), "
          f"budget {args.budget}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}", flush=True)
    rows, digests = [], {}
    try:
        for backend, workers in runs:
            out = root / f"{backend}-{workers}"
            if out.exists():
                shutil.rmtree(out)
            row = run_one(spec, out, backend, workers)
            row["seconds_per_cell"] = round(row["wall_seconds"] / n_cells, 2)
            digests[(backend, workers)] = folder_digest(out)
            rows.append(row)
            print(f"  {backend:6s} {workers} worker(s): {row['wall_seconds']:8.1f} s  "
                  f"(load {row['load_before']:.1f} -> {row['load_after']:.1f})", flush=True)
        reference = digests[runs[0]]
        identical = {f"{b}:{w}": digests[(b, w)] == reference for b, w in runs}
        summary = json.loads((root / f"{runs[0][0]}-{runs[0][1]}" / "summary.json").read_text())
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)

    base = {r["backend"]: r["wall_seconds"] for r in rows if r["workers"] == 1}
    print()
    print(f"| backend | workers | wall time (s) | s per cell | speed-up vs 1 worker | identical to {runs[0][0]}:"
          f"{runs[0][1]} | load before -> after |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        same = identical[f"{r['backend']}:{r['workers']}"]
        one = base.get(r["backend"])
        speed = f"{one / r['wall_seconds']:.2f}x" if one else "-"
        print(f"| {r['backend']} | {r['workers']} | {r['wall_seconds']:.1f} | {r['seconds_per_cell']:.2f} | {speed} | "
              f"{'yes' if same else 'NO'} | "
              f"{r['load_before']:.1f} -> {r['load_after']:.1f} |")
    gsac = [row for row in summary["rows"] if row["method"] == "gsac"]
    print(f"\naggregated rows: {len(summary['rows'])} ({len(gsac)} settings x "
          f"{len(summary['rows']) // max(1, len(gsac))} methods), {args.seeds} seeds each")
    result = {"benchmark": "sweep_scaling", "cells": n_cells, "grids": args.grids, "targets": args.targets,
              "seeds": args.seeds, "budget": args.budget, "cpus": os.cpu_count(), "python": platform.python_version(),
              "runs": rows, "identical": identical, "all_identical": all(identical.values()),
              "summary_rows": summary["rows"]}
    RESULTS.mkdir(exist_ok=True)
    path = atomic_write_json(RESULTS / "sweep_scaling.json", result)
    print(f"wrote {path}")
    return 0 if all(identical.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
