"""Random factored networked MDPs with known causal structure (a synthetic family).

Every instance draws an interaction graph (or takes one), sparse causal masks
inside each agent's one-hop neighbourhood ``N_i`` and random conditional
probability tables (CPTs). The masks are the ground truth returned by
:meth:`SyntheticNetworkEnv.true_graph`; the tables are drawn so that every parent
changes its child's distribution detectably (faithfulness with a margin), which
makes the family a test bed for causal discovery beyond the wireless benchmark.

Generative model (details and every parameter in ``docs/synthetic.md``):

* state coordinate ``s_ij(t+1)`` has 1 to ``max_state_parents`` state parents in
  ``s_{N_i}(t)`` (always one of agent ``i``'s own coordinates), optionally agent
  ``i``'s action and one neighbour's action, and optionally the domain;
* reward ``r_i(t)`` in ``{0, 1}`` has ``reward_state_parents`` state parents in
  ``s_{N_i}(t)`` and agent ``i``'s own action;
* each target ``y`` with parent configuration ``x`` has
  ``P(y | x, w) = softmax(base[x] + (w_i - 0.5) * shift[x])``, where ``shift`` is
  zero unless the target is domain-affected;
* initial states are uniform and independent over coordinates.

Sampling is batched: one gather builds every target's mixed-radix parent
configuration index, one lookup in a concatenated table gives the logits and one
uniform per target and copy picks the value by inverse CDF.
"""

from __future__ import annotations

import copy
import itertools
import logging
from typing import Any, Literal, Mapping, NamedTuple, Sequence

import networkx as nx
import numpy as np

from causalnet.graph import FactoredGraph
from causalnet.spec import default_spec
from rl.envs.base import NetworkedEnv, as_generator

__all__ = ["ConditionalTable", "SyntheticNetworkEnv", "Topology", "make_interaction_graph"]

logger = logging.getLogger(__name__)

Topology = Literal["ring", "grid", "random"]
_TOPOLOGIES = ("ring", "grid", "random")
DOMAIN_CENTRE = 0.5
"""Domain factor at which a domain-affected table equals its ``base`` logits."""
_CHECK_DOMAINS = (0.0, 0.5, 1.0)
"""Domain factors at which the faithfulness margins are evaluated."""


class ConditionalTable(NamedTuple):
    """A conditional probability table of one target.

    ``probabilities[v_1, ..., v_k, y]`` is ``P(target = y | parents = v)``, with
    axes in the order of ``parents`` (state coordinates and actions; the domain
    factor is fixed when the table is built).
    """

    parents: tuple[str, ...]
    probabilities: np.ndarray


# ----------------------------------------------------------------------------- graphs
def make_interaction_graph(topology: Topology, n_agents: int, *, max_degree: int = 4,
                           rng: int | np.random.Generator | None = None) -> nx.Graph:
    """Build an interaction graph on agents ``0..n_agents-1``.

    Parameters
    ----------
    topology : {"ring", "grid", "random"}
        ``"ring"``: a cycle. ``"grid"``: a 2-D lattice of ``rows x cols = n_agents``
        with the most nearly square factorisation (a path when ``n_agents`` is
        prime), numbered row by row. ``"random"``: a connected random graph with
        degrees at most ``max_degree``: a random tree grown by attaching each agent
        (in random order) to a uniformly chosen earlier agent of spare degree, plus
        ``n_agents // 2`` extra edges between random pairs of spare degree.
    n_agents : int
        Number of agents (>= 1).
    max_degree : int
        Degree bound of the ``"random"`` topology (>= 2).
    rng : Generator or int seed
        Used by ``"random"`` only.

    Examples
    --------
    >>> sorted(make_interaction_graph("grid", 6).degree())
    [(0, 2), (1, 3), (2, 2), (3, 2), (4, 3), (5, 2)]
    >>> g = make_interaction_graph("random", 30, max_degree=3, rng=0)
    >>> nx.is_connected(g), max(d for _, d in g.degree()) <= 3
    (True, True)
    """
    if not isinstance(n_agents, (int, np.integer)) or isinstance(n_agents, bool) or n_agents < 1:
        raise ValueError(f"n_agents must be a positive integer, got {n_agents!r}")
    n = int(n_agents)
    if topology == "ring":
        g = nx.cycle_graph(n) if n >= 3 else nx.path_graph(n)
    elif topology == "grid":
        rows = max(r for r in range(1, int(np.sqrt(n)) + 1) if n % r == 0)
        lattice = nx.grid_2d_graph(rows, n // rows)
        g = nx.relabel_nodes(lattice, {(r, c): r * (n // rows) + c for r, c in lattice.nodes})
    elif topology == "random":
        if not isinstance(max_degree, (int, np.integer)) or max_degree < 2:
            raise ValueError(f"max_degree must be an integer >= 2, got {max_degree!r}")
        g = _random_bounded_degree_graph(n, int(max_degree), as_generator(rng))
    else:
        raise ValueError(f"topology must be one of {_TOPOLOGIES}, got {topology!r}")
    out = nx.Graph()
    out.add_nodes_from(range(n))
    out.add_edges_from(g.edges)
    return out


def _random_bounded_degree_graph(n: int, max_degree: int, rng: np.random.Generator) -> nx.Graph:
    g = nx.Graph()
    g.add_nodes_from(range(n))
    degree = np.zeros(n, dtype=np.int64)
    order = rng.permutation(n)
    for k in range(1, n):
        earlier = order[:k]
        spare = earlier[degree[earlier] < max_degree]
        other = int(spare[rng.integers(spare.size)])
        g.add_edge(int(order[k]), other)
        degree[[order[k], other]] += 1
    wanted, added, attempts = n // 2, 0, 0
    while added < wanted and attempts < 20 * n:
        attempts += 1
        a, b = (int(x) for x in rng.integers(n, size=2))
        if a != b and not g.has_edge(a, b) and degree[a] < max_degree and degree[b] < max_degree:
            g.add_edge(a, b)
            degree[[a, b]] += 1
            added += 1
    return g


# ----------------------------------------------------------------------------- tables
def _effect_margins(probs: np.ndarray) -> np.ndarray:
    """Smallest average effect of each parent axis of a table ``(*cards, C)``.

    For parent ``p`` and every subset ``S`` of the other parents (the rest averaged
    out uniformly), the effect in one configuration of ``S`` is the largest total
    variation distance between the child's distributions under two values of ``p``;
    the margin of ``p`` is the minimum over ``S`` of the mean over configurations.
    """
    k = probs.ndim - 1
    margins = np.full(k, np.inf)
    for p in range(k):
        others = [q for q in range(k) if q != p]
        for size in range(len(others) + 1):
            for kept in itertools.combinations(others, size):
                dropped = tuple(q for q in others if q not in kept)
                marginal = probs.mean(axis=dropped) if dropped else probs
                marginal = np.moveaxis(marginal, sorted((p, *kept)).index(p), 0)
                c = marginal.shape[0]
                tv = 0.5 * np.abs(marginal[:, None] - marginal[None, :]).sum(axis=-1)
                effect = tv.reshape(c * c, -1).max(axis=0).mean()
                margins[p] = min(margins[p], effect)
    return margins


def _softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the (short) last axis; padded ``-inf`` entries get probability 0.

    Loops over the last axis instead of reducing along it, which numpy does slowly
    for a handful of values. Every table and batch goes through this one function,
    so equal logits give bit-identical probabilities.
    """
    top = logits[..., 0].copy()
    for c in range(1, logits.shape[-1]):
        np.maximum(top, logits[..., c], out=top)
    e = np.exp(logits - top[..., None])
    total = e[..., 0].copy()
    for c in range(1, e.shape[-1]):
        total += e[..., c]
    e /= total[..., None]
    return e


def _cumulative(probs: np.ndarray) -> np.ndarray:
    """Cumulative sums over the (short) last axis."""
    cdf = probs.copy()
    for c in range(1, cdf.shape[-1]):
        cdf[..., c] += cdf[..., c - 1]
    return cdf


def _scaled_contrast(rng: np.random.Generator, shape: tuple[int, int], size: float) -> np.ndarray:
    """A random double-centred ``(values, C)`` matrix whose largest change of the
    logit profile between two parent values spans ``size`` logits."""
    main = rng.standard_normal(shape)
    main -= main.mean(axis=0, keepdims=True)
    main -= main.mean(axis=1, keepdims=True)
    diffs = main[:, None, :] - main[None, :, :]
    change = np.ptp(diffs, axis=-1).max()
    return main * (size / change)


def _draw_table(rng: np.random.Generator, parent_cards: tuple[int, ...], child_card: int, *,
                domain: bool, strength: float, domain_strength: float,
                interaction: float) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``(base, shift)`` logits of shape ``(n_configs, child_card)``."""
    logits = np.zeros(parent_cards + (child_card,))
    for axis, card in enumerate(parent_cards):
        shape = [1] * len(parent_cards) + [child_card]
        shape[axis] = card
        logits += _scaled_contrast(rng, (card, child_card), strength).reshape(shape)
    logits += interaction * strength * rng.standard_normal(logits.shape)
    n_configs = int(np.prod(parent_cards, dtype=np.int64))
    base = logits.reshape(n_configs, child_card)
    shift = np.zeros_like(base)
    if domain:
        direction = _scaled_contrast(rng, (2, child_card), domain_strength)
        direction = direction[1] - direction[0]   # spans domain_strength logits
        shift = direction + interaction * domain_strength * rng.standard_normal(base.shape)
    return base, shift


def _table_margins(base: np.ndarray, shift: np.ndarray, parent_cards: tuple[int, ...],
                   domain: bool) -> np.ndarray:
    """Effect margins of every parent (and, last, of the domain when it is a parent)."""
    child_card = base.shape[1]
    if not domain:
        return _effect_margins(_softmax(base).reshape(parent_cards + (child_card,)))
    stacked = np.stack([_softmax(base + (w - DOMAIN_CENTRE) * shift).reshape(parent_cards + (child_card,))
                        for w in _CHECK_DOMAINS])
    margins = _effect_margins(stacked)
    return np.concatenate([margins[1:], margins[:1]])


# ----------------------------------------------------------------------------- checks
def _int_param(name: str, value, least: int) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < least:
        raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
    return int(value)


def _float_param(name: str, value, low: float, high: float = np.inf, *, open_low: bool = False) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}") from None
    ok = (x > low if open_low else x >= low) and x <= high
    if not ok or not np.isfinite(x):
        bracket = "(" if open_low else "["
        raise ValueError(f"{name} must lie in {bracket}{low:g}, {high:g}], got {value!r}")
    return x


def _per_item(name: str, value, size: int, what: str, least: int) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim == 0:
        arr = np.full(size, arr)
    if arr.shape != (size,):
        raise ValueError(f"{name} must be an integer or a sequence with one entry per {what} ({size}), "
                         f"got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer) or np.any(arr < least):
        raise ValueError(f"{name} must hold integers >= {least}, got {arr.tolist()}")
    return arr.astype(np.int64)


def _check_domain_factor(value, n_agents: int, *, batch: int | None = None) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(n_agents, float(arr))
    allowed = [(n_agents,)] + ([(batch, n_agents)] if batch is not None else [])
    if arr.shape not in allowed:
        raise ValueError(f"domain_factor must be a scalar or have shape {' or '.join(map(str, allowed))}, "
                         f"got shape {arr.shape}")
    if not np.all((arr >= 0.0) & (arr <= 1.0)):
        raise ValueError(f"domain_factor must lie in [0, 1], got values in [{np.nanmin(arr):g}, {np.nanmax(arr):g}]")
    return arr


# ----------------------------------------------------------------------------- environment
class SyntheticNetworkEnv(NetworkedEnv):
    """A random factored networked MDP with known causal masks (see the module docstring).

    Parameters
    ----------
    graph : networkx.Graph, optional
        Interaction graph on nodes ``0..n-1`` (self loops are ignored). When given,
        ``n_agents`` and ``topology`` must be left out (or agree with it).
    n_agents : int, optional
        Number of agents of a generated graph (default 10).
    topology : {"ring", "grid", "random"}, optional
        Generated graph (default ``"ring"``); see :func:`make_interaction_graph`.
    max_degree : int
        Degree bound of the ``"random"`` topology.
    state_dims : int or sequence of int
        State coordinates per agent (scalar or one per agent, each >= 1).
    state_cardinality : int or sequence of int
        Values per state coordinate (scalar or one per coordinate, agent-major, each >= 2).
    action_cardinality : int or sequence of int
        Actions per agent (scalar or one per agent, each >= 2).
    max_state_parents : int
        Each next-state coordinate gets a uniform number in ``1..max_state_parents``
        of state parents (fewer when the neighbourhood has fewer coordinates).
    cross_agent_prob : float
        Probability that an extra state parent (after the first, own, one) is a
        neighbour's coordinate; also the probability that a coordinate has one
        uniformly chosen neighbour's action as a parent.
    action_parent_prob : float
        Probability that a next-state coordinate has its own agent's action as parent.
    domain_affected_prob : float
        Probability that a next-state coordinate's mechanism depends on the domain.
    reward_state_parents : int
        State parents of each reward (the first is an own coordinate, the others are
        a neighbour's with ``cross_agent_prob``); the own action is always a parent.
    domain_factor : float or array of shape (n_agents,)
        Domain factor ``w`` of every agent, in ``[0, 1]``.
    strength : float
        Size of a parent's main effect: the largest change, in logits, of the child's
        logit profile between two values of the parent.
    domain_strength : float
        The same for the domain factor going from 0 to 1.
    interaction : float
        Standard deviation of configuration-specific logit noise, relative to
        ``strength`` (and ``domain_strength`` for the shift).
    min_effect : float
        Tables are redrawn until every parent's smallest average effect (total
        variation, see :meth:`parent_effects`) is at least this.
    max_tries : int
        Redraws allowed per table before giving up with a ValueError.
    rng : Generator or int seed
        Draws the graph (``"random"`` topology) and, from an independent spawned
        stream, the masks and the tables (so passing the same graph explicitly with the
        same seed reproduces them).

    Examples
    --------
    >>> env = SyntheticNetworkEnv(n_agents=4, rng=0)
    >>> env.spec.n_state, env.n_agents
    (8, 4)
    >>> g = env.true_graph()
    >>> all(env.spec.owner(p) in env.neighborhood(0) for p in g.parents["s0_0"] if p != "domain")
    True
    >>> s = env.reset(3, np.random.default_rng(1))
    >>> nxt, r = env.step(s, np.zeros((3, 4), dtype=int), np.random.default_rng(2))
    >>> nxt.shape, r.shape
    ((3, 8), (3, 4))
    """

    default_gamma = 0.7
    default_horizon = 10

    def __init__(self, graph: nx.Graph | None = None, *, n_agents: int | None = None,
                 topology: Topology | None = None, max_degree: int = 4,
                 state_dims: int | Sequence[int] = 2, state_cardinality: int | Sequence[int] = 2,
                 action_cardinality: int | Sequence[int] = 2, max_state_parents: int = 2,
                 cross_agent_prob: float = 0.3, action_parent_prob: float = 0.5,
                 domain_affected_prob: float = 0.3, reward_state_parents: int = 2,
                 domain_factor: float | np.ndarray = 0.5, strength: float = 2.0,
                 domain_strength: float = 4.0, interaction: float = 0.3, min_effect: float = 0.1,
                 max_tries: int = 200, rng: int | np.random.Generator | None = None) -> None:
        seed = int(rng) if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool) else None
        # independent streams, so a graph passed in explicitly reproduces the masks and tables
        graph_rng, model_rng = as_generator(rng).spawn(2)
        self.topology = None if graph is not None else ("ring" if topology is None else topology)
        graph = self._resolve_graph(graph, n_agents, topology, max_degree, graph_rng)
        n = graph.number_of_nodes()
        dims = _per_item("state_dims", state_dims, n, "agent", 1)
        m = int(dims.sum())
        s_cards = _per_item("state_cardinality", state_cardinality, m, "state coordinate", 2)
        a_cards = _per_item("action_cardinality", action_cardinality, n, "agent", 2)
        self.params = {
            "max_state_parents": _int_param("max_state_parents", max_state_parents, 1),
            "cross_agent_prob": _float_param("cross_agent_prob", cross_agent_prob, 0.0, 1.0),
            "action_parent_prob": _float_param("action_parent_prob", action_parent_prob, 0.0, 1.0),
            "domain_affected_prob": _float_param("domain_affected_prob", domain_affected_prob, 0.0, 1.0),
            "reward_state_parents": _int_param("reward_state_parents", reward_state_parents, 0),
            "strength": _float_param("strength", strength, 0.0, open_low=True),
            "domain_strength": _float_param("domain_strength", domain_strength, 0.0, open_low=True),
            "interaction": _float_param("interaction", interaction, 0.0),
            "min_effect": _float_param("min_effect", min_effect, 0.0, 1.0),
            "max_tries": _int_param("max_tries", max_tries, 1),
            "max_degree": _int_param("max_degree", max_degree, 2),
        }
        self.seed = seed
        self.spec = default_spec(n, graph.edges, dims.tolist(), s_cards.tolist(), a_cards.tolist())
        self.domain_factor = _check_domain_factor(domain_factor, n)
        self._state_cards = s_cards
        parents = self._draw_masks(model_rng)
        self._build_tables(parents, model_rng)
        self._graph: FactoredGraph | None = None

    @classmethod
    def random(cls, n_agents: int, *, rng: int | np.random.Generator | None,
               topology: Topology = "random", **kwargs) -> "SyntheticNetworkEnv":
        """A member of the family on a random bounded-degree graph (other options as in the constructor).

        >>> SyntheticNetworkEnv.random(12, rng=3).n_agents
        12
        """
        return cls(n_agents=n_agents, topology=topology, rng=rng, **kwargs)

    # ------------------------------------------------------------------ construction
    @staticmethod
    def _resolve_graph(graph, n_agents, topology, max_degree, rng) -> nx.Graph:
        if graph is None:
            return make_interaction_graph("ring" if topology is None else topology,
                                          10 if n_agents is None else n_agents,
                                          max_degree=max_degree, rng=rng)
        if not isinstance(graph, nx.Graph) or graph.is_directed():
            raise TypeError(f"graph must be an undirected networkx.Graph, got {type(graph).__name__}")
        if topology is not None:
            raise ValueError(f"give either graph or topology, not both (topology={topology!r})")
        n = graph.number_of_nodes()
        if n < 1 or set(graph.nodes) != set(range(n)):
            raise ValueError(f"graph nodes must be the integers 0..n-1, got {sorted(graph.nodes, key=str)[:10]}")
        if n_agents is not None and n_agents != n:
            raise ValueError(f"n_agents={n_agents!r} disagrees with the graph's {n} nodes")
        out = nx.Graph()
        out.add_nodes_from(range(n))
        out.add_edges_from((int(a), int(b)) for a, b in graph.edges if a != b)
        return out

    def _draw_masks(self, rng: np.random.Generator) -> dict[str, list[str]]:
        """Parents (states and actions, in table order) and domain flags of every target."""
        spec, p = self.spec, self.params
        self._domain_affected: dict[str, bool] = {}
        parents: dict[str, list[str]] = {}
        for i in range(spec.n_agents):
            own = [spec.state_names[j] for j in spec.agent_state_indices(i)]
            nbrs = [k for k in spec.neighborhood(i, 1) if k != i]
            nbr_states = [spec.state_names[j] for k in nbrs for j in spec.agent_state_indices(k)]
            for name in own:
                k_parents = int(rng.integers(1, p["max_state_parents"] + 1))
                states = self._pick_states(rng, own, nbr_states, k_parents)
                actions = [spec.action_names[i]] if rng.random() < p["action_parent_prob"] else []
                if nbrs and rng.random() < p["cross_agent_prob"]:
                    actions.append(spec.action_names[nbrs[int(rng.integers(len(nbrs)))]])
                parents[name] = states + actions
                self._domain_affected[name] = bool(rng.random() < p["domain_affected_prob"])
            reward = spec.reward_names[i]
            parents[reward] = self._pick_states(rng, own, nbr_states, p["reward_state_parents"]) \
                + [spec.action_names[i]]
            self._domain_affected[reward] = False
        return parents

    def _pick_states(self, rng: np.random.Generator, own: list[str], nbr: list[str], count: int) -> list[str]:
        """``count`` distinct coordinates: the first own, each further one a neighbour's
        with ``cross_agent_prob`` (falling back to the other pool when one is used up)."""
        own, nbr = list(own), list(nbr)
        chosen: list[str] = []
        for slot in range(count):
            use_nbr = slot > 0 and rng.random() < self.params["cross_agent_prob"]
            pool = nbr if (use_nbr and nbr) or not own else own
            if not pool:
                break
            chosen.append(pool.pop(int(rng.integers(len(pool)))))
        return sorted(chosen, key=self.spec.index)

    def _build_tables(self, parents: dict[str, list[str]], rng: np.random.Generator) -> None:
        spec, p = self.spec, self.params
        m, n = spec.n_state, spec.n_agents
        targets = list(spec.state_names) + list(spec.reward_names)
        self._targets = targets
        self._parents = {t: tuple(parents[t]) for t in targets}
        cards_of = {name: spec.cardinality(name) for name in list(spec.state_names) + list(spec.action_names)}
        child_cards = [spec.cardinality(t) if t in cards_of else 2 for t in targets]
        width = max(child_cards)
        k_max = max(1, max(len(v) for v in parents.values()))
        cols = np.full((len(targets), k_max), m + n, dtype=np.int64)       # padding: a constant-0 column
        radix = np.zeros((len(targets), k_max), dtype=np.int64)
        offsets = np.zeros(len(targets), dtype=np.int64)
        bases, shifts, self._effects = [], [], {}
        total = 0
        for t, target in enumerate(targets):
            pas = self._parents[target]
            pcards = tuple(int(cards_of[q]) for q in pas)
            for k, q in enumerate(pas):
                cols[t, k] = spec.index(q) + (m if spec.kind(q) == "action" else 0)
                radix[t, k] = int(np.prod(pcards[k + 1:], dtype=np.int64))
            domain = self._domain_affected[target]
            for _ in range(p["max_tries"]):
                base, shift = _draw_table(rng, pcards, child_cards[t], domain=domain, strength=p["strength"],
                                          domain_strength=p["domain_strength"], interaction=p["interaction"])
                margins = _table_margins(base, shift, pcards, domain)
                if margins.size == 0 or margins.min() >= p["min_effect"]:
                    break
            else:
                raise ValueError(
                    f"could not draw a table for {target!r} (parents {list(pas)}) in which every parent has "
                    f"an average effect >= min_effect={p['min_effect']:g} within max_tries={p['max_tries']}; "
                    "raise strength/domain_strength, lower min_effect or interaction, or allow fewer parents")
            names = list(pas) + ([spec.domain_name] if domain else [])
            self._effects[target] = {q: float(e) for q, e in zip(names, margins)}
            pad = width - child_cards[t]
            bases.append(np.pad(base, ((0, 0), (0, pad)), constant_values=-np.inf))
            shifts.append(np.pad(shift, ((0, 0), (0, pad))))
            offsets[t] = total
            total += base.shape[0]
        self._cols, self._radix, self._offsets = cols, radix, offsets
        self._base = np.concatenate(bases)
        self._shift = np.concatenate(shifts)
        self._probs = _softmax(self._base)                # at w = DOMAIN_CENTRE; exact for domain-free targets
        self._cdf = _cumulative(self._probs)
        self._child_cards = np.asarray(child_cards, dtype=np.int64)
        owners = [spec.owner(t) for t in targets]
        self._target_owner = np.asarray(owners, dtype=np.int64)
        self._domain_targets = np.flatnonzero([self._domain_affected[t] for t in targets])
        logger.debug("synthetic env: %d targets, %d table rows, smallest parent effect %.3f",
                     len(targets), total, self.min_parent_effect())

    # ------------------------------------------------------------------ dynamics
    def reset(self, batch_size: int, rng: np.random.Generator, *,
              domain_factor: np.ndarray | None = None) -> np.ndarray:
        """Uniform, independent initial coordinates (one uniform per coordinate and copy).

        ``domain_factor`` is validated but does not change the initial distribution.
        """
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self._checked_domain_factor(domain_factor, int(batch_size))
        u = rng.random((int(batch_size), self.spec.n_state))
        return np.minimum((u * self._state_cards).astype(np.int64), self._state_cards - 1)

    def step(self, states: np.ndarray, actions: np.ndarray, rng: np.random.Generator, *,
             domain_factor: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Sample next states and rewards.

        Draws exactly one array ``u = rng.random((B, n_state + n_agents))``: column
        ``t`` (state coordinates, then rewards) picks target ``t`` by inverse CDF,
        value ``y`` being the smallest with ``cumsum(P)[y] > u``.
        """
        states, actions = self._check_step_inputs(states, actions)
        self._check_states(states)
        w = self._checked_domain_factor(domain_factor, states.shape[0])
        index = self._config_index(states, actions)
        cdf = np.take(self._cdf, index, axis=0)           # domain-free targets: precomputed
        affected = self._domain_targets
        if affected.size:
            cdf[:, affected] = _cumulative(self._affected_probabilities(index, w))
        u = rng.random(index.shape)
        values = np.zeros(index.shape, dtype=np.int64)
        for c in range(cdf.shape[-1] - 1):                # value = #{c : cdf[c] <= u}
            values += cdf[..., c] <= u
        np.minimum(values, self._child_cards - 1, out=values)
        m = self.spec.n_state
        return values[:, :m], values[:, m:].astype(np.float64)

    def probabilities(self, states: np.ndarray, actions: np.ndarray, *,
                      domain_factor: np.ndarray | None = None) -> np.ndarray:
        """Distribution of every target given ``(s(t), a(t))``.

        Returns
        -------
        ndarray, shape (B, n_state + n_agents, max_cardinality)
            Row ``t`` is the distribution of state coordinate ``t`` (then of reward
            ``t - n_state``) over its values; entries past a target's cardinality are 0.
        """
        states, actions = self._check_step_inputs(states, actions)
        self._check_states(states)
        w = self._checked_domain_factor(domain_factor, states.shape[0])
        index = self._config_index(states, actions)
        probs = np.take(self._probs, index, axis=0)
        affected = self._domain_targets
        if affected.size:
            probs[:, affected] = self._affected_probabilities(index, w)
        return probs

    def _config_index(self, states: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """Row of every target's parent configuration in the concatenated table, shape (B, T)."""
        batch = states.shape[0]
        inputs = np.concatenate([states.astype(np.int64, copy=False), actions.astype(np.int64, copy=False),
                                 np.zeros((batch, 1), dtype=np.int64)], axis=1)
        index = np.broadcast_to(self._offsets, (batch, self._offsets.size)).copy()
        for k in range(self._cols.shape[1]):              # a few parent slots, each one gather
            index += np.take(inputs, self._cols[:, k], axis=1) * self._radix[:, k]
        return index

    def _affected_probabilities(self, index: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Distributions of the domain-affected targets, shape (B, A, max_card)."""
        affected = self._domain_targets
        rows = index[:, affected]
        centred = w[:, self._target_owner[affected]] - DOMAIN_CENTRE
        return _softmax(self._base[rows] + centred[..., None] * self._shift[rows])

    def _check_states(self, states: np.ndarray) -> None:
        if not np.issubdtype(states.dtype, np.integer):
            raise ValueError(f"states must be integers, got dtype {states.dtype}")
        bad = (states < 0) | (states >= self._state_cards)
        if bad.any():
            b, j = map(int, np.argwhere(bad)[0])
            raise ValueError(f"state out of range: coordinate {self.spec.state_names[j]!r} (copy {b}) is "
                             f"{int(states[b, j])}; valid values are 0..{int(self._state_cards[j]) - 1}")

    def _checked_domain_factor(self, domain_factor, batch: int) -> np.ndarray:
        if domain_factor is None:
            return np.broadcast_to(self.domain_factor, (batch, self.n_agents))
        w = _check_domain_factor(domain_factor, self.n_agents, batch=batch)
        return np.broadcast_to(w, (batch, self.n_agents))

    # ------------------------------------------------------------------ ground truth
    def true_graph(self) -> FactoredGraph:
        """The parents used by :meth:`step` (plus ``domain`` for domain-affected targets)."""
        if self._graph is None:
            d = self.spec.domain_name
            self._graph = FactoredGraph(self.spec, {
                t: list(self._parents[t]) + ([d] if self._domain_affected[t] else []) for t in self._targets})
        return self._graph

    def conditional_table(self, target: str, domain_factor: float | None = None) -> ConditionalTable:
        """The CPT of ``target`` (a state coordinate at t+1 or a reward) at the owner's domain factor.

        Parameters
        ----------
        target : str
            Target name, e.g. ``"s3_1"`` or ``"r3"``.
        domain_factor : float, optional
            Domain factor of the target's owner (default: the environment's).
        """
        if target not in self._parents:
            raise KeyError(f"unknown target {target!r}: use a state coordinate or a reward name")
        t = self._targets.index(target)
        owner = int(self._target_owner[t])
        w = self.domain_factor[owner] if domain_factor is None else _float_param("domain_factor", domain_factor, 0, 1)
        pas = self._parents[target]
        cards = tuple(int(self.spec.cardinality(q)) for q in pas)
        rows = slice(self._offsets[t], self._offsets[t] + int(np.prod(cards, dtype=np.int64)))
        card = int(self._child_cards[t])
        logits = self._base[rows, :card] + (w - DOMAIN_CENTRE) * self._shift[rows, :card]
        return ConditionalTable(pas, _softmax(logits).reshape(cards + (card,)))

    def parent_effects(self) -> dict[str, dict[str, float]]:
        """Faithfulness margin of every edge: ``{target: {parent: effect}}``.

        The effect of a parent is the smallest, over subsets ``S`` of the target's
        other parents (the rest averaged out with uniform weights, the domain factor
        over 0, 0.5 and 1), of the mean over configurations of ``S`` of the largest
        total-variation distance between the target's distributions under two values
        of the parent. Every value is at least ``min_effect``.
        """
        return {t: dict(e) for t, e in self._effects.items()}

    def min_parent_effect(self) -> float:
        """Smallest value of :meth:`parent_effects` (``inf`` without edges)."""
        values = [v for e in self._effects.values() for v in e.values()]
        return float(min(values)) if values else float("inf")

    def with_domain_factor(self, domain_factor: float | np.ndarray) -> "SyntheticNetworkEnv":
        """A copy with the same graph and tables in another domain."""
        clone = copy.copy(self)
        clone.domain_factor = _check_domain_factor(domain_factor, self.n_agents)
        return clone

    def config(self) -> dict:
        """Parameters as a JSON-ready dict; :meth:`from_config` rebuilds the environment when ``seed`` is an int."""
        return {"env": "synthetic", "n_agents": self.n_agents, "topology": self.topology,
                "edges": [list(e) for e in self.spec.edges],
                "state_dims": self.spec.state_dims.tolist(), "state_cardinality": self._state_cards.tolist(),
                "action_cardinality": self.action_counts.tolist(), "domain_factor": self.domain_factor.tolist(),
                "seed": self.seed, **self.params}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "SyntheticNetworkEnv":
        """Rebuild an environment from :meth:`config` (same graph, masks and tables).

        >>> env = SyntheticNetworkEnv.random(8, rng=5)
        >>> SyntheticNetworkEnv.from_config(env.config()).true_graph() == env.true_graph()
        True
        """
        if config.get("env") != "synthetic":
            raise ValueError(f"config describes env {config.get('env')!r}, not 'synthetic'")
        if config.get("seed") is None:
            raise ValueError("config has no integer seed (the environment was built from a Generator or None), "
                             "so its tables cannot be rebuilt")
        graph = nx.Graph()
        graph.add_nodes_from(range(int(config["n_agents"])))
        graph.add_edges_from(tuple(e) for e in config["edges"])
        keys = ("state_dims", "state_cardinality", "action_cardinality", "max_state_parents", "cross_agent_prob",
                "action_parent_prob", "domain_affected_prob", "reward_state_parents", "strength",
                "domain_strength", "interaction", "min_effect", "max_tries", "max_degree")
        missing = [k for k in keys + ("domain_factor",) if k not in config]
        if missing:
            raise ValueError(f"config is missing field(s) {missing}")
        return cls(graph, domain_factor=np.asarray(config["domain_factor"], dtype=np.float64),
                   rng=int(config["seed"]), **{k: config[k] for k in keys})
