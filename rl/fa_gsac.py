"""GSAC with function approximation: LSTD critics on ACR inputs, natural-gradient Gaussian actors.

For continuous states and actions (e.g. :class:`rl.envs.lqr.NetworkedLQREnv`). Every
outer iteration, for all runs and agents at once:

1. **rollout**: ``episodes`` episodes of ``T + 1`` steps, episode ``b`` in source domain
   ``b mod M`` (its true factor drives the environment, its ``w_hat`` the agents);
   agent ``i`` acts ``u_i = mu_i + sigma eps`` with ``mu_i = [1, s_P]' Theta_i phi_i(w_hat)``
   (:mod:`rl.fa_inputs`);
2. **critic** (LSTD-Q, on-policy): agent ``j``'s ``Q_j(y) = q_j' f(y_j)`` with quadratic
   features ``f`` of its input ``y_j = [s_V, u_N, w_D]`` solves
   ``sum_t f_t (f_t - gamma f_{t+1})' q = sum_t f_t r_j(t)`` (ridge-regularised);
3. **actor** (natural gradient with compatible features): agent ``i``'s compatible
   features are ``grad log pi_i = (u_i - mu_i) psi_i / sigma^2`` (``psi_i`` the actor's
   features); the least-squares fit of the neighbourhood advantage
   ``(1/|N|) sum_{j in N_i^kappa} A_j`` on them is the natural gradient ``w_i``. For a
   Gaussian policy and a critic quadratic in ``u`` its expectation is, by Stein's lemma,
   ``w_i = sigma^2 F_i^{-1} E[psi_i g_i]`` with ``g_i = sum_j dQ_j/du_i`` at ``u = mu`` and
   ``F_i = E[psi_i psi_i']``, which we compute without sampling noise. The step divides
   it by ``sigma^2 |h_i|``, ``h_i = sum_j d^2 Q_j / du_i^2`` (the critic's curvature), so
   ``actor_step = 1`` is the projected Newton (policy-improvement) step; it is then
   clipped to a trust region: the RMS change of ``mu_i`` is at most
   ``trust_region * sigma``. The samples are weighted by ``gamma^t``.

The step is scale-free: multiplying the costs by a constant or rescaling a feature
leaves it unchanged, which a vanilla gradient with a fixed learning rate is not.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import scipy.sparse

from causalnet.graph import FactoredGraph
from rl.fa_config import FAGSACConfig, FAGSACResult, train_with_evaluations
from rl.fa_inputs import FAInputs, build_fa_inputs, quadratic_pairs
from rl.fa_policy import LinearGaussianPolicy
from rl.gsac import RngLike, RunStreams, run_generators

__all__ = ["FAGSACConfig", "FAGSACResult", "FAGSACTrainer"]


#: Largest number of critic features per agent (the LSTD matrix is its square).
MAX_CRITIC_FEATURES = 2000
#: Critic features are built for blocks of agents of about this many numbers (memory bound).
_BLOCK_FLOATS = 4_000_000


class FAGSACTrainer:
    """Vectorised function-approximation GSAC over ``n_runs`` runs (see the module docstring).

    Parameters
    ----------
    env : continuous-action environment
        Batched ``reset``/``step`` with ``domain_factor=`` (e.g. ``NetworkedLQREnv``).
    graph : FactoredGraph
        True or discovered graph (its ACRs define the inputs in ``"acr"`` mode).
    config : FAGSACConfig, optional
    domain_factors : array, shape (M, n) or (M,), optional
        True factors of the source domains (default: the environment's own).
    w_hat : array, shape (M, n) or (M,), optional
        Estimated factors the agents see (default ``domain_factors``).
    rng : seed, Generator or a sequence of them (one per run)
    n_runs : int, optional

    Examples
    --------
    >>> from rl.envs.lqr import NetworkedLQREnv
    >>> env = NetworkedLQREnv(3)
    >>> tr = FAGSACTrainer(env, env.true_graph(), FAGSACConfig(episodes=4, horizon=10),
    ...                    domain_factors=[0.2, 0.8], rng=0, n_runs=2)
    >>> tr.iterate(3)
    >>> tr.theta.shape, tr.iteration
    ((2, 3, 16), 3)
    """

    def __init__(self, env, graph: FactoredGraph, config: FAGSACConfig | None = None, *,
                 domain_factors: np.ndarray | Sequence[float] | None = None,
                 w_hat: np.ndarray | Sequence[float] | None = None,
                 rng: RngLike | Sequence[RngLike] = None, n_runs: int | None = None) -> None:
        config = FAGSACConfig() if config is None else config
        if not isinstance(config, FAGSACConfig):
            raise TypeError(f"config must be an FAGSACConfig, got {type(config).__name__}")
        if not isinstance(graph, FactoredGraph):
            raise TypeError(f"graph must be a FactoredGraph, got {type(graph).__name__}")
        if not getattr(env.spec, "continuous_actions", False):
            raise ValueError("FAGSACTrainer needs an environment with continuous actions "
                             "(action cardinality None); use rl.gsac.GSACTrainer for discrete actions")
        if graph.spec.n_agents != env.n_agents or graph.spec.n_state != env.spec.n_state:
            raise ValueError("graph and env describe different systems (agent or state counts differ)")
        self.env, self.graph, self.config = env, graph, config
        n = self.n_agents = env.n_agents
        self.domain_factors = self._table(env.domain_factor[None] if domain_factors is None else domain_factors,
                                          "domain_factors")
        self.w_hat = self.domain_factors.copy() if w_hat is None else self._table(w_hat, "w_hat")
        if self.w_hat.shape != self.domain_factors.shape:
            raise ValueError(f"w_hat has {self.w_hat.shape[0]} domains but domain_factors has "
                             f"{self.domain_factors.shape[0]}")
        if not (np.all(np.isfinite(self.w_hat)) and np.all(np.isfinite(self.domain_factors))):
            raise ValueError("domain_factors and w_hat must be finite (fill missing estimates first)")
        self.inputs: FAInputs = build_fa_inputs(graph, kappa=config.kappa, mode=config.inputs,
                                                domain=config.domain_inputs)
        if self.inputs.n_critic_features > MAX_CRITIC_FEATURES:
            raise ValueError(f"{config.inputs!r} inputs give {self.inputs.n_critic_features} critic features per "
                             f"agent (> {MAX_CRITIC_FEATURES}); use fewer agents or inputs='acr'")
        gens = run_generators(rng, n_runs)
        self.n_runs = len(gens)
        self._streams = RunStreams(gens)
        self.theta = np.zeros((self.n_runs, n, self.inputs.n_policy_parameters))
        dc = self.inputs.critic_index.shape[1]
        self._pair_a, self._pair_b = quadratic_pairs(dc)
        pairs = self.inputs.action_pairs
        self._scatter = scipy.sparse.csr_matrix(
            (np.ones(len(pairs)), (pairs[:, 2], pairs[:, 0] * dc + pairs[:, 1])), shape=(n, n * dc))
        self._lstd: tuple[np.ndarray, np.ndarray] | None = None
        self.iteration = 0
        self.samples = 0

    def _table(self, value, name: str) -> np.ndarray:
        arr = np.asarray(value, dtype=np.float64)
        if arr.ndim == 1:
            arr = np.repeat(arr[:, None], self.n_agents, axis=1)
        if arr.ndim != 2 or arr.shape[1] != self.n_agents or arr.shape[0] < 1:
            raise ValueError(f"{name} must have shape (M, {self.n_agents}) or (M,), got {np.shape(value)}")
        return arr

    # ------------------------------------------------------------------ pieces
    def policy(self, run: int = 0, w_hat: np.ndarray | None = None) -> LinearGaussianPolicy:
        """The deterministic (mean) policy of ``run`` with ``w_hat`` (default: the first source's)."""
        w = self.w_hat[0] if w_hat is None else w_hat
        return LinearGaussianPolicy(self.theta[run].copy(), self.inputs, w_hat=w, noise_std=0.0)

    def _rollout(self) -> dict[str, np.ndarray]:
        cfg, env, streams = self.config, self.env, self._streams
        R, B, T, n = self.n_runs, cfg.episodes, cfg.horizon, self.n_agents
        dom = np.tile(np.arange(B) % self.domain_factors.shape[0], R)
        w_env, w_hat = self.domain_factors[dom], self.w_hat[dom]
        s = np.asarray(env.reset(R * B, streams), dtype=np.float64)
        states = np.empty((T + 1, R * B, s.shape[1]))
        actions, means = np.empty((T + 1, R * B, n)), np.empty((T + 1, R * B, n))
        rewards = np.empty((T, R * B, n))
        theta_rows = np.repeat(self.theta, B, axis=0)
        for t in range(T + 1):
            mu = LinearGaussianPolicy.batch_means(theta_rows, self.inputs, s, w_hat)
            u = mu + cfg.explore_std * streams.standard_normal((R * B, n))
            states[t], actions[t], means[t] = s, u, mu
            if t < T:
                s, rewards[t] = env.step(s, u, streams, domain_factor=w_env)
        return {"states": states, "actions": actions, "means": means, "rewards": rewards, "w_hat": w_hat}

    def _critic_inputs(self, states: np.ndarray, actions: np.ndarray, w_hat: np.ndarray,
                       agents: slice = slice(None)) -> np.ndarray:
        """``y`` of the agents ``agents``: ``(..., k, dc)`` from ``[states, actions, w_hat, 0]``."""
        lead = states.shape[:-1]
        v = np.concatenate([states, actions, np.broadcast_to(w_hat, lead + w_hat.shape[-1:]),
                            np.zeros(lead + (1,))], axis=-1)
        return v[..., self.inputs.critic_index[agents]]

    def _features(self, y: np.ndarray) -> np.ndarray:
        ones = np.ones(y.shape[:-1] + (1,))
        return np.concatenate([ones, y, y[..., self._pair_a] * y[..., self._pair_b]], axis=-1)

    def _agent_blocks(self) -> list[slice]:
        """Agent blocks whose critic features fit in about ``_BLOCK_FLOATS`` numbers."""
        cfg = self.config
        per_agent = (cfg.horizon + 1) * self.n_runs * cfg.episodes * self.inputs.n_critic_features
        size = max(1, int(_BLOCK_FLOATS // max(per_agent, 1)))
        return [slice(i, min(i + size, self.n_agents)) for i in range(0, self.n_agents, size)]

    def _critic(self, roll: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """LSTD-Q fit of every run and agent, then its derivatives in the actions (see :meth:`_fit_block`)."""
        cfg = self.config
        R, B, T, n = self.n_runs, cfg.episodes, cfg.horizon, self.n_agents
        dc = self.inputs.critic_index.shape[1]
        grad = np.empty((T, R, B, n, dc))
        hdiag = np.empty((R, n, dc))
        stats = []
        for block in self._agent_blocks():
            grad[..., block, :], hdiag[:, block], A, b = self._fit_block(roll, block)
            stats.append((A, b))
        self._lstd = (np.concatenate([a for a, _ in stats], axis=1), np.concatenate([b for _, b in stats], axis=1))
        g = (self._scatter @ grad.reshape(-1, n * dc).T).T.reshape(T, R, B, n)
        h = (self._scatter @ hdiag.reshape(R, n * dc).T).T
        return g, h

    def _fit_block(self, roll: dict[str, np.ndarray], block: slice):
        """LSTD-Q weights of the agents in ``block`` and ``dQ_j/dy``, ``d^2Q_j/dy^2`` (diagonal) at ``u = mu``.

        Returns ``grad`` (T, R, B, k, dc), ``hdiag`` (R, k, dc) and the LSTD statistics.
        """
        cfg = self.config
        R, B, T = self.n_runs, cfg.episodes, cfg.horizon
        y = self._critic_inputs(roll["states"], roll["actions"], roll["w_hat"][None], block)
        k, dc = y.shape[-2], y.shape[-1]
        # layout (R, k, T+1, B, .) so that the LSTD sums are batched matrix products
        y = np.ascontiguousarray(y.reshape(T + 1, R, B, k, dc).transpose(1, 3, 0, 2, 4))
        f = self._features(y)
        cur = f[:, :, :-1].reshape(R, k, T * B, -1)
        A = np.matmul(np.swapaxes(cur, -1, -2), cur - cfg.gamma * f[:, :, 1:].reshape(R, k, T * B, -1))
        r = roll["rewards"][..., block].reshape(T, R, B, k).transpose(1, 3, 0, 2).reshape(R, k, T * B, 1)
        b = np.matmul(np.swapaxes(cur, -1, -2), r)[..., 0]
        del f, cur
        if self._lstd is not None and cfg.critic_memory > 0:
            A = A + cfg.critic_memory * self._lstd[0][:, block]
            b = b + cfg.critic_memory * self._lstd[1][:, block]
        D = A.shape[-1]
        scale = np.abs(np.einsum("rnii->rn", A)) / D
        q = np.linalg.solve(A + (cfg.critic_ridge * scale + 1e-12)[..., None, None] * np.eye(D), b[..., None])[..., 0]
        lin = q[..., 1:1 + dc]                                         # (R, k, dc)
        hess = np.zeros((R, k, dc, dc))
        hess[..., self._pair_a, self._pair_b] += q[..., 1 + dc:]
        hess = hess + np.swapaxes(hess, -1, -2)                        # Hessian of Q_j in y
        y_mu = self._critic_inputs(roll["states"][:-1], roll["means"][:-1], roll["w_hat"][None], block)
        y_mu = y_mu.reshape(T, R, B, k, dc)
        grad = lin[None, :, None] + np.einsum("rnxz,trbnz->trbnx", hess, y_mu, optimize=True)
        return grad, np.diagonal(hess, axis1=-2, axis2=-1), A, b

    def _actor_step(self, roll: dict[str, np.ndarray], g: np.ndarray, h: np.ndarray) -> None:
        cfg = self.config
        R, B, T, n = self.n_runs, cfg.episodes, cfg.horizon, self.n_agents
        psi = LinearGaussianPolicy.batch_features(self.inputs, roll["states"][:-1], roll["w_hat"][None])
        psi = psi.reshape(T, R, B, n, -1)
        wt = cfg.gamma ** np.arange(T)
        wt = wt / (wt.sum() * B)
        F = np.einsum("t,trbnp,trbnq->rnpq", wt, psi, psi, optimize=True)
        G = np.einsum("t,trbnp,trbn->rnp", wt, psi, g, optimize=True)
        p = F.shape[-1]
        scale = np.einsum("rnii->rn", F) / p
        Fr = F + (cfg.actor_ridge * scale + 1e-12)[..., None, None] * np.eye(p)
        direction = np.linalg.solve(Fr, G[..., None])[..., 0]           # F^{-1} E[psi g]
        concave = h < -1e-10
        step = np.where(concave[..., None], direction / np.where(concave, -h, 1.0)[..., None], 0.0)
        step = cfg.actor_step * step
        shift = np.sqrt(np.maximum(np.einsum("rnp,rnpq,rnq->rn", step, F, step), 0.0))
        limit = cfg.trust_region * cfg.explore_std
        step *= np.minimum(1.0, limit / np.maximum(shift, 1e-300))[..., None]
        self.theta += step

    # ------------------------------------------------------------------ loop
    def iterate(self, iterations: int = 1) -> None:
        """Run ``iterations`` outer iterations for every run."""
        for _ in range(int(iterations)):
            roll = self._rollout()
            g, h = self._critic(roll)
            self._actor_step(roll, g, h)
            self.iteration += 1
            self.samples += self.config.episodes * self.config.horizon

    def evaluate(self, eval_env, w_hat: np.ndarray | None = None, *, episodes: int = 200,
                 rng: RngLike = None) -> np.ndarray:
        """Discounted cost (summed over agents) of every run's mean policy in ``eval_env``.

        Exact (:func:`rl.lqr_reference.policy_cost`) when ``eval_env`` has ``linear_system``;
        otherwise a Monte Carlo estimate over ``episodes`` rollouts of ``ceil(10/(1-gamma))`` steps.
        """
        w = eval_env.domain_factor if w_hat is None else np.asarray(w_hat, dtype=np.float64)
        if hasattr(eval_env, "linear_system"):
            from rl.lqr_reference import policy_cost

            sys = eval_env.linear_system()
            return np.array([policy_cost(sys, self.policy(r, w).affine(), gamma=self.config.gamma)
                             for r in range(self.n_runs)])
        gen = np.random.default_rng(rng)
        steps = int(np.ceil(10.0 / (1.0 - self.config.gamma)))
        costs = np.empty(self.n_runs)
        for r in range(self.n_runs):
            pol = self.policy(r, w)
            s = eval_env.reset(episodes, gen)
            total = np.zeros(episodes)
            for t in range(steps):
                s, rew = eval_env.step(s, pol(s, gen), gen)
                total -= self.config.gamma ** t * rew.sum(axis=1)
            costs[r] = total.mean()
        return costs

    def run(self, iterations: int, *, eval_every: int = 0, eval_env=None, eval_w_hat: np.ndarray | None = None,
            progress: bool = False) -> FAGSACResult:
        """Train ``iterations`` more iterations, evaluating in ``eval_env`` every ``eval_every`` (and at the ends)."""
        return train_with_evaluations(self, iterations, eval_every=eval_every, eval_env=eval_env,
                                      eval_w_hat=eval_w_hat, evaluate=self.evaluate,
                                      progress=progress)
