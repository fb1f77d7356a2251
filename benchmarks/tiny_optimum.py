"""Learned localized policies against the exact centralized optimum on tiny wireless instances.

For ``WirelessAccessEnv(2, 2, users_per_vertex=1)`` and ``(2, 3, ...)`` (deadline 2,
arrival 0.5, reference "random" q_k) the joint MDP is small enough to solve exactly
(:mod:`rl.exact`). This script computes

* the centralized finite-horizon optimum of the reference metric (an upper bound for
  every localized policy),
* the best ALOHA heuristic (same local information as a localized policy) and the
  uniform policy, exactly,
* GSAC (ACR inputs, gamma 0.7, T 10) and, for comparison, the reference SAC (kappa-hop
  truncation), trained on the instance with several seeds; each learned policy is
  evaluated **exactly** when its inputs are the agent's own state (its probabilities
  become per-agent tables ``pi_i(a_i | s_i)`` for :func:`rl.exact.evaluate_local_policy`),
  otherwise by Monte Carlo (20,000 episodes, 95% CI).

Prints a table (value, fraction of the optimum, mean and 95% CI over seeds) and writes
``benchmarks/results/tiny_optimum.json``.

Usage::

    python benchmarks/tiny_optimum.py [--iterations 10000] [--seeds 4] [--seed 0] [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _experiments import machine_info, seed_summary  # noqa: E402

from causalnet.io import atomic_write_json  # noqa: E402
from rl.actors import LocalizedSoftmaxPolicy  # noqa: E402
from rl.envs import WirelessAccessEnv  # noqa: E402
from rl.evaluation import discounted_return  # noqa: E402
from rl.exact import (JointWirelessMDP, best_aloha, evaluate_local_policy, optimal_value,  # noqa: E402
                      uniform_tables)
from rl.gsac import GSACConfig, GSACTrainer  # noqa: E402

__all__ = ["INSTANCES", "learned_tables", "policy_value", "run_instance"]

RESULTS = Path(__file__).resolve().parent / "results"
#: (height, width) of the tiny instances, one user per vertex.
INSTANCES: tuple[tuple[int, int], ...] = ((2, 2), (2, 3))
MONTE_CARLO_EPISODES = 20_000


def _uses_own_state_only(policy: LocalizedSoftmaxPolicy, env: WirelessAccessEnv) -> bool:
    return all(set(cols) <= set(env.spec.agent_state_indices(i)) for i, cols in enumerate(policy.policy_columns))


def learned_tables(policy: LocalizedSoftmaxPolicy, env: WirelessAccessEnv) -> list[np.ndarray]:
    """Per-agent tables ``tables[i][c, a] = pi_i(a | c)`` over the local state code of :mod:`rl.exact`.

    ``c = sum_j s{i}_{j} 2^j``. Only valid when every agent's policy inputs are (a subset
    of) its own queue; a policy that ignores a slot repeats its rows over that slot.
    """
    if not _uses_own_state_only(policy, env):
        raise ValueError("learned_tables needs policies whose inputs are the agent's own state coordinates")
    d, n_state = env.deadline, env.spec.n_state
    codes = np.arange(2 ** d)
    bits = (codes[:, None] >> np.arange(d)[None, :]) & 1                 # (2^d, d)
    tables = []
    for i in range(env.n_agents):
        states = np.zeros((2 ** d, n_state), dtype=np.int64)
        states[:, env.spec.agent_state_indices(i)] = bits
        probs = policy.probabilities(states)[:, i, :int(env.action_counts[i])]
        tables.append(probs / probs.sum(axis=1, keepdims=True))
    return tables


def policy_value(policy: LocalizedSoftmaxPolicy, env: WirelessAccessEnv, mdp: JointWirelessMDP, *,
                 gamma: float, horizon: int, rng: int = 0) -> dict[str, Any]:
    """Exact value of a learned policy when possible, else Monte Carlo with a 95% CI."""
    if _uses_own_state_only(policy, env):
        value = evaluate_local_policy(mdp, learned_tables(policy, env), gamma=gamma, horizon=horizon).value
        return {"value": float(value), "method": "exact"}
    res = discounted_return(env, policy, gamma=gamma, horizon=horizon, episodes=MONTE_CARLO_EPISODES, rng=rng)
    return {"value": float(res.mean), "method": "monte_carlo", "ci95": list(res.ci95), "std_err": res.std_err}


def _config(algorithm: str, gamma: float, horizon: int) -> GSACConfig:
    if algorithm == "gsac":
        return GSACConfig(gamma=gamma, horizon=horizon)
    if algorithm == "sac":
        return GSACConfig.reference_sac(gamma=gamma, horizon=horizon)
    raise ValueError(f"algorithm must be 'gsac' or 'sac', got {algorithm!r}")


def run_instance(shape: tuple[int, int], *, users_per_vertex: int = 1, deadline: int = 2, arrival: float = 0.5,
                 transmit: str = "random", gamma: float = 0.7, horizon: int = 10, iterations: int = 10_000,
                 checkpoints: int = 5, n_seeds: int = 4, seed: int = 0,
                 algorithms: Sequence[str] = ("gsac", "sac")) -> dict[str, Any]:
    """Optimum, best ALOHA, uniform and learned policies' values on one tiny instance.

    Each algorithm trains ``n_seeds`` independent runs (spawned from ``seed``) for
    ``iterations`` outer iterations; every learned policy is valued at ``checkpoints``
    evenly spaced iteration counts. Returns a JSON-ready dict.
    """
    if iterations < 1 or checkpoints < 1 or iterations % checkpoints:
        raise ValueError(f"iterations ({iterations}) must be a positive multiple of checkpoints ({checkpoints})")
    env = WirelessAccessEnv(*shape, users_per_vertex=users_per_vertex, deadline=deadline, arrival=arrival,
                            transmit=transmit)
    start = time.perf_counter()
    mdp = JointWirelessMDP(env)
    optimum = optimal_value(mdp, gamma=gamma, horizon=horizon).value
    aloha = best_aloha(mdp, gamma=gamma, horizon=horizon)
    uniform = evaluate_local_policy(mdp, uniform_tables(env), gamma=gamma, horizon=horizon).value
    exact_seconds = time.perf_counter() - start
    out: dict[str, Any] = {
        "instance": {"shape": list(shape), "users_per_vertex": users_per_vertex, "deadline": deadline,
                     "arrival": arrival, "transmit": transmit, "n_agents": env.n_agents},
        "gamma": gamma, "horizon": horizon, "optimum": float(optimum),
        "best_aloha": {"q": float(aloha.q), "value": float(aloha.value)}, "uniform": float(uniform),
        "exact_seconds": exact_seconds, "algorithms": {}}
    step = iterations // checkpoints
    for algorithm in algorithms:
        trainer = GSACTrainer(env, env.true_graph(), _config(algorithm, gamma, horizon), rng=seed, n_runs=n_seeds)
        curve, methods, train_seconds = [], set(), 0.0
        for k in range(checkpoints):
            t0 = time.perf_counter()
            trainer.iterate(step)
            train_seconds += time.perf_counter() - t0
            values = []
            for r in range(n_seeds):
                val = policy_value(trainer.policy(r), env, mdp, gamma=gamma, horizon=horizon, rng=r)
                methods.add(val["method"])
                values.append(val["value"])
            curve.append({"iteration": (k + 1) * step, **seed_summary(values)})
        final = curve[-1]
        shapes = trainer.theta.shape
        out["algorithms"][algorithm] = {
            "config": trainer.config.to_dict(), "evaluation": sorted(methods), "curve": curve,
            "final": final, "fraction_of_optimum": seed_summary(np.asarray(final["values"]) / optimum),
            "at_least_best_aloha": bool(min(final["values"]) >= aloha.value),
            "mean_at_least_best_aloha": bool(final["mean"] >= aloha.value),
            "seeds_below_best_aloha": [r for r, v in enumerate(final["values"]) if v < aloha.value],
            "actor_entries_per_run": int(np.prod(shapes[1:])), "critic_entries": int(trainer.critic.n_entries()),
            "train_seconds": train_seconds}
    return out


def _fmt(summary: dict[str, Any]) -> str:
    lo, hi = summary["ci95"]
    return f"{summary['mean']:.4f} [{lo:.4f}, {hi:.4f}]"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=10_000)
    parser.add_argument("--checkpoints", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=4, help="independent runs per algorithm")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="2x2 only, 2000 iterations")
    parser.add_argument("--output", type=Path, default=RESULTS / "tiny_optimum.json")
    args = parser.parse_args(argv)
    instances = INSTANCES[:1] if args.quick else INSTANCES
    iterations = 2000 if args.quick else args.iterations
    results = []
    for shape in instances:
        res = run_instance(shape, iterations=iterations, checkpoints=args.checkpoints, n_seeds=args.seeds,
                           seed=args.seed)
        results.append(res)
        opt = res["optimum"]
        print(f"\n{shape[0]}x{shape[1]} vertices, {res['instance']['n_agents']} users: optimum {opt:.4f}, "
              f"best ALOHA {res['best_aloha']['value']:.4f} (q={res['best_aloha']['q']:.3f}, "
              f"{res['best_aloha']['value'] / opt:.1%}), uniform {res['uniform']:.4f} ({res['uniform'] / opt:.1%})")
        print(f"{'algorithm':>9} | {'iteration':>9} | {'value: mean [95% CI]':>26} | {'fraction of optimum':>26}")
        for name, alg in res["algorithms"].items():
            for point in alg["curve"]:
                frac = seed_summary(np.asarray(point["values"]) / opt)
                print(f"{name:>9} | {point['iteration']:>9} | {_fmt(point):>26} | {_fmt(frac):>26}")
            print(f"{'':>9}   per seed {np.round(alg['final']['values'], 4).tolist()}  ({'/'.join(alg['evaluation'])}"
                  f", {alg['train_seconds']:.1f} s); mean >= best ALOHA: {alg['mean_at_least_best_aloha']}; "
                  f"seeds below best ALOHA: {alg['seeds_below_best_aloha']}")
    payload = {"benchmark": "tiny_optimum", "iterations": iterations, "seeds": args.seeds, "seed": args.seed,
               "instances": results, **machine_info()}
    atomic_write_json(args.output, payload)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
