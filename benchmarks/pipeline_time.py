"""Wall time and peak memory of ``causalnet run``, stage by stage.

Runs the command line's pipeline in a fresh subprocess for each mode (``--quick`` and the
default benchmark: wireless, 3 x 3 access points, sources 0.2/0.5/0.8, target 0.65) in a
temporary folder, then reads the per-stage wall times the run recorded in
``run_state.json`` and the child's peak resident set size (``ru_maxrss``).

Targets (issue 5): the default run under 10 minutes and ``--quick`` about a minute on a
2-core machine. Prints a table and writes ``benchmarks/results/pipeline_time.json``.

Usage::

    python benchmarks/pipeline_time.py [--modes quick default]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from causalnet.io import atomic_write_json

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_SECONDS = {"quick": 60.0, "default": 600.0}


def time_mode(mode: str) -> dict:
    """One ``causalnet run`` in ``mode``; its stage times, total time and peak RSS."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "causalnet_cli.main", "run", "--out", str(out), "--no-progress"]
        if mode == "quick":
            cmd.append("--quick")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            raise RuntimeError(f"causalnet run ({mode}) failed:\n{proc.stderr}")
        state = json.loads((out / "run_state.json").read_text())
        metrics = json.loads((out / "metrics.json").read_text())
    stages = {name: entry["seconds"] for name, entry in state["stages"].items()}
    return {"mode": mode, "wall_seconds": round(wall, 1), "stage_seconds": stages,
            "cpu_seconds": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 1),
            "peak_rss_mb": round(after.ru_maxrss / 1024, 1), "target_seconds": TARGET_SECONDS[mode],
            "gsac_zero_shot": metrics["methods"]["gsac"]["zero_shot"]["mean"] if "gsac" in metrics["methods"] else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", nargs="+", choices=sorted(TARGET_SECONDS), default=["quick", "default"])
    args = parser.parse_args(argv)
    rows = [time_mode(mode) for mode in args.modes]
    stage_names = list(dict.fromkeys(name for r in rows for name in r["stage_seconds"]))
    print(f"{'stage':<16}" + "".join(f"{r['mode']:>12}" for r in rows))
    for name in stage_names:
        print(f"{name:<16}" + "".join(f"{r['stage_seconds'].get(name, float('nan')):>11.1f}s" for r in rows))
    print(f"{'total (wall)':<16}" + "".join(f"{r['wall_seconds']:>11.1f}s" for r in rows))
    print(f"{'target':<16}" + "".join(f"{r['target_seconds']:>11.0f}s" for r in rows))
    print(f"{'CPU time':<16}" + "".join(f"{r['cpu_seconds']:>11.1f}s" for r in rows))
    print(f"{'peak RSS':<16}" + "".join(f"{r['peak_rss_mb']:>9.0f} MB" for r in rows))
    result = {"machine": platform.platform(), "python": platform.python_version(), "runs": rows}
    path = atomic_write_json(RESULTS / "pipeline_time.json", result)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
