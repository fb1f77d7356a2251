"""Does the ACR pay? GSAC's ACR inputs against the kappa-hop truncation ablation.

Both learners run on the same engine (:class:`rl.gsac.GSACTrainer`) with the same
hyper-parameters (``GSACConfig()`` defaults: kappa 1, gamma 0.7, T 10, persistent
critic, restart 100, eta 5, linear features), in the same single domain (arrival 0.5),
and differ only in ``inputs``: ``"acr"`` (GSAC: critic on the value ACR of the true
graph plus the actions of ``N_i^kappa``, actor on the policy ACR) or ``"truncation"``
(critic on every state coordinate and action of ``N_i^kappa``, actor on the agent's own
state). Settings: ``WirelessAccessEnv.from_grid(3)`` (16 users, the paper's sizing) and
the reference ``WirelessAccessEnv(3, 4, users_per_vertex=2)`` (24 users).

Reported per setting and input mode:

* table sizes: actor entries (from the shape of ``theta`` and, per agent, the number of
  local states times features times actions), the critic's key space
  ``sum_i prod(cardinalities)`` and the keys it actually stored (``critic_entries``);
* training curves (return vs outer iterations, ``n_seeds`` seeds, mean and 95% CI) and
  the iterations each seed needs to reach 90% of the lower of the two final means
  ("at equal return, no more samples").

On the wireless benchmark the value ACR of agent ``i`` is its own queue, but the critic
key still holds the actions of all of ``N_i^kappa``; the actor's ACR equals the
truncation's own-state input. Writes ``benchmarks/results/acr_pays.json``.

Usage::

    python benchmarks/acr_pays.py [--seeds 4] [--quick] [--settings grid3 reference]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _experiments import machine_info, seed_summary  # noqa: E402

from causalnet.io import atomic_write_json  # noqa: E402
from rl.envs import WirelessAccessEnv  # noqa: E402
from rl.gsac import GSACConfig, GSACTrainer  # noqa: E402

__all__ = ["SETTINGS", "compare_inputs", "iterations_to_reach", "table_sizes"]

RESULTS = Path(__file__).resolve().parent / "results"
#: name -> (environment factory, default iterations)
SETTINGS: dict[str, tuple[Any, int]] = {
    "grid3": (lambda: WirelessAccessEnv.from_grid(3), 20_000),
    "reference": (lambda: WirelessAccessEnv(3, 4, users_per_vertex=2), 40_000),
}
REACH_FRACTION = 0.9


def table_sizes(trainer: GSACTrainer) -> dict[str, Any]:
    """Actor and critic sizes of one run of ``trainer``.

    ``actor_theta_entries``: entries of one run's padded ``theta`` ``(n, S, F, A)``;
    ``actor_entries``: ``sum_i S_i * F * A_i`` (the agent's own local states and actions);
    ``critic_key_space``: ``sum_i prod(critic cardinalities of i)`` (exact integer);
    ``critic_key_width_mean``: mean number of critic inputs per agent.
    """
    inputs = trainer.inputs
    n_feat = trainer.theta.shape[3]
    actor = sum(math.prod(card) * n_feat * int(a) for card, a in zip(inputs.policy_cardinality,
                                                                     trainer.action_counts))
    key_space = sum(math.prod(card) for card in inputs.critic_cardinality)
    return {"actor_theta_entries": int(np.prod(trainer.theta.shape[1:])), "actor_entries": int(actor),
            "actor_inputs_mean": float(np.mean([len(c) for c in inputs.policy_columns])),
            "critic_key_space": int(key_space), "critic_key_space_log10": math.log10(key_space),
            "critic_key_width_mean": float(np.mean([len(c) for c in inputs.critic_columns]))}


def iterations_to_reach(iterations: Sequence[int], curve: Sequence[float], level: float) -> int | None:
    """First evaluated iteration count whose return is at least ``level`` (None: never).

    >>> iterations_to_reach([0, 10, 20], [0.1, 0.5, 0.4], 0.45)
    10
    """
    for k, value in zip(iterations, curve):
        if value >= level:
            return int(k)
    return None


def compare_inputs(env, *, iterations: int, eval_every: int, n_seeds: int = 4, seed: int = 0,
                   eval_episodes: int = 400, config: GSACConfig | None = None) -> dict[str, Any]:
    """Train ACR and truncation inputs side by side; sizes, curves and iterations to equal return."""
    if iterations < eval_every or iterations % eval_every:
        raise ValueError(f"iterations ({iterations}) must be a positive multiple of eval_every ({eval_every})")
    base = GSACConfig() if config is None else config
    out: dict[str, Any] = {"env": env.config(), "n_agents": env.n_agents, "iterations": iterations,
                           "eval_every": eval_every, "n_seeds": n_seeds, "eval_episodes": eval_episodes, "modes": {}}
    graph = env.true_graph()
    for mode, seq in zip(("acr", "truncation"), np.random.SeedSequence([seed, 7]).spawn(2)):
        cfg = GSACConfig.from_dict({**base.to_dict(), "inputs": mode})
        trainer = GSACTrainer(env, graph, cfg, rng=seq, n_runs=n_seeds)
        start = time.perf_counter()
        res = trainer.run(iterations, eval_every=eval_every, eval_episodes=eval_episodes)
        wall = time.perf_counter() - start
        curve = [seed_summary(res.eval_returns[:, e]) for e in range(res.eval_returns.shape[1])]
        out["modes"][mode] = {
            "config": cfg.to_dict(), **table_sizes(trainer),
            "critic_entries_per_run": res.critic_entries / n_seeds, "critic_entries_total": int(res.critic_entries),
            "eval_iterations": res.eval_iterations.tolist(), "curve": curve,
            "per_run": res.eval_returns.tolist(), "final": curve[-1],
            "train_seconds": res.train_seconds, "wall_seconds": wall,
            "example_critic_inputs_agent0": len(trainer.inputs.critic_columns[0])}
    finals = [out["modes"][m]["final"]["mean"] for m in ("acr", "truncation")]
    level = REACH_FRACTION * min(finals)
    out["equal_return_level"] = level
    for mode in ("acr", "truncation"):
        m = out["modes"][mode]
        reach = [iterations_to_reach(m["eval_iterations"], run, level) for run in m["per_run"]]
        m["iterations_to_level_per_run"] = reach
        m["iterations_to_level_mean_curve"] = iterations_to_reach(m["eval_iterations"],
                                                                  [c["mean"] for c in m["curve"]], level)
    return out


def _fmt(s: dict[str, Any]) -> str:
    return f"{s['mean']:.4f} [{s['ci95'][0]:.4f}, {s['ci95'][1]:.4f}]"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="+", choices=sorted(SETTINGS), default=["grid3", "reference"])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--iterations", type=int, default=None, help="override every setting's default")
    parser.add_argument("--eval-every", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="grid3 only, 2 seeds, 4000 iterations")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    settings = ["grid3"] if args.quick else args.settings
    seeds = min(args.seeds, 2) if args.quick else args.seeds
    output = args.output or RESULTS / ("acr_pays_quick.json" if args.quick else "acr_pays.json")
    results = {}
    for name in settings:
        factory, default_iters = SETTINGS[name]
        iterations = 4000 if args.quick else (args.iterations or default_iters)
        res = compare_inputs(factory(), iterations=iterations, eval_every=args.eval_every, n_seeds=seeds,
                             seed=args.seed)
        results[name] = res
        print(f"\n{name}: {res['n_agents']} agents, {iterations} iterations, {seeds} seeds")
        print(f"{'inputs':>10} | {'actor entries':>13} | {'critic key space':>16} | {'critic stored/run':>17} | "
              f"{'final return [95% CI]':>26} | {'iters to ' + format(res['equal_return_level'], '.3f'):>14} | "
              f"{'train s':>7}")
        for mode, m in res["modes"].items():
            reach = m["iterations_to_level_per_run"]
            print(f"{mode:>10} | {m['actor_entries']:>13,} | {m['critic_key_space']:>16.3e} | "
                  f"{m['critic_entries_per_run']:>17,.0f} | {_fmt(m['final']):>26} | {str(reach):>14} | "
                  f"{m['train_seconds']:7.1f}")
        print(f"{'iteration':>9} | {'acr: mean [95% CI]':>26} | {'truncation: mean [95% CI]':>26}")
        for k, a, t in zip(res["modes"]["acr"]["eval_iterations"], res["modes"]["acr"]["curve"],
                           res["modes"]["truncation"]["curve"]):
            print(f"{k:>9} | {_fmt(a):>26} | {_fmt(t):>26}")
        atomic_write_json(output, {"benchmark": "acr_pays", "quick": args.quick, "results": results,
                                   **machine_info()})
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
