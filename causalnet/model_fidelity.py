"""How faithful is a :class:`~causalnet.model.DiscoveredModel` to the logs it came from?

Two checks, both from the logs alone:

* **held-out log-likelihood per target**: the model is fitted on a random share of the
  episodes and scores the others, ``mean log P_model(target value | parents)`` per
  next-state coordinate and reward, next to the same score of the target's pooled marginal
  distribution (a model that learnt nothing);
* **behaviour rollouts**: the behaviour policy of the logs (each agent's empirical action
  frequencies, drawn independently, as in uniform-policy logs) rolled out in the model
  against the discounted returns of the logged episodes, per domain, with 95% intervals.

A model whose behaviour-policy returns miss the logged ones is biased, and its returns for
any other policy deserve the same doubt (see ``rl.model_returns`` for intervals).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from causalnet.data import Transitions
from causalnet.graph import FactoredGraph
from causalnet.model import DiscoveredModel

__all__ = ["behaviour_returns", "fidelity_report", "held_out_log_likelihood", "logged_returns",
           "split_episodes"]


def split_episodes(transitions: Transitions, fraction: float, rng) -> tuple[Transitions, Transitions]:
    """``(train, test)``: a random ``fraction`` of each domain's episodes goes to ``test``."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must lie in (0, 1), got {fraction!r}")
    gen = np.random.default_rng(rng)
    test_eps = []
    for m in range(transitions.n_domains):
        eps = np.unique(transitions.episode[transitions.domain == m])
        k = max(1, int(round(fraction * eps.size)))
        test_eps.append(gen.choice(eps, size=k, replace=False))
    is_test = np.isin(transitions.episode, np.concatenate(test_eps))
    return transitions.subset(~is_test), transitions.subset(is_test)


def held_out_log_likelihood(model: DiscoveredModel, transitions: Transitions,
                            domain_factors: np.ndarray) -> dict[str, dict[str, float]]:
    """Mean log-probability the model gives each target's observed value, per target.

    ``domain_factors`` (shape ``(M, n_agents)``) is the factor of each domain label of
    ``transitions``. Probabilities are floored at ``1e-12``.
    """
    model._check_fitted()
    spec = model.spec
    w_rows = np.asarray(domain_factors, dtype=np.float64)[transitions.domain]
    rows = np.concatenate([transitions.states, transitions.actions], axis=1).astype(np.int64)
    out: dict[str, dict[str, float]] = {}
    targets = ([(name, cpt, transitions.next_states[:, j]) for j, (name, cpt)
                in enumerate(zip(spec.state_names, model._state_cpts))]
               + [(name, cpt, transitions.rewards[:, i]) for i, (name, cpt)
                  in enumerate(zip(spec.reward_names, model._reward_cpts))])
    for name, cpt, observed in targets:
        w_owner = w_rows[:, cpt.owner]
        _, probs = cpt.levels[-1].probabilities(rows, w_owner)
        for level in reversed(cpt.levels[:-1]):
            found, p = level.probabilities(rows, w_owner)
            probs = np.where(found[:, None], p, probs)
        probs = np.clip(probs, 0.0, None)
        sums = probs.sum(axis=1, keepdims=True)
        probs = np.where(sums > 0, probs / np.where(sums > 0, sums, 1.0), 1.0 / probs.shape[1])
        values = np.asarray(cpt.values)
        idx = np.searchsorted(values, observed)
        idx_c = np.minimum(idx, values.size - 1)
        known = values[idx_c] == observed
        p_obs = np.where(known, probs[np.arange(len(observed)), idx_c], 0.0)
        marg = np.array([np.mean(observed == v) for v in values])
        p_marg = np.where(known, marg[idx_c], 0.0)
        out[name] = {"model": float(np.mean(np.log(np.maximum(p_obs, 1e-12)))),
                     "marginal": float(np.mean(np.log(np.maximum(p_marg, 1e-12))))}
    return out


def logged_returns(transitions: Transitions, *, gamma: float, domain: int) -> np.ndarray:
    """Discounted return (mean over agents) of every logged episode of ``domain``."""
    sel = transitions.domain == domain
    eps, inv = np.unique(transitions.episode[sel], return_inverse=True)
    t = transitions.time[sel] - np.array([transitions.time[sel][inv == k].min() for k in range(eps.size)])[inv]
    per_row = transitions.rewards[sel].mean(axis=1) * gamma ** t
    return np.bincount(inv, weights=per_row, minlength=eps.size)


def behaviour_returns(model: DiscoveredModel, transitions: Transitions, *, domain_factor: np.ndarray,
                      gamma: float, horizon: int, episodes: int, rng) -> np.ndarray:
    """Discounted returns of the logs' behaviour policy (per-agent action frequencies) in the model."""
    gen = np.random.default_rng(rng)
    n = model.n_agents
    counts = model.action_counts
    freq = [np.bincount(transitions.actions[:, i], minlength=int(counts[i])) / len(transitions) for i in range(n)]
    cdfs = [np.cumsum(f) for f in freq]
    states = model.reset(episodes, gen, domain_factor=domain_factor)
    total = np.zeros(episodes)
    for t in range(horizon):
        u = gen.random((episodes, n))
        actions = np.stack([np.minimum((cdfs[i][None, :] <= u[:, [i]]).sum(axis=1), counts[i] - 1)
                            for i in range(n)], axis=1)
        states, rewards = model.step(states, actions, gen, domain_factor=domain_factor)
        total += gamma ** t * rewards.mean(axis=1)
    return total


def fidelity_report(graph: FactoredGraph, transitions: Transitions, *, domain_factors: np.ndarray,
                    gamma: float, horizon: int, test_fraction: float = 0.25, episodes: int = 2000,
                    rng=None) -> dict[str, Any]:
    """Held-out log-likelihood per target and behaviour-policy returns, model against logs.

    Parameters
    ----------
    graph : FactoredGraph
        The (discovered) graph of the model.
    transitions : Transitions
        The logs (several domains).
    domain_factors : array, shape (M, n_agents)
        The factor (or estimate ``w_hat``) of each domain, as the model is fitted with.
    gamma, horizon
        The return's discount and length (the logged episodes' length at most).
    test_fraction : float
        Share of each domain's episodes held out for the likelihood.
    episodes : int
        Model rollouts per domain.

    Returns
    -------
    dict
        ``log_likelihood`` (per target: model and marginal mean log-probability on the
        held-out episodes, and their difference ``gain``) and ``behaviour_returns`` (per
        domain: model and logs, mean and 95% interval, and whether the intervals overlap).
    """
    seeds = np.random.SeedSequence(rng).spawn(3)
    train, test = split_episodes(transitions, test_fraction, seeds[0])
    w = np.asarray(domain_factors, dtype=np.float64)
    held = held_out_log_likelihood(DiscoveredModel(graph).fit(train, domain_factors=w), test, w)
    for v in held.values():
        v["gain"] = v["model"] - v["marginal"]
    model = DiscoveredModel(graph).fit(transitions, domain_factors=w)
    rows = []
    for m, s in enumerate(seeds[1].spawn(transitions.n_domains)):
        sim = behaviour_returns(model, transitions.subset(transitions.domain == m), domain_factor=w[m],
                                gamma=gamma, horizon=horizon, episodes=episodes, rng=s)
        logs = logged_returns(transitions, gamma=gamma, domain=m)
        ms, ml = _mean_ci(sim), _mean_ci(logs)
        rows.append({"domain": m, "model": ms, "logs": ml,
                     "overlap": bool(ms["ci95"][0] <= ml["ci95"][1] and ml["ci95"][0] <= ms["ci95"][1])})
    return {"log_likelihood": held, "behaviour_returns": rows, "test_fraction": test_fraction}


def _mean_ci(x: np.ndarray) -> dict[str, Any]:
    x = np.asarray(x, dtype=np.float64)
    half = 1.96 * x.std(ddof=1) / np.sqrt(x.size) if x.size > 1 else float("nan")
    return {"mean": float(x.mean()), "ci95": [float(x.mean() - half), float(x.mean() + half)], "n": int(x.size)}
