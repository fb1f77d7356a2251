"""The same GSAC defaults on three systems: share of an exact or expert reference reached.

Systems (all trained with ``GSACConfig()`` defaults; gamma and T are each system's own):

* **synthetic**: ``SyntheticNetworkEnv(n_agents=4, state_dims=1)`` (the synthetic family,
  small enough that the centralised optimum of the 10-step discounted return is computed
  exactly by backward induction over the joint MDP in the target domain);
* **wireless**: ``WirelessAccessEnv(2, 3, users_per_vertex=1)``, exact centralised optimum
  from :func:`rl.exact.optimal_value`;
* **epidemic**: ``tests/epidemic_env.py`` (16 agents, conditional domain change, rewards
  <= 0), reference = the expert heuristic; also the **logs-only path**: uniform-policy
  logs of the sources -> ``LocalDiscovery`` -> ``LatentDomainFactorEstimator`` ->
  ``DiscoveredModel`` -> GSAC trained in the model -> zero-shot in the real system with
  ``w_hat`` estimated from 20 target episodes.

Share = (policy - uniform) / (reference - uniform), mean and 95% CI over runs. Every
policy is trained on three source domains and deployed zero-shot in an unseen target.

Usage::

    python benchmarks/cross_system.py [--iterations 5000] [--runs 3] [--systems synthetic,wireless,epidemic]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from causalnet import DiscoveredModel, LatentDomainFactorEstimator, LocalDiscovery  # noqa: E402
from causalnet.io import atomic_write_json  # noqa: E402
from epidemic_env import EpidemicEnv, ExpertPolicy  # noqa: E402
from rl.adaptation import estimate_target_factor, mean_ci  # noqa: E402
from rl.envs import SyntheticNetworkEnv, WirelessAccessEnv  # noqa: E402
from rl.evaluation import discounted_return  # noqa: E402
from rl.exact import optimal_value  # noqa: E402
from rl.gsac import GSACConfig, train_gsac  # noqa: E402
from rl.model_returns import model_return_interval  # noqa: E402
from rl.policies import UniformPolicy  # noqa: E402
from rl.rollout import collect_transitions  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def synthetic_optimum(env: SyntheticNetworkEnv, *, gamma: float, horizon: int) -> float:
    """Centralised optimum of the discounted ``horizon``-step return (mean over agents), exactly."""
    spec = env.spec
    cards = np.asarray(spec.state_cardinality, dtype=np.int64)
    states = np.array(list(itertools.product(*[range(c) for c in cards])), dtype=np.int64)
    actions = np.array(list(itertools.product(*[range(int(a)) for a in env.action_counts])), dtype=np.int64)
    S, A, m = len(states), len(actions), spec.n_state
    strides = np.cumprod(np.r_[1, cards[::-1][:-1]])[::-1]
    reward = np.zeros((S, A))
    trans = np.zeros((S, A, S))
    for a_idx, a in enumerate(actions):
        probs = env.probabilities(states, np.repeat(a[None], S, axis=0))       # (S, m + n, K)
        values = np.arange(probs.shape[2])
        reward[:, a_idx] = (probs[:, m:] * values).sum(axis=2).mean(axis=1)
        joint = np.ones((S, 1))
        for c in range(m):
            joint = (joint[:, :, None] * probs[:, c, None, :cards[c]]).reshape(S, -1)
        trans[:, a_idx] = joint
    order = states @ strides           # itertools.product order is already mixed-radix
    if not np.array_equal(order, np.arange(S)):
        raise RuntimeError("state enumeration is not in mixed-radix order")
    v = np.zeros(S)
    for _ in range(horizon):
        v = (reward + gamma * trans @ v).max(axis=1)
    return float(v.mean())              # reset: every coordinate uniform


def share(values: np.ndarray, uniform: float, reference: float) -> dict[str, Any]:
    s = (np.asarray(values) - uniform) / (reference - uniform)
    mean, low, high = mean_ci(s)
    return {"mean": float(mean), "ci95": [float(low), float(high)], "per_run": s.tolist()}


def run_system(name: str, iterations: int, runs: int, seed: int) -> dict[str, Any]:
    if name == "synthetic":
        env = SyntheticNetworkEnv(n_agents=4, state_dims=1, rng=7)
        sources, target, gamma, horizon = [0.2, 0.5, 0.8], 0.65, 0.7, 10
        reference = synthetic_optimum(env.with_domain_factor(target), gamma=gamma, horizon=horizon)
        ref_kind = "exact centralised optimum"
    elif name == "wireless":
        env = WirelessAccessEnv(2, 3, users_per_vertex=1)
        sources, target, gamma, horizon = [0.2, 0.5, 0.8], 0.65, 0.7, 10
        reference = optimal_value(env.with_domain_factor(target), gamma=gamma, horizon=horizon).value
        ref_kind = "exact centralised optimum"
    else:
        env = EpidemicEnv(4)
        sources, target, gamma, horizon = [0.2, 0.35, 0.5], 0.42, 0.9, 10
        reference = None
        ref_kind = "expert heuristic"
    tgt_env = env.with_domain_factor(target)
    episodes = 4000
    uniform = discounted_return(tgt_env, UniformPolicy(env.action_counts), gamma=gamma, horizon=horizon,
                                episodes=episodes, rng=seed + 1).mean
    if reference is None:
        reference = discounted_return(tgt_env, ExpertPolicy(env), gamma=gamma, horizon=horizon,
                                      episodes=episodes, rng=seed + 1).mean
    config = GSACConfig(gamma=gamma, horizon=horizon)
    start = time.perf_counter()
    res = train_gsac(env, env.true_graph(), config, iterations=iterations, domain_factors=sources,
                     rng=seed, n_runs=runs, eval_every=iterations, eval_episodes=episodes, eval_env=tgt_env)
    out: dict[str, Any] = {
        "system": name, "n_agents": env.n_agents, "sources": sources, "target": target, "gamma": gamma,
        "horizon": horizon, "iterations": iterations, "runs": runs, "reference_kind": ref_kind,
        "reference": reference, "uniform": uniform,
        "gsac_true_model": {"returns": res.eval_returns[:, -1].tolist(),
                            "share": share(res.eval_returns[:, -1], uniform, reference),
                            "seconds": time.perf_counter() - start}}
    if name == "epidemic":
        out["logs_only"] = logs_only(env, sources, target, gamma, horizon, iterations, runs, seed, uniform,
                                     reference)
    return out


def logs_only(env, sources, target, gamma, horizon, iterations, runs, seed, uniform, reference) -> dict[str, Any]:
    """discover -> latent factors -> discovered model -> GSAC in the model -> zero-shot in reality."""
    start = time.perf_counter()
    data = collect_transitions(env, None, episodes=200, horizon=horizon, domain_factors=sources, rng=seed + 10)
    stripped = type(data)(data.spec, data.states, data.actions, data.rewards, data.next_states, data.domain,
                          data.episode, data.time)                         # the true factors are unknown
    graph = LocalDiscovery().fit(stripped).graph_
    truth = env.true_graph()
    edges_ok = all(sorted(graph.parents[v]) == sorted(truth.parents[v]) for v in truth.parents)
    latent = LatentDomainFactorEstimator(graph, rng=seed + 11).fit(stripped)
    w_src = np.nan_to_num(latent.w_hat_, nan=0.0)
    model = DiscoveredModel(graph).fit(stripped, domain_factors=w_src)
    res = train_gsac(model, graph, GSACConfig(gamma=gamma, horizon=horizon), iterations=iterations,
                     domain_factors=w_src, w_hat=w_src, rng=seed + 12, n_runs=runs)
    tgt_env = env.with_domain_factor(target)
    returns = []
    for r, policy in enumerate(res.policies):
        w_t, _ = estimate_target_factor(latent, env, target, trajectories=20, horizon=horizon,
                                        rng=np.random.default_rng(seed + 100 + r))
        policy.w_hat = np.nan_to_num(w_t, nan=0.0)
        returns.append(discounted_return(tgt_env, policy, gamma=gamma, horizon=horizon, episodes=4000,
                                         rng=seed + 1).mean)
    # what the model promises for run 0's policy in the target, with its bootstrap interval
    policy = res.policies[0]
    interval = model_return_interval(graph, stripped, policy, domain_factor=policy.w_hat, gamma=gamma,
                                     horizon=horizon, domain_factors=w_src, n_models=10, episodes=1000,
                                     rng=seed + 13)
    return {"graph_equals_truth": bool(edges_ok), "source_w_hat_mean": latent.w_hat_.mean(axis=1).tolist(),
            "model_return_run0": {**interval.to_dict(), "real": returns[0], "covers": interval.covers(returns[0])},
            "returns": returns, "share": share(np.array(returns), uniform, reference),
            "seconds": time.perf_counter() - start}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--systems", default="synthetic,wireless,epidemic")
    parser.add_argument("--output", type=Path, default=RESULTS / "cross_system.json")
    args = parser.parse_args(argv)
    rows = []
    print(f"{'system':10s} {'reference':>26s} {'uniform':>8s} {'share, true model':>26s} {'share, logs only':>26s}")
    for name in args.systems.split(","):
        row = run_system(name.strip(), args.iterations, args.runs, args.seed)
        rows.append(row)
        s = row["gsac_true_model"]["share"]
        lo = row.get("logs_only", {}).get("share")
        fmt = lambda d: f"{d['mean']:.2f} [{d['ci95'][0]:.2f}, {d['ci95'][1]:.2f}]"  # noqa: E731
        print(f"{name:10s} {row['reference_kind'][:16]:>16s} {row['reference']:9.3f} {row['uniform']:8.3f} "
              f"{fmt(s):>26s} {fmt(lo) if lo else '':>26s}", flush=True)
        if "logs_only" in row:
            mr = row["logs_only"]["model_return_run0"]
            print(f"{'':10s} logs-only run 0: model return {mr['mean']:.3f} [{mr['interval'][0]:.3f}, "
                  f"{mr['interval'][1]:.3f}], real {mr['real']:.3f}, covered: {mr['covers']}", flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.output, {"iterations": args.iterations, "runs": args.runs, "systems": rows})
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
