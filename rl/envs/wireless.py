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
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from causalnet.graph import FactoredGraph
from causalnet.spec import NetworkSpec
from rl.envs.base import NetworkedEnv

__all__ = ["WirelessAccessEnv", "reference_transmit_probabilities"]

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
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(size, float(arr))
    if arr.shape != (size,):
        raise ValueError(f"{name} must be a scalar or an array of shape ({size},), got shape {arr.shape}")
    if not np.all((arr >= 0) & (arr <= 1)):
        raise ValueError(f"{name} must lie in [0, 1], got values in [{arr.min():g}, {arr.max():g}]")
    return arr


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
        AP success probabilities.

    Examples
    --------
    >>> env = WirelessAccessEnv(3, 4, users_per_vertex=2)
    >>> env.n_agents, env.n_aps, env.action_counts[:3].tolist()
    (24, 6, [3, 3, 5])
    >>> WirelessAccessEnv.from_grid(3).n_agents
    16
    """

    def __init__(self, height: int = 3, width: int = 4, *, users_per_vertex: int = 2, deadline: int = 2,
                 arrival: float | np.ndarray = 0.5, transmit: TransmitSpec | np.ndarray = "random") -> None:
        for name, value, least in (("height", height, 2), ("width", width, 2),
                                   ("users_per_vertex", users_per_vertex, 1), ("deadline", deadline, 1)):
            if not isinstance(value, (int, np.integer)) or value < least:
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
        self._transmit_name = transmit if isinstance(transmit, str) else None
        self._build_topology(n_users)

    @classmethod
    def from_grid(cls, grid: int, **kwargs) -> "WirelessAccessEnv":
        """The paper's sizing: ``grid x grid`` APs, ``(grid+1) x (grid+1)`` users, one per vertex."""
        if not isinstance(grid, (int, np.integer)) or grid < 1:
            raise ValueError(f"grid must be an integer >= 1, got {grid!r}")
        kwargs.setdefault("users_per_vertex", 1)
        return cls(grid + 1, grid + 1, **kwargs)

    # ------------------------------------------------------------- topology
    def _build_topology(self, n_users: int) -> None:
        h, w, u, d = self.height, self.width, self.users_per_vertex, self.deadline
        access = np.zeros((n_users, self.n_aps), dtype=bool)
        for ap in range(self.n_aps):
            top_left = (ap // (w - 1)) * w + ap % (w - 1)
            for vertex in (top_left, top_left + 1, top_left + w, top_left + w + 1):
                access[vertex * u:(vertex + 1) * u, ap] = True
        self.access = access
        self.users_per_ap = access.sum(axis=0)
        aps_of = [np.flatnonzero(access[i]) for i in range(n_users)]
        self.aps_of_user = aps_of
        n_actions = np.array([1 + d * len(a) for a in aps_of], dtype=np.int64)
        width_a = int(n_actions.max())
        # lookup tables (user, action) -> slot / AP; -1 for idle and padding
        self._slot_table = np.full((n_users, width_a), -1, dtype=np.int64)
        self._ap_table = np.full((n_users, width_a), -1, dtype=np.int64)
        for i, aps in enumerate(aps_of):
            for slot in range(d):
                for k, ap in enumerate(aps):
                    self._slot_table[i, 1 + slot * len(aps) + k] = slot
                    self._ap_table[i, 1 + slot * len(aps) + k] = ap
        self._row_offset = np.arange(n_users, dtype=np.int64) * width_a
        self._slot_flat = self._slot_table.ravel()
        self._ap_flat = self._ap_table.ravel()
        shared = access.astype(np.int64) @ access.T.astype(np.int64)
        edges = [(int(a), int(b)) for a, b in zip(*np.nonzero(np.triu(shared, k=1)))]
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

    def decode_action(self, agent: int, action: int) -> tuple[int, int]:
        """``(slot, ap)`` of ``action`` for ``agent``; ``(-1, -1)`` is idle."""
        if not 0 <= action < self.action_counts[agent]:
            raise ValueError(f"action {action} out of range for agent {agent} "
                             f"(0..{self.action_counts[agent] - 1})")
        return int(self._slot_table[agent, action]), int(self._ap_table[agent, action])

    def encode_action(self, agent: int, slot: int, ap: int) -> int:
        """Action index that sends ``slot`` through AP ``ap`` (``slot = -1`` for idle)."""
        if slot == -1:
            return 0
        aps = list(self.aps_of_user[agent])
        if ap not in aps or not 0 <= slot < self.deadline:
            raise ValueError(f"agent {agent} cannot send slot {slot} to AP {ap}; its APs are {aps}")
        return 1 + slot * len(aps) + aps.index(ap)

    # ------------------------------------------------------------- dynamics
    def reset(self, batch_size: int, rng: np.random.Generator, *,
              domain_factor: np.ndarray | None = None) -> np.ndarray:
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        p = self._domain_factor(domain_factor, batch_size)
        n, d = self.n_agents, self.deadline
        states = np.zeros((batch_size, n, d), dtype=np.int8)
        states[:, :, d - 1] = rng.random((batch_size, n)) < p
        return states.reshape(batch_size, n * d)

    def step(self, states: np.ndarray, actions: np.ndarray, rng: np.random.Generator, *,
             domain_factor: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        states, actions = self._check_step_inputs(states, actions)
        batch = states.shape[0]
        p = self._domain_factor(domain_factor, batch)
        n, d, n_aps = self.n_agents, self.deadline, self.n_aps
        queue = states.reshape(batch, n, d)
        flat = actions + self._row_offset
        slot = self._slot_flat[flat]
        ap = self._ap_flat[flat]
        sending = ap >= 0
        # how many users chose each AP, per copy
        code = np.where(sending, ap + n_aps * np.arange(batch)[:, None], batch * n_aps)
        load = np.bincount(code.ravel(), minlength=batch * n_aps + 1)
        alone = load[code] == 1                         # sending and nobody else on that AP
        safe_slot = np.where(sending, slot, 0)
        has_packet = np.take_along_axis(queue, safe_slot[:, :, None], axis=2)[:, :, 0] == 1
        success_u = rng.random((batch, n))
        arrival_u = rng.random((batch, n))
        delivered = alone & has_packet & (success_u < self.transmit[np.where(sending, ap, 0)])
        rewards = delivered.astype(np.float64)
        nxt = np.empty_like(queue)
        if d > 1:
            nxt[:, :, :-1] = queue[:, :, 1:]
            # a packet delivered from slot l >= 1 is gone from slot l-1 after the shift
            cleared = delivered & (slot >= 1)
            b_idx, i_idx = np.nonzero(cleared)
            nxt[b_idx, i_idx, slot[b_idx, i_idx] - 1] = 0
        nxt[:, :, d - 1] = arrival_u < p
        return nxt.reshape(batch, n * d), rewards

    # ---------------------------------------------------------- ground truth
    def true_graph(self) -> FactoredGraph:
        """Ground truth: slot ``j < d-1`` at t+1 depends on slot ``j+1`` and the actions of
        every neighbour (collisions); slot ``d-1`` depends only on the domain (arrivals);
        the reward depends on all the agent's slots and its neighbours' actions."""
        spec, d = self.spec, self.deadline
        parents: dict[str, list[str]] = {}
        for i in range(self.n_agents):
            acts = [spec.action_names[j] for j in spec.neighborhood(i, 1)]
            for j in range(d - 1):
                parents[f"s{i}_{j}"] = [f"s{i}_{j + 1}", *acts]
            parents[f"s{i}_{d - 1}"] = [spec.domain_name]
            parents[f"r{i}"] = [f"s{i}_{j}" for j in range(d)] + acts
        return FactoredGraph(spec, parents)

    def with_domain_factor(self, domain_factor: float | np.ndarray) -> "WirelessAccessEnv":
        return WirelessAccessEnv(self.height, self.width, users_per_vertex=self.users_per_vertex,
                                 deadline=self.deadline, arrival=domain_factor, transmit=self.transmit.copy())

    def config(self) -> dict:
        """Parameters as a JSON-ready dict."""
        return {"env": "wireless", "height": self.height, "width": self.width,
                "users_per_vertex": self.users_per_vertex, "deadline": self.deadline,
                "arrival": self.domain_factor.tolist(), "transmit": self.transmit.tolist()}
