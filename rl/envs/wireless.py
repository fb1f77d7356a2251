"""The wireless multi-access benchmark (Zocca 2019; Qu, Wierman & Li 2022), batched.

Users sit on the vertices of an ``height x width`` grid, ``users_per_vertex`` per
vertex; every grid cell holds an access point (AP) that serves the users on its
four corners. Two users are neighbours when they share an AP.

Each user keeps a deadline queue ``(e_1, ..., e_d)``: ``e_l = 1`` when a packet with
``l`` steps to live waits. State coordinate ``j`` of user ``i`` (name ``s{i}_{j}``) is
``e_{j+1}``. An action is idle (0) or a (slot, AP) pair: action ``1 + slot * m + k``
sends slot ``slot`` to the ``k``-th of the user's ``m`` APs (APs in increasing index
order). An AP chosen by exactly one user delivers with probability ``q_k``; two or
more users on one AP collide and all fail; sending an empty slot still occupies
the AP. A delivered packet earns reward 1. Then the queue shifts by one slot
(the packet in slot ``e_1`` expires) and a new packet arrives into ``e_d`` with the
user's arrival probability ``p_i``, which is the domain factor. At reset every slot
is empty except ``e_d``, drawn Bernoulli(``p_i``).

Users are numbered vertex-major: user ``i`` sits on vertex ``i // users_per_vertex``,
and vertex ``v`` is at row ``v // width``, column ``v % width``. AP ``k`` is the cell
whose top-left corner is at row ``k // (width - 1)``, column ``k % (width - 1)``.
"""

from __future__ import annotations

import itertools
from typing import Literal

import numpy as np

from causalnet.graph import FactoredGraph
from causalnet.spec import NetworkSpec
from rl.envs.base import NetworkedEnv

__all__ = ["TransmitSpec", "WirelessAccessEnv", "reference_transmit_probabilities"]

TransmitSpec = Literal["random", "allone"]


def reference_transmit_probabilities(n_aps: int) -> np.ndarray:
    """The reference code's ``"random"`` AP success probabilities: a seed-0 uniform draw.

    Matches ``numpy.random.seed(0); numpy.random.rand(n_aps)`` without touching the
    global generator.

    >>> np.round(reference_transmit_probabilities(6), 4).tolist()
    [0.5488, 0.7152, 0.6028, 0.5449, 0.4237, 0.6459]
    """
    return np.random.RandomState(0).random_sample(n_aps)


def _probability_array(value, size: int, name: str) -> np.ndarray:
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a probability or an array of probabilities, got {value!r}") from None
    if arr.ndim == 0:
        arr = np.full(size, float(arr))
    if arr.shape != (size,):
        raise ValueError(f"{name} must be a scalar or an array of shape ({size},), got shape {arr.shape}")
    _check_probabilities(arr, name)
    return arr


def _check_probabilities(arr: np.ndarray, name: str) -> None:
    if arr.size and not np.all((arr >= 0) & (arr <= 1)):
        bad = arr[~((arr >= 0) & (arr <= 1))].flat[0]
        raise ValueError(f"{name} must hold probabilities in [0, 1], got {bad!r}")


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


class WirelessAccessEnv(NetworkedEnv):
    """Batched wireless access network (see the module docstring).

    Parameters
    ----------
    height, width : int
        Vertex grid size (``height * width * users_per_vertex`` users,
        ``(height - 1) * (width - 1)`` APs). Both must be >= 2.
    users_per_vertex : int
        Users on each vertex.
    deadline : int
        Queue length ``d`` >= 1.
    arrival : float or array of shape (n_users,)
        Packet arrival probability of each user: the domain factor.
    transmit : "random", "allone" or array of shape (n_aps,)
        AP success probabilities: ``"random"`` is the reference code's seed-0 draw
        (:func:`reference_transmit_probabilities`), ``"allone"`` is 1 for every AP.

    Attributes
    ----------
    n_aps : int
        Number of access points.
    access : bool array, shape (n_agents, n_aps)
        ``access[i, k]`` is True when user ``i`` can reach AP ``k``.
    aps_of_user : list of int arrays
        The APs of each user in increasing order (the ``k`` of the action encoding).
    users_per_ap : int array, shape (n_aps,)
        Users served by each AP.
    transmit : float array, shape (n_aps,)
        Success probability ``q_k`` of each AP.
    domain_factor : float array, shape (n_agents,)
        Arrival probability ``p_i`` of each user.

    Examples
    --------
    >>> env = WirelessAccessEnv(3, 4, users_per_vertex=2)
    >>> env.n_agents, env.n_aps, env.action_counts[:3].tolist()
    (24, 6, [3, 3, 5])
    >>> WirelessAccessEnv.from_grid(3).n_agents
    16
    >>> rng = np.random.default_rng(0)
    >>> states = env.reset(2, rng)
    >>> nxt, rewards = env.step(states, np.zeros((2, 24), dtype=int), rng)
    >>> nxt.shape, rewards.shape
    ((2, 48), (2, 24))
    """

    default_gamma = 0.7
    default_horizon = 10

    def __init__(self, height: int = 3, width: int = 4, *, users_per_vertex: int = 2, deadline: int = 2,
                 arrival: float | np.ndarray = 0.5, transmit: TransmitSpec | np.ndarray = "random") -> None:
        for name, value, least in (("height", height, 2), ("width", width, 2),
                                   ("users_per_vertex", users_per_vertex, 1), ("deadline", deadline, 1)):
            if not _is_int(value) or value < least:
                hint = " (a grid needs at least 2 x 2 vertices to hold an AP)" if name in ("height", "width") else ""
                raise ValueError(f"{name} must be an integer >= {least}, got {value!r}{hint}")
        self.height, self.width = int(height), int(width)
        self.users_per_vertex, self.deadline = int(users_per_vertex), int(deadline)
        n_users = self.height * self.width * self.users_per_vertex
        self.n_aps = (self.height - 1) * (self.width - 1)
        self.domain_factor = _probability_array(arrival, n_users, "arrival")
        if isinstance(transmit, str):
            if transmit == "random":
                q = reference_transmit_probabilities(self.n_aps)
            elif transmit == "allone":
                q = np.ones(self.n_aps)
            else:
                raise ValueError(f"transmit must be 'random', 'allone' or an array of {self.n_aps} "
                                 f"probabilities, got {transmit!r}")
        else:
            q = transmit
        self.transmit = _probability_array(q, self.n_aps, "transmit")
        self._build_topology(n_users)

    @classmethod
    def from_grid(cls, grid: int, **kwargs) -> "WirelessAccessEnv":
        """The paper's sizing: ``grid x grid`` APs, ``(grid+1) x (grid+1)`` users, one per vertex.

        Other keyword arguments go to the constructor.

        >>> [WirelessAccessEnv.from_grid(g).n_agents for g in (3, 4, 5)]
        [16, 25, 36]
        """
        if not _is_int(grid) or grid < 1:
            raise ValueError(f"grid must be an integer >= 1 (the number of APs per side), got {grid!r}")
        kwargs.setdefault("users_per_vertex", 1)
        return cls(grid + 1, grid + 1, **kwargs)

    # ------------------------------------------------------------- topology
    @property
    def access(self) -> np.ndarray:
        """``access[i, k]``: True when user ``i`` can reach AP ``k`` (built on demand:
        it has ``n_agents * n_aps`` cells, quadratic in the network size)."""
        out = np.zeros((self.n_agents, self.n_aps), dtype=bool)
        out[self._ap_users, np.arange(self.n_aps)[:, None]] = True
        return out

    def _build_topology(self, n_users: int) -> None:
        w, u, d = self.width, self.users_per_vertex, self.deadline
        # users of each AP from the geometry (linear in users + APs, no users x APs scan)
        ap = np.arange(self.n_aps, dtype=np.int64)
        top_left = (ap // (w - 1)) * w + ap % (w - 1)
        corners = np.stack([top_left, top_left + 1, top_left + w, top_left + w + 1], axis=1)   # (n_aps, 4)
        ap_users = (corners[:, :, None] * u + np.arange(u)).reshape(self.n_aps, 4 * u)       # increasing
        self._ap_users = ap_users
        self.users_per_ap = np.full(self.n_aps, 4 * u, dtype=np.int64)
        pair_user, pair_ap = ap_users.ravel(), np.repeat(ap, 4 * u)
        order = np.lexsort((pair_ap, pair_user))                          # by user, then AP
        counts = np.bincount(pair_user, minlength=n_users)
        bounds = np.concatenate([[0], np.cumsum(counts)])
        sorted_aps = pair_ap[order]
        aps_of = [sorted_aps[bounds[i]:bounds[i + 1]] for i in range(n_users)]
        self.aps_of_user = aps_of
        n_actions = 1 + d * counts
        width_a = int(n_actions.max())
        # (user, action) -> slot / AP; -1 for idle and for padding beyond the user's actions
        self._slot_table = np.full((n_users, width_a), -1, dtype=np.int64)
        self._ap_table = np.full((n_users, width_a), -1, dtype=np.int64)
        rank = np.arange(order.size) - bounds[pair_user[order]]           # k of each (user, AP) pair
        users_sorted = pair_user[order]
        for slot in range(d):
            col = 1 + slot * counts[users_sorted] + rank
            self._slot_table[users_sorted, col] = slot
            self._ap_table[users_sorted, col] = sorted_aps
        self._build_step_tables(width_a)
        edges = sorted({(int(a), int(b)) for users in ap_users for a, b in itertools.combinations(users, 2)})
        self.spec = NetworkSpec(
            n_agents=n_users,
            edges=tuple(edges),
            state_names=tuple(f"s{i}_{j}" for i in range(n_users) for j in range(d)),
            state_owner=tuple(i for i in range(n_users) for _ in range(d)),
            state_cardinality=(2,) * (n_users * d),
            action_names=tuple(f"a{i}" for i in range(n_users)),
            action_cardinality=tuple(int(a) for a in n_actions),
            reward_names=tuple(f"r{i}" for i in range(n_users)),
        )

    def _build_step_tables(self, width_a: int) -> None:
        """Flat lookup tables indexed by ``user * width_a + action``, used by :meth:`step`."""
        n_users, d = self._slot_table.shape[0], self.deadline
        sending = self._ap_table >= 0
        slot = np.where(sending, self._slot_table, 0)
        self._row_offset = np.arange(n_users, dtype=np.int64) * width_a
        # AP within the copy's block of n_aps + 1 codes; idle users share the dummy code n_aps
        self._ap_code_flat = np.where(sending, self._ap_table, self.n_aps).ravel()
        # success probability of the chosen AP; 0 for idle, so an idle user never delivers
        self._q_flat = np.where(sending, self.transmit[np.maximum(self._ap_table, 0)], 0.0).ravel()
        # column of the chosen slot in the flat state row of one copy
        self._cell_flat = (np.arange(n_users)[:, None] * d + slot).ravel()
        # slot of the next state that loses a delivered packet (slot 0 -> slot d-1,
        # which the arrivals overwrite)
        self._clear_flat = np.where(slot >= 1, slot - 1, d - 1).ravel()

    def _copy_offsets(self, batch: int) -> tuple[np.ndarray, np.ndarray]:
        """Per-copy offsets, shape (batch, 1): into the AP-code blocks and into the flat states."""
        copies = np.arange(batch, dtype=np.int64)[:, None]
        return copies * (self.n_aps + 1), copies * self.spec.n_state

    def _check_agent(self, agent: int) -> None:
        if not _is_int(agent) or not 0 <= agent < self.n_agents:
            raise ValueError(f"agent must be an integer in 0..{self.n_agents - 1}, got {agent!r}")

    # ------------------------------------------------------------- actions
    def decode_action(self, agent: int, action: int) -> tuple[int, int]:
        """``(slot, ap)`` of ``action`` for ``agent``; ``(-1, -1)`` is idle.

        >>> WirelessAccessEnv(3, 4, users_per_vertex=2).decode_action(2, 4)
        (1, 1)
        """
        self._check_agent(agent)
        if not 0 <= action < self.action_counts[agent]:
            raise ValueError(f"action {action} out of range for agent {agent} "
                             f"(0..{self.action_counts[agent] - 1})")
        return int(self._slot_table[agent, action]), int(self._ap_table[agent, action])

    def encode_action(self, agent: int, slot: int, ap: int) -> int:
        """Action index that sends ``slot`` through AP ``ap`` (``slot = -1`` for idle).

        >>> WirelessAccessEnv(3, 4, users_per_vertex=2).encode_action(2, 1, 0)
        3
        """
        self._check_agent(agent)
        if slot == -1:
            return 0
        aps = [int(a) for a in self.aps_of_user[agent]]
        if ap not in aps or not 0 <= slot < self.deadline:
            raise ValueError(f"agent {agent} cannot send slot {slot} to AP {ap}; its APs are {aps} "
                             f"and its slots 0..{self.deadline - 1}")
        return 1 + slot * len(aps) + aps.index(ap)

    # ------------------------------------------------------------- dynamics
    def reset(self, batch_size: int, rng: np.random.Generator, *,
              domain_factor: np.ndarray | None = None) -> np.ndarray:
        """Return ``batch_size`` initial states: empty queues except ``e_d ~ Bernoulli(p_i)``.

        Draws ``rng.random((batch_size, n_agents))`` once; a packet is present when the
        uniform is below the arrival probability. States are ``int8``.
        """
        if not _is_int(batch_size) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        p = self._arrival_probabilities(domain_factor, int(batch_size))
        n, d = self.n_agents, self.deadline
        states = np.zeros((batch_size, n, d), dtype=np.int8)
        states[:, :, d - 1] = rng.random((batch_size, n)) < p
        return states.reshape(batch_size, n * d)

    def step(self, states: np.ndarray, actions: np.ndarray, rng: np.random.Generator, *,
             domain_factor: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Advance every copy one step.

        Parameters
        ----------
        states : int or bool array, shape (B, n_agents * deadline)
            Queues, agent-major (column ``i * d + j`` is ``s{i}_{j}``), values 0 or 1.
        actions : int array, shape (B, n_agents)
            Action indices (0 idle, ``1 + slot * m + k`` sends ``slot`` to the k-th AP).
        rng : numpy.random.Generator
            Source of all randomness (see Notes).
        domain_factor : array of shape (n_agents,) or (B, n_agents), optional
            Arrival probabilities per agent (per copy); default the environment's own.

        Returns
        -------
        next_states : array, shape (B, n_agents * deadline), the dtype of ``states``
        rewards : float array, shape (B, n_agents)
            1.0 where a packet was delivered, else 0.0.

        Notes
        -----
        Exactly two draws, in this order: ``U = rng.random((B, n))`` (user ``i``'s
        transmission succeeds iff ``U[b, i] < q`` of its AP) and ``V = rng.random((B, n))``
        (a packet arrives iff ``V[b, i] < p[b, i]``). Every user consumes its uniforms
        whatever it does, so a simple per-agent loop fed the same uniforms reproduces
        this method bit for bit.
        """
        states, actions = self._check_step_inputs(states, actions)
        batch = states.shape[0]
        self._check_queue_values(states)
        p = self._arrival_probabilities(domain_factor, batch)
        n, d = self.n_agents, self.deadline
        # row of the (user, action) lookup tables, one per agent and copy
        row = actions + self._row_offset
        # collisions: count the users on each AP of each copy; idle users go to a
        # per-copy dummy code (n_aps) whose count is never used
        ap_offset, state_offset = self._copy_offsets(batch)
        ap_code = self._ap_code_flat[row]
        ap_code += ap_offset
        load = np.bincount(ap_code.ravel(), minlength=batch * (self.n_aps + 1))
        alone = load[ap_code] == 1
        # does the chosen slot hold a packet?
        cell = self._cell_flat[row]
        cell += state_offset
        has_packet = states.reshape(-1)[cell].astype(bool)
        success_u = rng.random((batch, n))
        arrival_u = rng.random((batch, n))
        delivered = success_u < self._q_flat[row]        # idle: q = 0, never
        delivered &= alone
        delivered &= has_packet
        rewards = delivered.astype(np.float64)
        nxt = np.empty(states.shape, dtype=states.dtype)  # C order: the flat view below writes into it
        nxt3 = nxt.reshape(batch, n, d)
        if d > 1:
            nxt3[:, :, :-1] = states.reshape(batch, n, d)[:, :, 1:]
            # remove delivered packets: slot l >= 1 sits in slot l-1 after the shift;
            # a delivery from slot 0 points at slot d-1, which the arrivals overwrite below
            where = np.flatnonzero(delivered)
            nxt.reshape(-1)[where * d + self._clear_flat[row.reshape(-1)[where]]] = 0
        nxt3[:, :, d - 1] = arrival_u < p
        return nxt, rewards

    def _arrival_probabilities(self, domain_factor: np.ndarray | None, batch: int) -> np.ndarray:
        """Arrival probabilities broadcast to ``(batch, n_agents)``, validated when given."""
        if domain_factor is not None:
            try:
                domain_factor = np.asarray(domain_factor, dtype=np.float64)
            except (TypeError, ValueError):
                raise TypeError(f"domain_factor must be an array of arrival probabilities, "
                                f"got {domain_factor!r}") from None
            _check_probabilities(domain_factor, "domain_factor (arrival probabilities)")
        return self._domain_factor(domain_factor, batch)

    def _check_queue_values(self, states: np.ndarray) -> None:
        if states.dtype != np.bool_ and not np.issubdtype(states.dtype, np.integer):
            raise TypeError(f"states must hold integers 0 or 1, got dtype {states.dtype}")
        if states.size and states.dtype != np.bool_ and (states.min() < 0 or states.max() > 1):
            bad = states[(states < 0) | (states > 1)].flat[0]
            raise ValueError(f"states must hold 0 or 1 (queue slots), got {bad!r}")

    # ---------------------------------------------------------- ground truth
    def true_graph(self) -> FactoredGraph:
        """Ground truth: slot ``j < d-1`` at t+1 depends on slot ``j+1`` and the actions of
        every neighbour (collisions); slot ``d-1`` depends only on the domain (arrivals);
        the reward depends on all the agent's slots and its neighbours' actions.

        >>> g = WirelessAccessEnv(2, 2, users_per_vertex=1).true_graph()
        >>> sorted(g.parents["s0_0"])
        ['a0', 'a1', 'a2', 'a3', 's0_1']
        >>> g.domain_affected
        ['s0_1', 's1_1', 's2_1', 's3_1']
        """
        spec, d = self.spec, self.deadline
        parents: dict[str, list[str]] = {}
        for i in range(self.n_agents):
            acts = [spec.action_names[j] for j in spec.neighborhood(i, 1)]
            for j in range(d - 1):
                parents[f"s{i}_{j}"] = [f"s{i}_{j + 1}", *acts]
            parents[f"s{i}_{d - 1}"] = [spec.domain_name]
            parents[f"r{i}"] = [f"s{i}_{j}" for j in range(d)] + acts
        return FactoredGraph(spec, parents)

    @property
    def domain_affected(self) -> list[str]:
        """Names of the state coordinates whose mechanism depends on the domain factor.

        >>> WirelessAccessEnv(2, 2, users_per_vertex=1, deadline=3).domain_affected
        ['s0_2', 's1_2', 's2_2', 's3_2']
        """
        return [f"s{i}_{self.deadline - 1}" for i in range(self.n_agents)]

    def with_domain_factor(self, domain_factor: float | np.ndarray) -> "WirelessAccessEnv":
        """The same network with arrival probabilities ``domain_factor`` (scalar or per user)."""
        return WirelessAccessEnv(self.height, self.width, users_per_vertex=self.users_per_vertex,
                                 deadline=self.deadline, arrival=domain_factor, transmit=self.transmit.copy())

    def config(self) -> dict:
        """Parameters as a JSON-ready dict."""
        return {"env": "wireless", "height": self.height, "width": self.width,
                "users_per_vertex": self.users_per_vertex, "deadline": self.deadline,
                "arrival": self.domain_factor.tolist(), "transmit": self.transmit.tolist()}
