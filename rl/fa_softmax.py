"""GSAC with function approximation for continuous states and discrete actions: a softmax actor.

The discrete-action counterpart of :mod:`rl.fa_gsac` (same inputs, :mod:`rl.fa_inputs`;
same configuration, :class:`rl.fa_config.FAGSACConfig`). Every outer iteration, for all
runs and agents at once:

1. **rollout**: ``episodes`` episodes of ``T + 1`` steps, episode ``b`` in source domain
   ``b mod M``; agent ``i`` samples ``a_i ~ pi_i(. | s, w_hat)`` with logits
   ``l_i(a) = theta_{i,a}' psi_i``, ``psi_i = [1, s_P] (outer) phi_i(w_hat)`` the Gaussian
   actor's features (policy ACR and domain ACR); ``theta = 0`` is the uniform policy;
2. **critic** (LSTD-Q, on-policy): agent ``j``'s ``Q_j(y) = q_j' f(y_j)``, ``f`` the quadratic
   features of ``y_j = [s_V, onehot(a_N), w_D]`` (each action of ``N_j^kappa`` as
   indicators of its values ``1..K-1``), so the action effects may depend on the state;
3. **actor** (natural gradient with compatible features): agent ``i``'s neighbourhood
   critic ``Qbar_i(a) = sum_{j in N_i^kappa} Q_j(s, a_i = a, a_{-i})`` (the others'
   sampled actions kept) gives the advantage ``A_i(a) = Qbar_i(a) - sum_b pi_i(b) Qbar_i(b)``
   of every action; the natural gradient is ``w_i = F_i^{-1} E[(pi_i * A_i) (outer) psi_i]``,
   ``F_i = E[(diag pi_i - pi_i pi_i') (outer) psi_i psi_i']`` the Fisher matrix (exact sums
   over the actions, no sampling noise in ``a_i``). The step is ``actor_step * w_i / s_i``
   with ``s_i = sqrt(E[sum_a pi_i(a) A_i(a)^2])`` the advantage's scale, then clipped so
   that its Fisher norm (about ``sqrt(2 KL)`` of the policy change) is at most
   ``trust_region``. Samples are weighted by ``gamma^t``.

The rollouts mix the softmax with the uniform policy (weight ``epsilon``, default 0.1)
so that every action keeps being tried and the critic's action values stay identified;
the deployed policy is the softmax itself.

``w_i / s_i`` does not change when the rewards are multiplied by a constant or a
feature is rescaled, and its Fisher norm is the fraction of the advantage's spread the
actor can represent (at most 1): the step shrinks by itself when the advantages are
noise. ``explore_std`` is unused (the softmax explores by itself).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from causalnet.graph import FactoredGraph
from rl.fa_config import FAGSACConfig, FAGSACResult, train_with_evaluations
from rl.fa_inputs import FAInputs, build_fa_inputs, quadratic_pairs
from rl.fa_policy import LinearGaussianPolicy
from rl.gsac import RngLike, RunStreams, run_generators

__all__ = ["LinearSoftmaxPolicy", "FASoftmaxTrainer"]

MAX_CRITIC_FEATURES = 2000


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class LinearSoftmaxPolicy:
    """``pi_i(a | s, w_hat) propto exp(theta_{i,a}' psi_i(s, w_hat))`` (see the module docstring).

    Parameters
    ----------
    theta : array, shape (n, K, p)
        ``K`` the largest action count; rows of invalid actions are ignored.
    inputs : FAInputs
    cardinality : int array, shape (n,)
        Actions per agent.
    w_hat : float or array, shape (n,)
    greedy : bool
        Deploy the most likely action instead of sampling.

    Examples
    --------
    >>> from rl.envs.synthetic_continuous import SyntheticContinuousEnv
    >>> env = SyntheticContinuousEnv.random(3, rng=0)
    >>> inp = build_fa_inputs(env.true_graph(), kappa=1, mode="acr")
    >>> pol = LinearSoftmaxPolicy(np.zeros((3, 2, inp.n_policy_parameters)), inp, [2, 2, 2], w_hat=0.5)
    >>> pol.probabilities(np.zeros((1, env.spec.n_state))).tolist()
    [[[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]]]
    """

    def __init__(self, theta: np.ndarray, inputs: FAInputs, cardinality: Sequence[int], *,
                 w_hat: float | np.ndarray, greedy: bool = False) -> None:
        self.inputs = inputs
        n = inputs.n_agents
        self.cardinality = np.asarray(cardinality, dtype=np.int64)
        if self.cardinality.shape != (n,) or np.any(self.cardinality < 1):
            raise ValueError(f"cardinality must hold {n} positive counts, got {cardinality!r}")
        k = int(self.cardinality.max())
        self.theta = np.asarray(theta, dtype=np.float64)
        if self.theta.shape != (n, k, inputs.n_policy_parameters):
            raise ValueError(f"theta has shape {self.theta.shape}; expected ({n}, {k}, {inputs.n_policy_parameters})")
        w = np.asarray(w_hat, dtype=np.float64)
        self.w_hat = np.full(n, float(w)) if w.ndim == 0 else w.copy()
        if self.w_hat.shape != (n,) or not np.all(np.isfinite(self.w_hat)):
            raise ValueError(f"w_hat must be a finite scalar or have shape ({n},), got {np.shape(w_hat)}")
        self.greedy = bool(greedy)
        self.valid = np.arange(k)[None, :] < self.cardinality[:, None]

    @staticmethod
    def batch_probabilities(theta: np.ndarray, inputs: FAInputs, valid: np.ndarray, states: np.ndarray,
                            w_hat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities ``(..., n, K)`` and features ``(..., n, p)``; ``theta`` is ``(..., n, K, p)``."""
        psi = LinearGaussianPolicy.batch_features(inputs, states, w_hat)
        logits = np.einsum("...nkp,...np->...nk", theta, psi)
        return _softmax(np.where(valid, logits, -np.inf)), psi

    def probabilities(self, states: np.ndarray) -> np.ndarray:
        """Action probabilities ``(B, n, K)`` of a batch of states ``(B, m)``."""
        return self.batch_probabilities(self.theta, self.inputs, self.valid,
                                        np.asarray(states, dtype=np.float64), self.w_hat)[0]

    def __call__(self, states: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Integer actions ``(B, n)``: sampled (one uniform per agent) or the most likely."""
        p = self.probabilities(states)
        if self.greedy:
            return p.argmax(axis=-1)
        u = rng.random(p.shape[:-1])
        return np.minimum((np.cumsum(p, axis=-1) < u[..., None]).sum(axis=-1), self.cardinality - 1)

    def with_w_hat(self, w_hat: float | np.ndarray) -> "LinearSoftmaxPolicy":
        """The same parameters conditioned on another estimate (zero-shot deployment)."""
        return LinearSoftmaxPolicy(self.theta, self.inputs, self.cardinality, w_hat=w_hat, greedy=self.greedy)

    def state_dict(self) -> dict[str, Any]:
        """JSON-ready parameters."""
        return {"theta": self.theta.tolist(), "w_hat": self.w_hat.tolist(), "greedy": self.greedy,
                "cardinality": self.cardinality.tolist(), "inputs": self.inputs.to_dict()}


def _onehot_index(inputs: FAInputs, k: int) -> np.ndarray:
    """Critic indices into ``[states (m), indicators (n (k - 1)), w_hat (n), 0]`` (see the module docstring)."""
    m, n = inputs.n_state, inputs.n_agents
    pad = m + n * (k - 1) + n
    rows = []
    for row in inputs.critic_index:
        out: list[int] = []
        for c in map(int, row):
            if c < m:
                out.append(c)
            elif c < m + n:
                out.extend(m + (c - m) * (k - 1) + v for v in range(k - 1))
            elif c < m + 2 * n:
                out.append(c + n * (k - 1) - n)
        rows.append(out)
    width = max(1, max(len(r) for r in rows))
    index = np.full((n, width), pad, dtype=np.int64)
    for i, r in enumerate(rows):
        index[i, :len(r)] = r
    return index


class FASoftmaxTrainer:
    """Vectorised function-approximation GSAC with softmax actors over ``n_runs`` runs.

    Arguments as :class:`rl.fa_gsac.FAGSACTrainer`, for an environment with continuous
    states and discrete actions (e.g. :class:`rl.envs.synthetic_continuous.SyntheticContinuousEnv`).

    Examples
    --------
    >>> from rl.envs.synthetic_continuous import SyntheticContinuousEnv
    >>> env = SyntheticContinuousEnv.random(3, rng=0)
    >>> tr = FASoftmaxTrainer(env, env.true_graph(), FAGSACConfig(episodes=4, horizon=10),
    ...                       domain_factors=[0.2, 0.8], rng=0, n_runs=2)
    >>> tr.iterate(2)
    >>> tr.theta.shape[:3], tr.iteration
    ((2, 3, 2), 2)
    """

    def __init__(self, env, graph: FactoredGraph, config: FAGSACConfig | None = None, *,
                 domain_factors: np.ndarray | Sequence[float] | None = None,
                 w_hat: np.ndarray | Sequence[float] | None = None,
                 rng: RngLike | Sequence[RngLike] = None, n_runs: int | None = None,
                 epsilon: float = 0.1) -> None:
        config = FAGSACConfig() if config is None else config
        if not isinstance(config, FAGSACConfig):
            raise TypeError(f"config must be an FAGSACConfig, got {type(config).__name__}")
        if not isinstance(graph, FactoredGraph):
            raise TypeError(f"graph must be a FactoredGraph, got {type(graph).__name__}")
        if not 0.0 <= float(epsilon) < 1.0:
            raise ValueError(f"epsilon must lie in [0, 1), got {epsilon!r}")
        self.epsilon = float(epsilon)
        card = list(env.spec.action_cardinality)
        if any(c is None for c in card):
            raise ValueError("FASoftmaxTrainer needs discrete actions; use rl.fa_gsac.FAGSACTrainer for "
                             "continuous actions")
        if graph.spec.n_agents != env.n_agents or graph.spec.n_state != env.spec.n_state:
            raise ValueError("graph and env describe different systems (agent or state counts differ)")
        self.env, self.graph, self.config = env, graph, config
        n = self.n_agents = env.n_agents
        self.cardinality = np.asarray(card, dtype=np.int64)
        self.n_actions = k = max(2, int(self.cardinality.max()))
        self.valid = np.arange(k)[None, :] < self.cardinality[:, None]
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
        self._index = _onehot_index(self.inputs, k)
        dc = self._index.shape[1]
        if 1 + dc + dc * (dc + 1) // 2 > MAX_CRITIC_FEATURES:
            raise ValueError(f"{config.inputs!r} inputs give too many critic features per agent "
                             f"(> {MAX_CRITIC_FEATURES}); use fewer agents or inputs='acr'")
        self._pair_a, self._pair_b = quadratic_pairs(dc)
        gens = run_generators(rng, n_runs)
        self.n_runs = len(gens)
        self._streams = RunStreams(gens)
        self.theta = np.zeros((self.n_runs, n, k, self.inputs.n_policy_parameters))
        self.iteration = 0
        self.samples = 0

    def _table(self, value, name: str) -> np.ndarray:
        arr = np.asarray(value, dtype=np.float64)
        if arr.ndim == 1:
            arr = np.repeat(arr[:, None], self.n_agents, axis=1)
        if arr.ndim != 2 or arr.shape[1] != self.n_agents or arr.shape[0] < 1:
            raise ValueError(f"{name} must have shape (M, {self.n_agents}) or (M,), got {np.shape(value)}")
        return arr

    def policy(self, run: int = 0, w_hat: np.ndarray | None = None, *, greedy: bool = False) -> LinearSoftmaxPolicy:
        """The softmax policy of ``run`` with ``w_hat`` (default: the first source's)."""
        w = self.w_hat[0] if w_hat is None else w_hat
        return LinearSoftmaxPolicy(self.theta[run].copy(), self.inputs, self.cardinality, w_hat=w, greedy=greedy)

    # ------------------------------------------------------------------ pieces
    def _rollout(self) -> dict[str, np.ndarray]:
        cfg, env, streams = self.config, self.env, self._streams
        R, B, T, n = self.n_runs, cfg.episodes, cfg.horizon, self.n_agents
        dom = np.tile(np.arange(B) % self.domain_factors.shape[0], R)
        w_env, w_hat = self.domain_factors[dom], self.w_hat[dom]
        s = np.asarray(env.reset(R * B, streams), dtype=np.float64)
        states = np.empty((T + 1, R * B, s.shape[1]))
        actions = np.empty((T + 1, R * B, n), dtype=np.int64)
        rewards = np.empty((T, R * B, n))
        theta_rows = np.repeat(self.theta, B, axis=0)
        for t in range(T + 1):
            p, _ = LinearSoftmaxPolicy.batch_probabilities(theta_rows, self.inputs, self.valid, s, w_hat)
            p = (1.0 - self.epsilon) * p + self.epsilon * self.valid / self.cardinality[:, None]
            u = streams.random((R * B, n))
            a = np.minimum((np.cumsum(p, axis=-1) < u[..., None]).sum(axis=-1), self.cardinality - 1)
            states[t], actions[t] = s, a
            if t < T:
                s, rewards[t] = env.step(s, a, streams, domain_factor=w_env)
        return {"states": states, "actions": actions, "rewards": rewards, "w_hat": w_hat}

    def _features(self, states: np.ndarray, actions: np.ndarray, w_hat: np.ndarray, agents) -> np.ndarray:
        """Quadratic critic features ``(..., k, D)`` of the agents ``agents``."""
        lead = states.shape[:-1]
        k = self.n_actions
        ind = (actions[..., None] == np.arange(1, k)).astype(np.float64).reshape(lead + (-1,))
        v = np.concatenate([states, ind, np.broadcast_to(w_hat, lead + w_hat.shape[-1:]), np.zeros(lead + (1,))],
                           axis=-1)
        y = v[..., self._index[agents]]
        return np.concatenate([np.ones(y.shape[:-1] + (1,)), y, y[..., self._pair_a] * y[..., self._pair_b]],
                              axis=-1)

    def _critic(self, roll: dict[str, np.ndarray]) -> np.ndarray:
        """LSTD-Q weights ``(R, n, D)`` of every run and agent."""
        cfg = self.config
        R, B, T, n = self.n_runs, cfg.episodes, cfg.horizon, self.n_agents
        f = self._features(roll["states"], roll["actions"], roll["w_hat"][None], slice(None))
        f = np.ascontiguousarray(f.reshape(T + 1, R, B, n, -1).transpose(1, 3, 0, 2, 4))
        cur = f[:, :, :-1].reshape(R, n, T * B, -1)
        A = np.matmul(np.swapaxes(cur, -1, -2), cur - cfg.gamma * f[:, :, 1:].reshape(R, n, T * B, -1))
        r = roll["rewards"].reshape(T, R, B, n).transpose(1, 3, 0, 2).reshape(R, n, T * B, 1)
        b = np.matmul(np.swapaxes(cur, -1, -2), r)[..., 0]
        D = A.shape[-1]
        scale = np.abs(np.einsum("rnii->rn", A)) / D
        return np.linalg.solve(A + (cfg.critic_ridge * scale + 1e-12)[..., None, None] * np.eye(D),
                               b[..., None])[..., 0]

    def _action_values(self, roll: dict[str, np.ndarray], q: np.ndarray) -> np.ndarray:
        """``Qbar_i(a)`` ``(T, R, B, n, K)``: the neighbourhood critic with agent ``i``'s action set to ``a``."""
        cfg = self.config
        R, B, T, n, k = self.n_runs, cfg.episodes, cfg.horizon, self.n_agents, self.n_actions
        states, w = roll["states"][:-1], roll["w_hat"][None]
        out = np.zeros((T, R, B, n, k))
        for i in range(n):
            nb = self.inputs.neighborhoods[i]
            for a in range(int(self.cardinality[i])):
                acts = roll["actions"][:-1].copy()
                acts[..., i] = a
                f = self._features(states, acts, w, nb).reshape(T, R, B, len(nb), -1)
                out[..., i, a] = np.einsum("trbjd,rjd->trb", f, q[:, nb], optimize=True)
        return out

    def _actor_step(self, roll: dict[str, np.ndarray], qbar: np.ndarray) -> None:
        cfg = self.config
        R, B, T, n, k = self.n_runs, cfg.episodes, cfg.horizon, self.n_agents, self.n_actions
        theta_rows = np.repeat(self.theta, B, axis=0)
        pi, psi = LinearSoftmaxPolicy.batch_probabilities(theta_rows, self.inputs, self.valid,
                                                          roll["states"][:-1], roll["w_hat"][None])
        pi, psi = pi.reshape(T, R, B, n, k), psi.reshape(T, R, B, n, -1)
        adv = qbar - np.sum(pi * qbar, axis=-1, keepdims=True)
        wt = cfg.gamma ** np.arange(T)
        wt = wt / (wt.sum() * B)
        G = np.einsum("t,trbnk,trbnp->rnkp", wt, pi * adv, psi, optimize=True)
        cov = pi[..., :, None] * np.eye(k) - pi[..., :, None] * pi[..., None, :]
        F = np.einsum("t,trbnkl,trbnp,trbnq->rnkplq", wt, cov, psi, psi, optimize=True)
        p = psi.shape[-1]
        F = F.reshape(R, n, k * p, k * p)
        ridge = cfg.actor_ridge * np.einsum("rnii->rn", F) / (k * p) + 1e-12
        w = np.linalg.solve(F + ridge[..., None, None] * np.eye(k * p), G.reshape(R, n, k * p, 1))[..., 0]
        # scale of the action values: their spread over the actions taken uniformly (does not
        # vanish when the policy becomes nearly deterministic, so the step does)
        cnt = self.cardinality[None, None, None, :, None]
        dev = np.where(self.valid, qbar - np.sum(np.where(self.valid, qbar, 0.0), axis=-1, keepdims=True) / cnt, 0.0)
        spread = np.sqrt(np.einsum("t,trbnk->rn", wt, dev ** 2 / cnt))
        step = cfg.actor_step * w / np.maximum(spread, 1e-300)[..., None]
        norm = np.sqrt(np.maximum(np.einsum("rnp,rnpq,rnq->rn", step, F, step), 0.0))
        step *= np.minimum(1.0, cfg.trust_region / np.maximum(norm, 1e-300))[..., None]
        self.theta += step.reshape(R, n, k, p)

    # ------------------------------------------------------------------ loop
    def iterate(self, iterations: int = 1) -> None:
        """Run ``iterations`` outer iterations for every run."""
        for _ in range(int(iterations)):
            roll = self._rollout()
            q = self._critic(roll)
            self._actor_step(roll, self._action_values(roll, q))
            self.iteration += 1
            self.samples += self.config.episodes * self.config.horizon

    def evaluate(self, eval_env, w_hat: np.ndarray | None = None, *, episodes: int = 200, rng: RngLike = None,
                 greedy: bool = False) -> np.ndarray:
        """Discounted cost (minus the reward summed over agents) of every run's policy in ``eval_env``.

        Monte Carlo over ``episodes`` rollouts of ``ceil(10 / (1 - gamma))`` steps; every run
        uses the same random numbers (``rng``).
        """
        w = eval_env.domain_factor if w_hat is None else np.asarray(w_hat, dtype=np.float64)
        steps = int(np.ceil(10.0 / (1.0 - self.config.gamma)))
        costs = np.empty(self.n_runs)
        seed = np.random.default_rng(rng).integers(2 ** 63)
        for r in range(self.n_runs):
            gen = np.random.default_rng(seed)
            pol = self.policy(r, w, greedy=greedy)
            s = eval_env.reset(episodes, gen)
            total = np.zeros(episodes)
            for t in range(steps):
                s, rew = eval_env.step(s, pol(s, gen), gen)
                total -= self.config.gamma ** t * rew.sum(axis=1)
            costs[r] = total.mean()
        return costs

    def run(self, iterations: int, *, eval_every: int = 0, eval_env=None, eval_w_hat: np.ndarray | None = None,
            progress: bool = False, eval_episodes: int = 200, eval_rng: RngLike = 0) -> FAGSACResult:
        """Train ``iterations`` more iterations, evaluating in ``eval_env`` every ``eval_every`` (and at the ends)."""
        def evaluate(env, w: np.ndarray) -> np.ndarray:
            return self.evaluate(env, w, episodes=eval_episodes, rng=eval_rng)

        return train_with_evaluations(self, iterations, eval_every=eval_every, eval_env=eval_env,
                                      eval_w_hat=eval_w_hat, evaluate=evaluate, progress=progress)
