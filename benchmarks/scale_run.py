"""Large networks: ``causalnet run`` time and memory at 1,024 agents, training memory at 4,096.

Two measurements, each in a fresh subprocess:

* ``pipeline`` -- ``causalnet run`` on the wireless network of grid ``--grid`` (31:
  1,024 users) with the default budget scaled by ``--scale`` (``data.episodes`` and
  ``train.iterations`` multiplied by it; 1.0 is the default budget). Reports every
  stage's wall time (from ``run_state.json``), the total, the CPU time and the peak
  resident memory of the run and of its worker processes (``ru_maxrss`` of the
  children). With ``--scale`` below 1 it also gives the default-budget estimate:
  the data-proportional stages (collect, discover, domain factors) and the training
  stages divided by the scale, the others as measured.
* ``train-memory`` -- a GSAC trainer (``--runs`` runs, 3 sources, default config, so
  the critic is capped at ``critic_memory_mb``) on grid ``--train-grid`` (63: 4,096
  users), resident memory sampled every ``--every`` iterations: once the cap binds
  the memory stays flat, which is what lets a run of any length fit.
* ``discovery-memory`` -- collecting ``--episodes`` uniform episodes per source (3
  sources, 10 steps) on grid ``--grid`` and running the pipeline's discovery on them:
  time and peak resident memory of the process and of its worker processes.

Writes ``benchmarks/results/scale_run.json`` (merged with earlier results).

Usage::

    python benchmarks/scale_run.py pipeline --grid 31 --scale 0.02
    python benchmarks/scale_run.py train-memory --train-grid 63 --iterations 1500
    python benchmarks/scale_run.py discovery-memory --grid 31 --episodes 1000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_EPISODES, DEFAULT_ITERATIONS = 20_000, 30_000
DATA_STAGES = ("collect", "discover", "domain_factors")


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def pipeline(grid: int, scale: float, extra: list[str]) -> dict:
    episodes = max(10, int(round(DEFAULT_EPISODES * scale)))
    iterations = max(1, int(round(DEFAULT_ITERATIONS * scale)))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "causalnet_cli.main", "run", "--out", str(out), "--no-progress",
               "--set", f"env.grid={grid}", "--set", f"data.episodes={episodes}",
               "--set", f"train.iterations={iterations}", *extra]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            raise RuntimeError(f"causalnet run failed:\n{proc.stderr[-3000:]}")
        state = json.loads((out / "run_state.json").read_text())
        figures = sorted(p.name for p in (out / "figures").glob("*.png")) if (out / "figures").exists() else []
    stages = {name: entry["seconds"] for name, entry in state["stages"].items()}
    estimate = None
    if scale < 1.0:
        estimate = sum(s / scale if (n in DATA_STAGES or n.startswith("train:")) else s for n, s in stages.items())
    return {"grid": grid, "agents": (grid + 1) ** 2, "scale": scale, "episodes_per_source": episodes,
            "iterations": iterations, "wall_seconds": wall, "stage_seconds": stages,
            "cpu_seconds": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "peak_rss_mb": after.ru_maxrss / 1024, "figures": figures,
            "default_budget_estimate_seconds": estimate, "extra": extra}


def train_memory(grid: int, runs: int, iterations: int, every: int) -> dict:
    from rl.envs import WirelessAccessEnv
    from rl.gsac import GSACConfig, GSACTrainer

    env = WirelessAccessEnv.from_grid(grid)
    start = time.perf_counter()
    trainer = GSACTrainer(env, env.true_graph(), GSACConfig(), domain_factors=[0.2, 0.5, 0.8], rng=0, n_runs=runs)
    setup = time.perf_counter() - start
    samples = []
    done = 0
    while done < iterations:
        step = min(every, iterations - done)
        trainer.iterate(step)
        done += step
        table = trainer.critic._table
        samples.append({"iteration": done, "rss_mb": _rss_mb(), "keys": int(table.size),
                        "evicted": int(table.evicted), "table_mb": trainer.critic.nbytes() / 2**20,
                        "seconds": time.perf_counter() - start})
        print(json.dumps(samples[-1]), file=sys.stderr, flush=True)
    return {"grid": grid, "agents": env.n_agents, "runs": runs, "iterations": iterations, "setup_seconds": setup,
            "critic_memory_mb": trainer.config.critic_memory_mb, "max_entries": trainer.critic.max_entries,
            "samples": samples, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def discovery_memory(grid: int, episodes: int, n_jobs: int) -> dict:
    """Peak memory of collecting ``episodes`` uniform episodes per source and discovering the graph."""
    from causalnet.discovery import LocalDiscovery
    from rl.envs import WirelessAccessEnv
    from rl.rollout import collect_transitions

    env = WirelessAccessEnv.from_grid(grid)
    base = _rss_mb()
    start = time.perf_counter()
    data = collect_transitions(env, None, episodes=episodes, horizon=10, domain_factors=[0.2, 0.5, 0.8], rng=0)
    collect_s = time.perf_counter() - start
    after_collect = _rss_mb()
    data_mb = sum(getattr(data, k).nbytes for k in ("states", "next_states", "actions", "rewards")) / 2**20
    start = time.perf_counter()
    LocalDiscovery(alpha=0.001, ci_test="gsq", max_cond_size=2, n_jobs=n_jobs).fit(data)
    discover_s = time.perf_counter() - start
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"grid": grid, "agents": env.n_agents, "rows": len(data), "n_jobs": n_jobs, "rss_before_mb": base,
            "rss_after_collect_mb": after_collect, "data_mb": data_mb, "collect_seconds": collect_s,
            "discover_seconds": discover_s, "peak_rss_mb": own, "peak_worker_rss_mb": workers}


def _save(key: str, value: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "scale_run.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[key] = {**value, "load_average": os.getloadavg(), "cpu_count": os.cpu_count()}
    path.write_text(json.dumps(data, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=["pipeline", "train-memory", "discovery-memory"])
    parser.add_argument("--grid", type=int, default=31)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--set", action="append", default=[], help="extra `causalnet run --set` overrides")
    parser.add_argument("--train-grid", type=int, default=63)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=1500)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--episodes", type=int, default=1000, help="discovery-memory: episodes per source")
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()
    if args.what == "pipeline":
        extra = [x for s in args.set for x in ("--set", s)]
        res = pipeline(args.grid, args.scale, extra)
        print(f"causalnet run, grid {res['grid']} ({res['agents']} agents), scale {res['scale']} "
              f"({res['episodes_per_source']} episodes/source, {res['iterations']} iterations)")
        for name, sec in res["stage_seconds"].items():
            print(f"  {name:16s} {sec:9.1f} s")
        print(f"  total wall {res['wall_seconds']:.1f} s, CPU {res['cpu_seconds']:.1f} s, "
              f"peak RSS {res['peak_rss_mb']:.0f} MB, figures: {len(res['figures'])}")
        if res["default_budget_estimate_seconds"] is not None:
            print(f"  default-budget estimate: {res['default_budget_estimate_seconds']:.0f} s")
        _save(f"pipeline_grid{args.grid}_scale{args.scale:g}", res)
    elif args.what == "discovery-memory":
        res = discovery_memory(args.grid, args.episodes, args.n_jobs)
        print(f"discovery, {res['agents']} agents, {res['rows']} rows ({res['data_mb']:.0f} MB of data): collect "
              f"{res['collect_seconds']:.1f} s, discover {res['discover_seconds']:.1f} s, peak RSS "
              f"{res['peak_rss_mb']:.0f} MB (workers {res['peak_worker_rss_mb']:.0f} MB)")
        _save(f"discovery_memory_grid{args.grid}_episodes{args.episodes}", res)
    else:
        res = train_memory(args.train_grid, args.runs, args.iterations, args.every)
        print(f"GSAC training memory, {res['agents']} agents, {res['runs']} runs, cap {res['max_entries']} keys")
        for s in res["samples"]:
            print(f"  it {s['iteration']:6d}: RSS {s['rss_mb']:7.0f} MB, keys {s['keys']:10d}, evicted "
                  f"{s['evicted']:10d}, table {s['table_mb']:6.0f} MB, {s['seconds']:7.1f} s")
        _save(f"train_memory_grid{args.train_grid}", res)


if __name__ == "__main__":
    main()
