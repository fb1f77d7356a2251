"""Networked linear-quadratic control: a continuous benchmark with an exact optimum.

Agent ``i`` owns a scalar state ``x_i`` (a frequency or voltage deviation) and a
real-valued action ``u_i``; neighbours on the interaction graph are coupled:

.. math::

    x_i(t+1) = a x_i(t) + \\beta_i \\sum_{j \\in N(i)} x_j(t) + c u_i(t) + d \\ell_i + \\sigma \\epsilon_i(t),
    \\qquad r_i(t) = -(x_i(t)^2 + \\rho u_i(t)^2),

with ``N(i)`` the neighbours of ``i`` (itself excluded) and ``epsilon`` standard
normal. The domain factor ``w_i`` of agent ``i`` is, by ``domain``:

* ``"load"`` (default): the load level, ``ell_i = w_i`` and ``beta_i = coupling``;
* ``"coupling"``: the coupling strength, ``beta_i = coupling * w_i`` and
  ``ell_i = load`` (a fixed constant).

Optional **distractor** coordinates ``z_i^k`` (``k = 1..distractors``) follow their
own coupled linear dynamics ``z_i^k(t+1) = distractor_decay z_i^k + distractor_coupling
sum_{j in N(i)} z_j^k + sigma epsilon``: they neither affect ``x`` nor the cost, so the
value and policy ACRs exclude them while kappa-hop truncation keeps them.

States are float arrays ``(B, n * (1 + distractors))``, agent-major (``s{i}_0 = x_i``,
``s{i}_k = z_i^k``); actions float arrays ``(B, n)``. :meth:`NetworkedLQREnv.linear_system`
returns the matrices used by the exact references of :mod:`rl.lqr_reference`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Literal, Mapping

import networkx as nx
import numpy as np
import scipy.sparse

from causalnet.graph import FactoredGraph
from causalnet.spec import default_spec
from rl.envs.base import NetworkedEnv
from rl.envs.synthetic import make_interaction_graph

__all__ = ["DomainMode", "LinearSystem", "NetworkedLQREnv"]

DomainMode = Literal["load", "coupling"]


@dataclass(frozen=True)
class LinearSystem:
    """The affine linear-Gaussian system of one domain, ``x' = A x + B u + b + noise``.

    Attributes
    ----------
    A : array, shape (m, m)
    B : array, shape (m, n)
    offset : array, shape (m,)
        Constant input ``b`` (the load term).
    noise_cov : array, shape (m, m)
        Covariance ``W`` of the additive noise.
    Q : array, shape (m, m)
        State cost matrix (the cost per step is ``x'Qx + u'Ru``, summed over agents).
    R : array, shape (n, n)
    init_mean, init_cov : arrays, shapes (m,) and (m, m)
        Distribution of the initial state.
    """

    A: np.ndarray
    B: np.ndarray
    offset: np.ndarray
    noise_cov: np.ndarray
    Q: np.ndarray
    R: np.ndarray
    init_mean: np.ndarray
    init_cov: np.ndarray

    @property
    def n_state(self) -> int:
        """Number of state coordinates ``m``."""
        return int(self.A.shape[0])

    @property
    def n_input(self) -> int:
        """Number of inputs ``n``."""
        return int(self.B.shape[1])


class NetworkedLQREnv(NetworkedEnv):
    """Batched networked LQR environment (see the module docstring).

    Parameters
    ----------
    n_agents : int
    topology : {"ring", "grid", "random"}
        Interaction graph (:func:`rl.envs.synthetic.make_interaction_graph`).
    a, coupling, c, d : float
        Self dynamics, neighbour coupling, input gain and load gain.
    rho : float
        Action cost weight (> 0).
    noise_std : float
        Standard deviation ``sigma`` of the process noise (>= 0).
    init_std : float
        Standard deviation of every initial coordinate (mean zero).
    domain : {"load", "coupling"}
        What the domain factor sets.
    load : float
        The constant load of the ``"coupling"`` mode.
    distractors : int
        Distractor coordinates per agent.
    distractor_decay, distractor_coupling : float
        Dynamics of the distractors.
    domain_factor : float or array of shape (n_agents,)
    max_degree : int
        Degree bound of the random topology.
    env_seed : int
        Seed of the random topology.

    Examples
    --------
    >>> env = NetworkedLQREnv(4, distractors=1)
    >>> rng = np.random.default_rng(0)
    >>> s = env.reset(3, rng)
    >>> s2, r = env.step(s, np.zeros((3, 4)), rng)
    >>> s2.shape, r.shape, env.spec.state_names[:2]
    ((3, 8), (3, 4), ('s0_0', 's0_1'))
    >>> sorted(env.true_graph().parents["s0_0"])
    ['a0', 'domain', 's0_0', 's1_0', 's3_0']
    """

    def __init__(self, n_agents: int = 16, *, topology: Literal["ring", "grid", "random"] = "ring",
                 a: float = 0.7, coupling: float = 0.1, c: float = 1.0, d: float = 1.0, rho: float = 0.5,
                 noise_std: float = 0.2, init_std: float = 1.0, domain: DomainMode = "load", load: float = 0.0,
                 distractors: int = 0, distractor_decay: float = 0.8, distractor_coupling: float = 0.05,
                 domain_factor: float | np.ndarray = 0.5, max_degree: int = 4, env_seed: int = 0) -> None:
        if isinstance(n_agents, bool) or not isinstance(n_agents, (int, np.integer)) or n_agents < 1:
            raise ValueError(f"n_agents must be a positive integer, got {n_agents!r}")
        if domain not in ("load", "coupling"):
            raise ValueError(f"domain must be 'load' or 'coupling', got {domain!r}")
        if isinstance(distractors, bool) or not isinstance(distractors, (int, np.integer)) or distractors < 0:
            raise ValueError(f"distractors must be an integer >= 0, got {distractors!r}")
        params = dict(a=a, coupling=coupling, c=c, d=d, rho=rho, noise_std=noise_std, init_std=init_std,
                      load=load, distractor_decay=distractor_decay, distractor_coupling=distractor_coupling)
        for name, value in params.items():
            if not np.isfinite(float(value)):
                raise ValueError(f"{name} must be finite, got {value!r}")
        for name in ("rho",):
            if not float(params[name]) > 0:
                raise ValueError(f"{name} must be > 0, got {params[name]!r}")
        for name in ("noise_std", "init_std"):
            if float(params[name]) < 0:
                raise ValueError(f"{name} must be >= 0, got {params[name]!r}")
        self.params = {k: float(v) for k, v in params.items()}
        self.topology, self.domain, self.distractors = topology, domain, int(distractors)
        self.max_degree, self.env_seed = int(max_degree), int(env_seed)
        n = int(n_agents)
        graph = make_interaction_graph(topology, n, max_degree=max_degree, rng=env_seed)
        self.spec = default_spec(n, graph.edges(), 1 + self.distractors, None, None)
        self.adjacency = nx.to_numpy_array(graph, nodelist=range(n), dtype=np.float64)
        self._sparse_adjacency = scipy.sparse.csr_matrix(self.adjacency)
        self._nbr = [sorted(graph.neighbors(i)) for i in range(n)]
        self.domain_factor = self._checked_factor(domain_factor)
        self._graph: FactoredGraph | None = None

    # ------------------------------------------------------------------ helpers
    def _checked_factor(self, domain_factor) -> np.ndarray:
        w = np.asarray(domain_factor, dtype=np.float64)
        if w.ndim == 0:
            w = np.full(self.n_agents, float(w))
        if w.shape != (self.n_agents,):
            raise ValueError(f"domain_factor must be a scalar or have shape ({self.n_agents},), got {w.shape}")
        if not np.all(np.isfinite(w)):
            raise ValueError(f"domain_factor must be finite, got {w.tolist()}")
        return w

    @property
    def x_columns(self) -> np.ndarray:
        """State columns of the controlled coordinates ``x_i`` (one per agent)."""
        return np.arange(self.n_agents) * (1 + self.distractors)

    @property
    def action_counts(self) -> np.ndarray:  # type: ignore[override]
        """Not defined for continuous actions: raises ``TypeError``."""
        raise TypeError("NetworkedLQREnv has continuous actions; it has no action counts")

    def _coupling_rows(self, w: np.ndarray) -> np.ndarray:
        """Coupling ``beta_i`` per copy and agent, shape ``(B, n)``."""
        beta = self.params["coupling"]
        return beta * w if self.domain == "coupling" else np.full_like(w, beta)

    def _loads(self, w: np.ndarray) -> np.ndarray:
        return w if self.domain == "load" else np.full_like(w, self.params["load"])

    # ------------------------------------------------------------------ dynamics
    def reset(self, batch_size: int, rng: np.random.Generator, *,
              domain_factor: np.ndarray | None = None) -> np.ndarray:
        """``batch_size`` initial states with independent ``N(0, init_std^2)`` coordinates."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 0:
            raise ValueError(f"batch_size must be an integer >= 0, got {batch_size!r}")
        if domain_factor is not None:
            self._domain_factor(domain_factor, int(batch_size))
        return self.params["init_std"] * rng.standard_normal((int(batch_size), self.spec.n_state))

    def step(self, states: np.ndarray, actions: np.ndarray, rng: np.random.Generator, *,
             domain_factor: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Advance every copy one step; return ``(next_states, rewards)``."""
        states = np.asarray(states, dtype=np.float64)
        actions = np.asarray(actions, dtype=np.float64)
        n, m = self.n_agents, self.spec.n_state
        if states.ndim != 2 or states.shape[1] != m:
            raise ValueError(f"states has shape {states.shape}; expected (B, {m})")
        B = states.shape[0]
        if actions.shape != (B, n):
            raise ValueError(f"actions has shape {actions.shape}; expected ({B}, {n})")
        if not (np.all(np.isfinite(states)) and np.all(np.isfinite(actions))):
            raise ValueError("states and actions must be finite (NaN or infinite values given)")
        w = self._domain_factor(domain_factor, B)
        p = self.params
        k = 1 + self.distractors
        blocks = states.reshape(B, n, k)
        x = blocks[:, :, 0]
        noise = p["noise_std"] * rng.standard_normal((B, m)).reshape(B, n, k)
        nxt = np.empty_like(blocks)
        adj = self._sparse_adjacency                   # symmetric: (adj @ x')' sums over neighbours
        neigh = np.asarray(adj @ x.T).T
        nxt[:, :, 0] = (p["a"] * x + self._coupling_rows(w) * neigh + p["c"] * actions
                        + p["d"] * self._loads(w) + noise[:, :, 0])
        if self.distractors:
            z = blocks[:, :, 1:]
            z_neigh = np.asarray(adj @ z.transpose(1, 0, 2).reshape(n, -1)).reshape(n, B, k - 1).transpose(1, 0, 2)
            nxt[:, :, 1:] = p["distractor_decay"] * z + p["distractor_coupling"] * z_neigh + noise[:, :, 1:]
        rewards = -(x ** 2 + p["rho"] * actions ** 2)
        return nxt.reshape(B, m), rewards

    # ------------------------------------------------------------------ structure
    def true_graph(self) -> FactoredGraph:
        """Exact parents: ``x_i`` <- ``x_i``, neighbours' ``x``, ``u_i``, domain; ``r_i`` <- ``x_i``, ``u_i``."""
        if self._graph is None:
            spec, p, k = self.spec, self.params, 1 + self.distractors
            name = lambda i, j: spec.state_names[i * k + j]
            parents: dict[str, list[str]] = {}
            for i in range(self.n_agents):
                pas = [name(i, 0)] if p["a"] != 0 else []
                coupled = p["coupling"] != 0
                pas += [name(j, 0) for j in self._nbr[i] if coupled]
                pas += [spec.action_names[i]] if p["c"] != 0 else []
                if (self.domain == "load" and p["d"] != 0) or (self.domain == "coupling" and coupled
                                                                and self._nbr[i]):
                    pas.append(spec.domain_name)
                parents[name(i, 0)] = pas
                for j in range(1, k):
                    zp = [name(i, j)] if p["distractor_decay"] != 0 else []
                    zp += [name(q, j) for q in self._nbr[i] if p["distractor_coupling"] != 0]
                    parents[name(i, j)] = zp
                parents[spec.reward_names[i]] = [name(i, 0), spec.action_names[i]]
            self._graph = FactoredGraph(spec, parents)
        return self._graph

    def linear_system(self, domain_factor: float | np.ndarray | None = None, *,
                      include_distractors: bool = True) -> LinearSystem:
        """The matrices of one domain (default: the environment's own).

        ``include_distractors=False`` keeps only the ``x`` coordinates (the distractors
        are uncontrolled, cost-free and do not affect ``x``, so every cost is the same).
        """
        w = self.domain_factor if domain_factor is None else self._checked_factor(domain_factor)
        p, n = self.params, self.n_agents
        beta = self._coupling_rows(w[None])[0]
        Ax = p["a"] * np.eye(n) + beta[:, None] * self.adjacency
        bx = p["d"] * self._loads(w[None])[0]
        k = 1 + self.distractors if include_distractors else 1
        m = n * k
        A = np.zeros((m, m))
        xs = np.arange(n) * k
        A[np.ix_(xs, xs)] = Ax
        for j in range(1, k):
            zs = xs + j
            A[np.ix_(zs, zs)] = p["distractor_decay"] * np.eye(n) + p["distractor_coupling"] * self.adjacency
        B = np.zeros((m, n))
        B[xs, np.arange(n)] = p["c"]
        offset = np.zeros(m)
        offset[xs] = bx
        Q = np.zeros((m, m))
        Q[xs, xs] = 1.0
        return LinearSystem(A=A, B=B, offset=offset, noise_cov=p["noise_std"] ** 2 * np.eye(m), Q=Q,
                            R=p["rho"] * np.eye(n), init_mean=np.zeros(m), init_cov=p["init_std"] ** 2 * np.eye(m))

    def with_domain_factor(self, domain_factor: float | np.ndarray) -> "NetworkedLQREnv":
        """A copy in another domain (same graph and parameters)."""
        clone = copy.copy(self)
        clone.domain_factor = self._checked_factor(domain_factor)
        return clone

    # ------------------------------------------------------------------ persistence
    def config(self) -> dict[str, Any]:
        """Parameters as a JSON-ready dict; :meth:`from_config` inverts it."""
        return {"env": "lqr", "n_agents": self.n_agents, "topology": self.topology, "domain": self.domain,
                "distractors": self.distractors, "max_degree": self.max_degree, "env_seed": self.env_seed,
                "domain_factor": self.domain_factor.tolist(), **self.params}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "NetworkedLQREnv":
        """Rebuild an environment from :meth:`config`.

        >>> env = NetworkedLQREnv(6, topology="random", env_seed=3, domain="coupling")
        >>> NetworkedLQREnv.from_config(env.config()).true_graph() == env.true_graph()
        True
        """
        if config.get("env") != "lqr":
            raise ValueError(f"config describes env {config.get('env')!r}, not 'lqr'")
        kwargs = {k: v for k, v in config.items() if k != "env"}
        return cls(**kwargs)
