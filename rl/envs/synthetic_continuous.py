"""Random networked systems with continuous states, discrete actions and known structure.

The continuous counterpart of :mod:`rl.envs.synthetic`: every instance draws an
interaction graph (or takes one), sparse causal masks inside each agent's one-hop
neighbourhood ``N_i`` and additive-noise mechanisms. The masks are the ground
truth returned by :meth:`SyntheticContinuousEnv.true_graph`.

Mechanism of a target ``y`` (a state coordinate at t+1 or a reward at t) with
state parents ``x_1..x_k`` and action parents ``a_1..a_l``::

    y = c + m(w) + sum_k (beta_k + d_k(w)) g_k(x_k) + sum_l e_l[a_l] + sigma * v(w) * eps

with ``eps ~ N(0, 1)`` and ``w`` the domain factor of the target's owner. ``g_k`` is
the identity for a *linear* mechanism and one of ``tanh(x)``, ``sin(x)`` and the
even bump ``1 - 2 / (1 + x^2)`` for a *nonlinear* one. ``e_l`` is a centred table
over the action's values. A domain-affected state coordinate has exactly one kind
of shift (``m``, ``d_1`` or ``v``, the others being 0 / 0 / 1):

* ``"mean"``: ``m(w) = mean_shift * 2 (w - 0.5)`` (monotone in ``w``);
* ``"mean-bump"``: ``m(w) = mean_shift * cos(2 pi (w - 0.5))`` (non-monotone: equal
  at ``w = 0.2`` and ``0.8``, largest at ``0.5``; a test that uses the domain label
  as a number misses it);
* ``"slope"``: ``d_1(w) = slope_shift * 2 (w - 0.5)`` on the first state parent;
* ``"variance"``: ``v(w) = exp(variance_shift * 2 (w - 0.5))`` (the mean is unchanged).

Linear state mechanisms are scaled so that ``sum_k |beta_k| + slope_shift <= 0.9``,
which keeps the linear system stable in every domain (nonlinear ``g`` are bounded).
Rewards are not domain-affected. Initial states are independent ``N(0, 1)``.
Sampling is batched: one gather of the parent values, vectorised ``g`` and one
standard-normal draw per target and copy. See ``docs/synthetic-continuous.md``.
"""

from __future__ import annotations

import copy
from typing import Any, Literal, Mapping, Sequence

import networkx as nx
import numpy as np

from causalnet.graph import FactoredGraph
from causalnet.spec import default_spec
from rl.envs.base import NetworkedEnv, as_generator
from rl.envs.synthetic import (Topology, _check_domain_factor, _float_param, _int_param, _per_item,
                               make_interaction_graph)

__all__ = ["SHIFT_KINDS", "Mechanism", "SyntheticContinuousEnv"]

Mechanism = Literal["linear", "nonlinear", "mixed"]
SHIFT_KINDS = ("mean", "mean-bump", "slope", "variance")
_FUNCTIONS = ("identity", "tanh", "sin", "bump")
_LINEAR_BUDGET = 0.9


def _apply(code: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``g(x)`` with the function chosen per entry by ``code`` (index into ``_FUNCTIONS``)."""
    out = np.where(code == 0, x, 0.0)
    for k, fn in ((1, np.tanh), (2, np.sin), (3, lambda v: 1.0 - 2.0 / (1.0 + v * v))):
        mask = code == k
        if mask.any():
            out = np.where(mask, fn(x), out)
    return out


def _centred(w: np.ndarray) -> np.ndarray:
    return 2.0 * (w - 0.5)


class SyntheticContinuousEnv(NetworkedEnv):
    """A random networked system with continuous states and exact masks (see the module docstring).

    Parameters
    ----------
    graph : networkx.Graph, optional
        Interaction graph on nodes ``0..n-1``; exclusive with ``topology``.
    n_agents : int, optional
        Number of agents of a generated graph (default 10).
    topology : {"ring", "grid", "random"}, optional
        Generated graph (default ``"ring"``), see :func:`rl.envs.make_interaction_graph`.
    max_degree : int
        Degree bound of the ``"random"`` topology.
    state_dims : int or sequence of int
        Continuous state coordinates per agent (default 1).
    action_cardinality : int or sequence of int
        Actions per agent (default 2).
    mechanism : {"linear", "nonlinear", "mixed"}
        Linear-Gaussian, nonlinear additive-noise, or each target one of the two with
        probability 1/2.
    max_state_parents : int
        Each state coordinate has a uniform number in ``1..max_state_parents`` of state
        parents; the first is the coordinate itself.
    cross_agent_prob : float
        Probability that a further state parent is a neighbour's coordinate (else an own
        one when available); also the probability of one neighbour's action as parent.
    action_parent_prob : float
        Probability that a state coordinate has its own agent's action as parent.
    domain_affected_prob : float
        Probability that a state coordinate's mechanism depends on the domain.
    shift_kinds : sequence of str
        Kinds of domain shift, a subset of ``SHIFT_KINDS``. The affected coordinates
        take them in turn (in random order), so every kind occurs once there are at
        least as many affected coordinates as kinds.
    reward_state_parents : int
        State parents of each reward (own coordinates first, then neighbours'); the own
        action is always a parent.
    coef_range : (float, float)
        Range of ``|beta|`` before the stability scaling of linear mechanisms.
    action_effect : float
        Span (largest minus smallest value) of every action-effect table.
    noise_scale : float
        ``sigma``, the noise standard deviation at ``w = 0.5``.
    mean_shift, slope_shift, variance_shift : float
        Sizes of the domain shifts (see the module docstring); ``slope_shift <= 0.8``.
    domain_factor : float or array of shape (n_agents,)
        Domain factor of every agent, in ``[0, 1]``.
    rng : Generator or int seed
        Draws the graph and, from an independent stream, the masks and mechanisms.

    Examples
    --------
    >>> env = SyntheticContinuousEnv(n_agents=4, rng=0)
    >>> env.spec.n_state, env.spec.state_cardinality[0] is None
    (4, True)
    >>> s = env.reset(3, np.random.default_rng(1))
    >>> nxt, r = env.step(s, np.zeros((3, 4), dtype=int), np.random.default_rng(2))
    >>> nxt.shape, r.shape, nxt.dtype.kind
    ((3, 4), (3, 4), 'f')
    """

    def __init__(self, graph: nx.Graph | None = None, *, n_agents: int | None = None,
                 topology: Topology | None = None, max_degree: int = 4,
                 state_dims: int | Sequence[int] = 1, action_cardinality: int | Sequence[int] = 2,
                 mechanism: Mechanism = "linear", max_state_parents: int = 3,
                 cross_agent_prob: float = 0.5, action_parent_prob: float = 0.5,
                 domain_affected_prob: float = 0.5, shift_kinds: Sequence[str] = SHIFT_KINDS,
                 reward_state_parents: int = 1, coef_range: tuple[float, float] = (0.4, 0.8),
                 action_effect: float = 1.0, noise_scale: float = 1.0, mean_shift: float = 1.0,
                 slope_shift: float = 0.3, variance_shift: float = 0.7,
                 domain_factor: float | np.ndarray = 0.5,
                 rng: int | np.random.Generator | None = None) -> None:
        seed = int(rng) if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool) else None
        graph_rng, model_rng = as_generator(rng).spawn(2)
        if mechanism not in ("linear", "nonlinear", "mixed"):
            raise ValueError(f"mechanism must be 'linear', 'nonlinear' or 'mixed', got {mechanism!r}")
        kinds = tuple(shift_kinds)
        bad = [k for k in kinds if k not in SHIFT_KINDS]
        if bad or not kinds:
            raise ValueError(f"shift_kinds must be a non-empty subset of {list(SHIFT_KINDS)}, got {list(kinds)}")
        lo_hi = tuple(float(v) for v in coef_range)
        if len(lo_hi) != 2 or not 0 < lo_hi[0] <= lo_hi[1] or not np.all(np.isfinite(lo_hi)):
            raise ValueError(f"coef_range must be (low, high) with 0 < low <= high, got {coef_range!r}")
        if topology is not None and graph is not None:
            raise ValueError(f"give either graph or topology, not both (topology={topology!r})")
        self.topology = None if graph is not None else ("ring" if topology is None else topology)
        if graph is None:
            graph = make_interaction_graph(self.topology, 10 if n_agents is None else n_agents,
                                           max_degree=max_degree, rng=graph_rng)
        elif not isinstance(graph, nx.Graph) or graph.is_directed():
            raise TypeError(f"graph must be an undirected networkx.Graph, got {type(graph).__name__}")
        n = graph.number_of_nodes()
        if n < 1 or set(graph.nodes) != set(range(n)):
            raise ValueError("graph nodes must be the integers 0..n-1")
        if n_agents is not None and n_agents != n:
            raise ValueError(f"n_agents={n_agents!r} disagrees with the graph's {n} nodes")
        dims = _per_item("state_dims", state_dims, n, "agent", 1)
        a_cards = _per_item("action_cardinality", action_cardinality, n, "agent", 2)
        self.params: dict[str, Any] = {
            "mechanism": mechanism,
            "max_state_parents": _int_param("max_state_parents", max_state_parents, 1),
            "cross_agent_prob": _float_param("cross_agent_prob", cross_agent_prob, 0.0, 1.0),
            "action_parent_prob": _float_param("action_parent_prob", action_parent_prob, 0.0, 1.0),
            "domain_affected_prob": _float_param("domain_affected_prob", domain_affected_prob, 0.0, 1.0),
            "shift_kinds": list(kinds),
            "reward_state_parents": _int_param("reward_state_parents", reward_state_parents, 0),
            "coef_range": list(lo_hi),
            "action_effect": _float_param("action_effect", action_effect, 0.0),
            "noise_scale": _float_param("noise_scale", noise_scale, 0.0, open_low=True),
            "mean_shift": _float_param("mean_shift", mean_shift, 0.0),
            "slope_shift": _float_param("slope_shift", slope_shift, 0.0, _LINEAR_BUDGET - 0.1),
            "variance_shift": _float_param("variance_shift", variance_shift, 0.0),
            "max_degree": _int_param("max_degree", max_degree, 2),
        }
        self.seed = seed
        edges = sorted((min(a, b), max(a, b)) for a, b in graph.edges if a != b)
        self.spec = default_spec(n, edges, dims.tolist(), None, a_cards.tolist())
        self.domain_factor = _check_domain_factor(domain_factor, n)
        self._build(model_rng)
        self._graph: FactoredGraph | None = None

    @classmethod
    def random(cls, n_agents: int, *, rng: int | np.random.Generator | None,
               topology: Topology = "random", **kwargs) -> "SyntheticContinuousEnv":
        """A member of the family on a random bounded-degree graph.

        >>> SyntheticContinuousEnv.random(12, rng=3).n_agents
        12
        """
        return cls(n_agents=n_agents, topology=topology, rng=rng, **kwargs)

    # ------------------------------------------------------------------ construction
    def _pick_states(self, rng: np.random.Generator, first: str | None, own: list[str], nbr: list[str],
                     count: int) -> list[str]:
        own, nbr = [s for s in own if s != first], list(nbr)
        chosen = [first] if first is not None else []
        while len(chosen) < count:
            use_nbr = rng.random() < self.params["cross_agent_prob"]
            pool = nbr if (use_nbr and nbr) or not own else own
            if not pool:
                break
            chosen.append(pool.pop(int(rng.integers(len(pool)))))
        return chosen

    def _build(self, rng: np.random.Generator) -> None:
        spec, p = self.spec, self.params
        targets = list(spec.state_names) + list(spec.reward_names)
        parents: dict[str, tuple[list[str], list[str]]] = {}
        affected: list[str] = []
        for i in range(spec.n_agents):
            own = [spec.state_names[j] for j in spec.agent_state_indices(i)]
            nbrs = [k for k in spec.neighborhood(i, 1) if k != i]
            nbr_states = [spec.state_names[j] for k in nbrs for j in spec.agent_state_indices(k)]
            for name in own:
                k = int(rng.integers(1, p["max_state_parents"] + 1))
                states = self._pick_states(rng, name, own, nbr_states, k)
                actions = [spec.action_names[i]] if rng.random() < p["action_parent_prob"] else []
                if nbrs and rng.random() < p["cross_agent_prob"]:
                    actions.append(spec.action_names[nbrs[int(rng.integers(len(nbrs)))]])
                parents[name] = (states, actions)
                if rng.random() < p["domain_affected_prob"]:
                    affected.append(name)
            r_states = self._pick_states(rng, None, own, nbr_states, p["reward_state_parents"])
            parents[spec.reward_names[i]] = (r_states, [spec.action_names[i]])
        kinds = p["shift_kinds"]
        order = rng.permutation(len(kinds))
        self._shift_kind = {name: kinds[order[j % len(kinds)]] for j, name in enumerate(affected)}

        n_t = len(targets)
        k_s = max(1, max(len(v[0]) for v in parents.values()))
        k_a = max(1, max(len(v[1]) for v in parents.values()))
        a_max = int(max(spec.action_cardinality))
        m = spec.n_state
        self._targets = targets
        self._parents = {t: (tuple(parents[t][0]), tuple(parents[t][1])) for t in targets}
        self._s_cols = np.full((n_t, k_s), m, dtype=np.int64)       # padding: a constant-0 column
        self._beta = np.zeros((n_t, k_s))
        self._func = np.zeros((n_t, k_s), dtype=np.int64)
        self._a_cols = np.full((n_t, k_a), spec.n_agents, dtype=np.int64)
        self._effects = np.zeros((n_t, k_a, a_max))
        self._intercept = np.zeros(n_t)
        self._sigma = np.full(n_t, p["noise_scale"])
        self._amp = {kind: np.zeros(n_t) for kind in SHIFT_KINDS}
        self._nonlinear = np.zeros(n_t, dtype=bool)
        lo, hi = p["coef_range"]
        for t, target in enumerate(targets):
            states, actions = self._parents[target]
            nonlinear = p["mechanism"] == "nonlinear" or (p["mechanism"] == "mixed" and rng.random() < 0.5)
            self._nonlinear[t] = nonlinear
            beta = rng.uniform(lo, hi, len(states)) * rng.choice([-1.0, 1.0], len(states))
            funcs = rng.integers(1, len(_FUNCTIONS), len(states)) if nonlinear else np.zeros(len(states), int)
            if not nonlinear and spec.kind(target) == "state":
                budget = _LINEAR_BUDGET - p["slope_shift"]
                total = np.abs(beta).sum()
                if total > budget:
                    beta *= budget / total
            for k, q in enumerate(states):
                self._s_cols[t, k] = spec.index(q)
                self._beta[t, k] = beta[k]
                self._func[t, k] = funcs[k]
            for k, q in enumerate(actions):
                card = int(spec.cardinality(q))
                table = rng.standard_normal(card)
                table -= table.mean()
                span = np.ptp(table)
                table = table * (p["action_effect"] / span) if span > 0 else table
                self._a_cols[t, k] = spec.index(q)
                self._effects[t, k, :card] = table
            self._intercept[t] = rng.normal(0.0, 0.5)
            kind = self._shift_kind.get(target)
            if kind is not None:
                size = {"mean": p["mean_shift"], "mean-bump": p["mean_shift"], "slope": p["slope_shift"],
                        "variance": p["variance_shift"]}[kind]
                sign = 1.0 if kind == "variance" else float(rng.choice([-1.0, 1.0]))
                self._amp[kind][t] = sign * size
        self._owner = np.asarray([spec.owner(t) for t in targets], dtype=np.int64)

    # ------------------------------------------------------------------ dynamics
    def reset(self, batch_size: int, rng: np.random.Generator, *,
              domain_factor: np.ndarray | None = None) -> np.ndarray:
        """Independent standard-normal initial coordinates, shape ``(batch_size, n_state)``."""
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self._checked_w(domain_factor, int(batch_size))
        return rng.standard_normal((int(batch_size), self.spec.n_state))

    def mean_and_scale(self, states: np.ndarray, actions: np.ndarray, *,
                       domain_factor: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Conditional mean and standard deviation of every target, each ``(B, n_state + n_agents)``.

        Columns are the state coordinates (at t+1), then the rewards.
        """
        states, actions = self._check_step_inputs(states, actions)
        states = np.asarray(states, dtype=np.float64)
        if not np.all(np.isfinite(states)):
            raise ValueError("states hold NaN or infinite values")
        batch = states.shape[0]
        w = self._checked_w(domain_factor, batch)[:, self._owner]           # (B, T)
        cw = _centred(w)
        padded = np.concatenate([states, np.zeros((batch, 1))], axis=1)
        g = _apply(self._func, padded[:, self._s_cols])                      # (B, T, k)
        mean = self._intercept + np.einsum("btk,tk->bt", g, self._beta)
        mean += self._amp["slope"] * cw * g[:, :, 0]
        mean += self._amp["mean"] * cw + self._amp["mean-bump"] * np.cos(np.pi * cw)
        acts = np.concatenate([actions.astype(np.int64), np.zeros((batch, 1), np.int64)], axis=1)
        t_idx = np.arange(len(self._targets))[:, None]
        k_idx = np.arange(self._a_cols.shape[1])[None, :]
        mean += self._effects[t_idx, k_idx, acts[:, self._a_cols]].sum(axis=2)
        scale = self._sigma * np.exp(self._amp["variance"] * cw)
        return mean, scale

    def step(self, states: np.ndarray, actions: np.ndarray, rng: np.random.Generator, *,
             domain_factor: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Sample next states and rewards with one draw ``rng.standard_normal((B, n_state + n_agents))``."""
        mean, scale = self.mean_and_scale(states, actions, domain_factor=domain_factor)
        values = mean + scale * rng.standard_normal(mean.shape)
        m = self.spec.n_state
        return values[:, :m], values[:, m:]

    def _checked_w(self, domain_factor, batch: int) -> np.ndarray:
        if domain_factor is None:
            return np.broadcast_to(self.domain_factor, (batch, self.n_agents))
        w = _check_domain_factor(domain_factor, self.n_agents, batch=batch)
        return np.broadcast_to(w, (batch, self.n_agents))

    # ------------------------------------------------------------------ ground truth
    def true_graph(self) -> FactoredGraph:
        """The parents used by :meth:`step` (plus ``domain`` for domain-affected coordinates)."""
        if self._graph is None:
            d = self.spec.domain_name
            self._graph = FactoredGraph(self.spec, {
                t: list(s) + list(a) + ([d] if t in self._shift_kind else [])
                for t, (s, a) in self._parents.items()})
        return self._graph

    def shift_kinds(self) -> dict[str, str]:
        """Kind of domain shift of every domain-affected state coordinate."""
        return dict(self._shift_kind)

    def mechanism(self, target: str, domain_factor: float | None = None) -> dict[str, Any]:
        """The exact mechanism of ``target`` at the owner's domain factor ``w``.

        Returns
        -------
        dict
            ``state_parents``, ``functions`` (one name per state parent),
            ``coefficients`` (``beta_k + d_k(w)``), ``action_parents``,
            ``action_effects`` (one table per action parent), ``intercept``
            (``c + m(w)``), ``noise_scale`` (``sigma v(w)``), ``nonlinear`` and
            ``shift`` (the kind, or None).
        """
        if target not in self._parents:
            raise KeyError(f"unknown target {target!r}: use a state coordinate or a reward name")
        t = self._targets.index(target)
        owner = int(self._owner[t])
        w = self.domain_factor[owner] if domain_factor is None else _float_param("domain_factor", domain_factor, 0, 1)
        cw = _centred(w)
        states, actions = self._parents[target]
        coefs = self._beta[t, :len(states)].copy()
        if coefs.size:
            coefs[0] += self._amp["slope"][t] * cw
        return {"state_parents": list(states), "functions": [_FUNCTIONS[c] for c in self._func[t, :len(states)]],
                "coefficients": coefs, "action_parents": list(actions),
                "action_effects": [self._effects[t, k, :int(self.spec.cardinality(a))].copy()
                                   for k, a in enumerate(actions)],
                "intercept": float(self._intercept[t] + self._amp["mean"][t] * cw
                                   + self._amp["mean-bump"][t] * np.cos(np.pi * cw)),
                "noise_scale": float(self._sigma[t] * np.exp(self._amp["variance"][t] * cw)),
                "nonlinear": bool(self._nonlinear[t]), "shift": self._shift_kind.get(target)}

    def linear_parameters(self, target: str, domain_factor: float | None = None) -> np.ndarray:
        """Exact ``theta`` of a linear mechanism in the convention of the continuous domain-factor estimator.

        ``(intercept, state coefficients, action indicators, log sigma)``: state parents
        in spec order, then action parents in spec order, each action coded by the
        indicators of its values ``1..card-1`` (value 0 is in the intercept); see
        :class:`causalnet.domain_factors_continuous.ContinuousDomainFactorEstimator`.
        """
        mech = self.mechanism(target, domain_factor)
        if mech["nonlinear"]:
            raise ValueError(f"{target!r} has a nonlinear mechanism; linear_parameters needs a linear one")
        spec = self.spec
        coef = dict(zip(mech["state_parents"], mech["coefficients"]))
        tables = dict(zip(mech["action_parents"], mech["action_effects"]))
        theta = [mech["intercept"] + sum(float(t[0]) for t in tables.values())]
        theta += [coef[q] for q in sorted(coef, key=spec.index)]
        for q in sorted(tables, key=spec.index):
            theta += list(tables[q][1:] - tables[q][0])
        return np.asarray(theta + [np.log(mech["noise_scale"])])

    def with_domain_factor(self, domain_factor: float | np.ndarray) -> "SyntheticContinuousEnv":
        """A copy with the same graph and mechanisms in another domain."""
        clone = copy.copy(self)
        clone.domain_factor = _check_domain_factor(domain_factor, self.n_agents)
        return clone

    def config(self) -> dict:
        """Parameters as a JSON-ready dict; :meth:`from_config` rebuilds the environment when ``seed`` is an int."""
        return {"env": "synthetic-continuous", "n_agents": self.n_agents, "topology": self.topology,
                "edges": [list(e) for e in self.spec.edges], "state_dims": self.spec.state_dims.tolist(),
                "action_cardinality": self.action_counts.tolist(), "domain_factor": self.domain_factor.tolist(),
                "seed": self.seed, **self.params}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "SyntheticContinuousEnv":
        """Rebuild an environment from :meth:`config` (same graph, masks and mechanisms).

        >>> env = SyntheticContinuousEnv.random(6, rng=5)
        >>> SyntheticContinuousEnv.from_config(env.config()).true_graph() == env.true_graph()
        True
        """
        if config.get("env") != "synthetic-continuous":
            raise ValueError(f"config describes env {config.get('env')!r}, not 'synthetic-continuous'")
        if config.get("seed") is None:
            raise ValueError("config has no integer seed (the environment was built from a Generator or None), "
                             "so its mechanisms cannot be rebuilt")
        keys = ("state_dims", "action_cardinality", "mechanism", "max_state_parents", "cross_agent_prob",
                "action_parent_prob", "domain_affected_prob", "shift_kinds", "reward_state_parents",
                "coef_range", "action_effect", "noise_scale", "mean_shift", "slope_shift", "variance_shift",
                "max_degree")
        missing = [k for k in keys + ("domain_factor", "n_agents", "edges") if k not in config]
        if missing:
            raise ValueError(f"config is missing field(s) {missing}")
        graph = nx.Graph()
        graph.add_nodes_from(range(int(config["n_agents"])))
        graph.add_edges_from(tuple(e) for e in config["edges"])
        return cls(graph, domain_factor=np.asarray(config["domain_factor"], dtype=np.float64),
                   rng=int(config["seed"]), **{k: config[k] for k in keys})
