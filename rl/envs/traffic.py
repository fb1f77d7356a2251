"""Networked traffic-signal control on a grid of intersections, batched.

``rows x cols`` signalised intersections (the agents) sit on a grid; neighbouring
intersections are joined by two-way roads, and every road end on the grid's
boundary is an entry/exit. Agent ``i`` sits at row ``i // cols``, column ``i % cols``
(row 0 at the top).

**State.** Each intersection has four incoming approaches, one per side it is
entered from, in the order N, E, S, W: the N approach holds vehicles that came
from the north (travelling south). The queue of each approach is measured in
*platoons* and binned into ``bins`` levels ``0..bins-1``; level ``bins-1`` is the
capacity of the approach. State coordinate ``s{i}_{d}`` (``d = 0..3`` for N, E, S, W)
is that level. With a switching cost, a fifth coordinate ``s{i}_4`` is the phase
currently shown (0 north-south, 1 east-west). Because the dynamics move whole
platoons between levels, the binned state is exactly Markov and the ground truth
below is exact.

**Action.** The phase to show this step: 0 gives green to N and S, 1 to E and W.

**Step.** On a green approach with a waiting platoon, the head platoon departs
with probability ``saturation`` (stochastic saturation flow). It turns straight,
left or right with probabilities ``turning``; its destination is the matching
incoming approach of the neighbouring intersection on that side, or the exit
when that side is the grid's boundary. A destination approach that is full at the
start of the step blocks the departure (spill-back); an exit never blocks. Every
boundary approach receives a new platoon with probability ``lambda_i``, the
domain factor of its intersection (interior approaches are fed only by their
upstream neighbours). Levels are clipped to ``0..bins-1`` (two platoons arriving
together at a queue one below capacity lose one).

**Reward** of intersection ``i``: minus its total queue, normalised to ``[-1, 0]``
(``-sum_d s{i}_{d} / (4 (bins-1))``), minus ``switching_cost`` when the chosen
phase differs from the one shown.

**Reset.** Every queue level is uniform on ``0..bins-1`` (a random snapshot of
traffic, so congested and free configurations both occur); the shown phase is
uniform.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from causalnet.graph import FactoredGraph
from causalnet.spec import NetworkSpec
from rl.envs.base import NetworkedEnv

__all__ = ["APPROACHES", "TURNS", "TrafficGridEnv"]

APPROACHES: tuple[str, ...] = ("N", "E", "S", "W")
"""Incoming approaches in state order: the side of the intersection a vehicle comes from."""

TURNS: tuple[str, ...] = ("straight", "left", "right")
"""Order of the turning probabilities."""

# side offsets (row, col) of the neighbour on side N, E, S, W
_SIDE = ((-1, 0), (0, 1), (1, 0), (0, -1))


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _unit_interval(value, name: str, *, size: int | None = None) -> np.ndarray:
    """``value`` as a float array in [0, 1] (scalar broadcast to ``size``); errors name ``name``."""
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number in [0, 1] or an array of them, got {value!r}") from None
    if size is not None:
        if arr.ndim == 0:
            arr = np.full(size, float(arr))
        if arr.shape != (size,):
            raise ValueError(f"{name} must be a scalar or an array of shape ({size},), got shape {arr.shape}")
    bad = ~((arr >= 0) & (arr <= 1))
    if np.any(bad):
        raise ValueError(f"{name} must lie in [0, 1], got {float(arr[bad].flat[0])!r}")
    return arr


class TrafficGridEnv(NetworkedEnv):
    """Batched grid of signalised intersections (see the module docstring).

    Parameters
    ----------
    rows, cols : int
        Grid size (>= 1 each; ``rows * cols`` intersections).
    bins : int
        Queue levels per approach (>= 2); the capacity is ``bins - 1`` platoons.
    arrival : float or array of shape (rows * cols,)
        Arrival probability ``lambda`` per step on each boundary approach of each
        intersection: the domain factor.
    saturation : float
        Probability that a green approach with a waiting platoon discharges it, in (0, 1].
    turning : sequence of three floats
        Probabilities of going straight, turning left and turning right; they must sum to one.
    switching_cost : float
        Reward penalty for changing the phase, >= 0. When positive the shown phase is a
        fifth state coordinate of every intersection.

    Attributes
    ----------
    capacity : int
        ``bins - 1``.
    boundary : bool array, shape (n_agents, 4)
        Approaches on the grid's boundary (fed by outside arrivals).
    destination : int array, shape (n_agents, 4, 3)
        Flat queue index ``agent * 4 + approach`` reached by each (approach, turn),
        -1 for the exit.

    Examples
    --------
    >>> env = TrafficGridEnv(2, 3, bins=3)
    >>> env.n_agents, env.spec.n_state, env.action_counts.tolist()
    (6, 24, [2, 2, 2, 2, 2, 2])
    >>> rng = np.random.default_rng(0)
    >>> states = env.reset(4, rng)
    >>> nxt, rewards = env.step(states, np.zeros((4, 6), dtype=int), rng)
    >>> nxt.shape, bool(rewards.max() <= 0.0)
    ((4, 24), True)
    """

    def __init__(self, rows: int = 3, cols: int = 3, *, bins: int = 3, arrival: float | np.ndarray = 0.25,
                 saturation: float = 0.9, turning: Sequence[float] = (0.7, 0.0, 0.3),
                 switching_cost: float = 0.0) -> None:
        for name, value in (("rows", rows), ("cols", cols)):
            if not _is_int(value) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1 (a grid needs at least one intersection), "
                                 f"got {value!r}")
        if not _is_int(bins) or bins < 2:
            raise ValueError(f"bins must be an integer >= 2 (queue levels, capacity bins - 1), got {bins!r}")
        self.rows, self.cols, self.bins = int(rows), int(cols), int(bins)
        self.capacity = self.bins - 1
        n = self.rows * self.cols
        self.domain_factor = _unit_interval(arrival, "arrival", size=n)
        sat = _unit_interval(saturation, "saturation")
        if sat.ndim != 0 or float(sat) == 0.0:
            raise ValueError(f"saturation must be one number in (0, 1], got {saturation!r}")
        self.saturation = float(sat)
        turn = _unit_interval(turning, "turning")
        if turn.shape != (3,):
            raise ValueError(f"turning must hold three probabilities (straight, left, right), got {turning!r}")
        if abs(float(turn.sum()) - 1.0) > 1e-9:
            raise ValueError(f"turning probabilities (straight, left, right) must sum to one, got "
                             f"{turn.tolist()} (sum {float(turn.sum())!r})")
        self.turning = turn
        try:
            cost = float(switching_cost)
        except (TypeError, ValueError):
            raise TypeError(f"switching_cost must be a number >= 0, got {switching_cost!r}") from None
        if not np.isfinite(cost) or cost < 0:
            raise ValueError(f"switching_cost must be a finite number >= 0, got {switching_cost!r}")
        self.switching_cost = cost
        self.has_phase = cost > 0
        self._build_topology()

    # ------------------------------------------------------------- topology
    def _neighbour(self, agent: int, side: int) -> int:
        """Agent on ``side`` (0 N, 1 E, 2 S, 3 W) of ``agent``, or -1 outside the grid."""
        r, c = divmod(agent, self.cols)
        dr, dc = _SIDE[side]
        r2, c2 = r + dr, c + dc
        if 0 <= r2 < self.rows and 0 <= c2 < self.cols:
            return r2 * self.cols + c2
        return -1

    def _build_topology(self) -> None:
        n = self.rows * self.cols
        self.boundary = np.array([[self._neighbour(i, d) < 0 for d in range(4)] for i in range(n)])
        dest = np.full((n, 4, 3), -1, dtype=np.int64)
        for i in range(n):
            for d in range(4):
                heading = (d + 2) % 4                     # vehicles from side d travel away from it
                for m, new_heading in enumerate((heading, (heading - 1) % 4, (heading + 1) % 4)):
                    k = self._neighbour(i, new_heading)
                    if k >= 0:
                        dest[i, d, m] = k * 4 + (new_heading + 2) % 4   # enters k from the side facing i
        self.destination = dest
        self._dims = 5 if self.has_phase else 4
        dims = self._dims
        # flat state column of each queue (agent, approach)
        self._queue_columns = (np.arange(n)[:, None] * dims + np.arange(4)[None, :]).ravel()
        self._cum_turn = np.cumsum(self.turning)[:2]
        edges = sorted({(min(i, k), max(i, k)) for i in range(n) for d in range(4)
                        for k in [self._neighbour(i, d)] if k >= 0})
        cards = ([self.bins] * 4 + ([2] if self.has_phase else [])) * n
        self.spec = NetworkSpec(
            n_agents=n, edges=tuple(edges),
            state_names=tuple(f"s{i}_{j}" for i in range(n) for j in range(dims)),
            state_owner=tuple(i for i in range(n) for _ in range(dims)),
            state_cardinality=tuple(cards),
            action_names=tuple(f"a{i}" for i in range(n)), action_cardinality=(2,) * n,
            reward_names=tuple(f"r{i}" for i in range(n)))

    def queue_name(self, agent: int, approach: int | str) -> str:
        """State name of a queue, e.g. ``queue_name(4, "W") == "s4_3"``."""
        d = APPROACHES.index(approach) if isinstance(approach, str) else int(approach)
        return f"s{agent}_{d}"

    # ------------------------------------------------------------- dynamics
    def reset(self, batch_size: int, rng: np.random.Generator, *,
              domain_factor: np.ndarray | None = None) -> np.ndarray:
        """``batch_size`` initial states: queue levels uniform on ``0..bins-1``, phase uniform.

        One draw, ``rng.integers(0, bins, (batch_size, n_agents, dims))`` (the phase column,
        when present, is taken modulo 2). States are ``int8``.
        """
        if not _is_int(batch_size) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self._arrival(domain_factor, int(batch_size))   # validates the factor
        states = rng.integers(0, self.bins, (batch_size, self.n_agents, self._dims)).astype(np.int8)
        if self.has_phase:
            states[:, :, 4] %= 2
        return states.reshape(batch_size, -1)

    def step(self, states: np.ndarray, actions: np.ndarray, rng: np.random.Generator, *,
             domain_factor: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Advance every copy one step.

        Parameters
        ----------
        states : int array, shape (B, n_agents * dims)
            Queue levels (and phases), agent-major.
        actions : int array, shape (B, n_agents)
            Phases: 0 north-south green, 1 east-west green.
        rng : numpy.random.Generator
            Source of all randomness (see Notes).
        domain_factor : array of shape (n_agents,) or (B, n_agents), optional
            Arrival probabilities; default the environment's own.

        Returns
        -------
        next_states : array, the shape and dtype of ``states``
        rewards : float array, shape (B, n_agents)

        Notes
        -----
        Exactly three draws of shape ``(B, n_agents, 4)``, in this order: discharge
        uniforms (a green, non-empty approach departs iff below ``saturation``), turn
        uniforms (straight below ``turning[0]``, left below ``turning[0] + turning[1]``,
        else right) and arrival uniforms (a boundary approach receives a platoon iff
        below ``lambda_i``). Every approach consumes its uniforms whatever happens.
        """
        states, actions = self._check_step_inputs(states, actions)
        batch, n = states.shape[0], self.n_agents
        lam = self._arrival(domain_factor, batch)
        self._check_levels(states)
        s3 = states.reshape(batch, n, self._dims)
        q = s3[:, :, :4].astype(np.int64)
        dis_u = rng.random((batch, n, 4))
        turn_u = rng.random((batch, n, 4))
        arr_u = rng.random((batch, n, 4))
        green = (np.arange(4)[None, None, :] % 2) == actions[:, :, None]
        serve = green & (q > 0) & (dis_u < self.saturation)
        turn = (turn_u >= self._cum_turn[0]).astype(np.int64) + (turn_u >= self._cum_turn[1])
        dest = self.destination[np.arange(n)[None, :, None], np.arange(4)[None, None, :], turn]
        flat_q = q.reshape(batch, n * 4)
        dest_level = np.take_along_axis(flat_q, np.maximum(dest, 0).reshape(batch, -1), axis=1)
        blocked = (dest >= 0) & (dest_level.reshape(dest.shape) >= self.capacity)
        moved = serve & ~blocked
        into = moved & (dest >= 0)
        offsets = (np.arange(batch, dtype=np.int64) * (n * 4))[:, None, None]
        inflow = np.bincount((dest + offsets)[into], minlength=batch * n * 4).reshape(batch, n, 4)
        arrivals = self.boundary[None, :, :] & (arr_u < lam[:, :, None])
        new_q = np.clip(q - moved + inflow + arrivals, 0, self.capacity)
        nxt = np.empty_like(states)
        n3 = nxt.reshape(batch, n, self._dims)
        n3[:, :, :4] = new_q
        rewards = -q.sum(axis=2) / (4.0 * self.capacity)
        if self.has_phase:
            n3[:, :, 4] = actions
            rewards = rewards - self.switching_cost * (actions != s3[:, :, 4])
        return nxt, rewards

    def _arrival(self, domain_factor: np.ndarray | None, batch: int) -> np.ndarray:
        if domain_factor is not None:
            domain_factor = _unit_interval(domain_factor, "domain_factor (arrival rates)")
        return self._domain_factor(domain_factor, batch)

    def _check_levels(self, states: np.ndarray) -> None:
        if not np.issubdtype(states.dtype, np.integer):
            raise TypeError(f"states must hold integer queue levels, got dtype {states.dtype}")
        if states.size:
            s3 = states.reshape(states.shape[0], self.n_agents, self._dims)
            q = s3[:, :, :4]
            if q.min() < 0 or q.max() > self.capacity:
                raise ValueError(f"queue levels must lie in 0..{self.capacity}, got "
                                 f"{int(q[(q < 0) | (q > self.capacity)].flat[0])}")
            if self.has_phase and (s3[:, :, 4].min() < 0 or s3[:, :, 4].max() > 1):
                raise ValueError("phase coordinates (s{i}_4) must be 0 or 1")

    # ---------------------------------------------------------- ground truth
    def true_graph(self) -> FactoredGraph:
        """Ground truth by construction.

        Queue ``(i, d)`` at t+1 depends on: itself and ``a_i`` (its own discharge); the
        destination queue of every turn with positive probability (spill-back blocks
        the departure); for every upstream movement with positive probability that
        lands in ``(i, d)``, the upstream queue and its intersection's action; and the
        domain when ``(i, d)`` is on the boundary. The phase at t+1 depends on ``a_i``.
        The reward depends on the agent's four queues, and with a switching cost on
        its phase and action.

        >>> g = TrafficGridEnv(1, 2, turning=(0.6, 0.2, 0.2)).true_graph()
        >>> sorted(g.parents["s0_1"])      # east approach of the left intersection
        ['a0', 'a1', 's0_1', 's1_0', 's1_1', 's1_2']
        >>> sorted(g.parents["s0_0"])      # north approach: boundary; its left turn enters s1_3
        ['a0', 'domain', 's0_0', 's1_3']
        >>> sorted(TrafficGridEnv(1, 2).true_graph().parents["s0_1"])   # default: no left turns
        ['a0', 'a1', 's0_1', 's1_0', 's1_1']
        """
        n, dims = self.n_agents, self._dims
        name = lambda flat: f"s{flat // 4}_{flat % 4}"
        parents: dict[str, set[str]] = {f"s{i}_{d}": {f"s{i}_{d}", f"a{i}"} for i in range(n) for d in range(4)}
        for i in range(n):
            for d in range(4):
                for m in range(3):
                    k = int(self.destination[i, d, m])
                    if k < 0 or self.turning[m] == 0.0:
                        continue
                    parents[f"s{i}_{d}"].add(name(k))                  # spill-back
                    parents[name(k)].update({f"s{i}_{d}", f"a{i}"})     # inflow
                if self.boundary[i, d]:
                    parents[f"s{i}_{d}"].add(self.spec.domain_name)
        out: dict[str, list[str]] = {k: sorted(v) for k, v in parents.items()}
        for i in range(n):
            out[f"r{i}"] = [f"s{i}_{d}" for d in range(4)]
            if self.has_phase:
                out[f"s{i}_4"] = [f"a{i}"]
                out[f"r{i}"] += [f"s{i}_4", f"a{i}"]
        return FactoredGraph(self.spec, out)

    @property
    def domain_affected(self) -> list[str]:
        """Names of the boundary queues, whose mechanism depends on the arrival rate.

        >>> TrafficGridEnv(1, 1, switching_cost=0).domain_affected
        ['s0_0', 's0_1', 's0_2', 's0_3']
        """
        return [f"s{i}_{d}" for i in range(self.n_agents) for d in range(4) if self.boundary[i, d]]

    def with_domain_factor(self, domain_factor: float | np.ndarray) -> "TrafficGridEnv":
        """The same grid with arrival rates ``domain_factor`` (scalar or per intersection)."""
        return TrafficGridEnv(self.rows, self.cols, bins=self.bins, arrival=domain_factor,
                              saturation=self.saturation, turning=tuple(self.turning.tolist()),
                              switching_cost=self.switching_cost)

    def config(self) -> dict:
        """Parameters as a JSON-ready dict."""
        return {"env": "traffic", "rows": self.rows, "cols": self.cols, "bins": self.bins,
                "arrival": self.domain_factor.tolist(), "saturation": self.saturation,
                "turning": self.turning.tolist(), "switching_cost": self.switching_cost}
