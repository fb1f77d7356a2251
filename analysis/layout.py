"""Positions of agents (and access points) for drawing a networked system.

The wireless benchmark has a natural geometry: users sit on the vertices of a
``height x width`` grid and every grid cell holds an access point (AP). Its agents
are drawn there, ``x = column`` and ``y = -row`` (row 0 at the top, like the
grid in ``rl.envs.wireless``); users sharing a vertex are spread on a small
circle around it. Intersections of the traffic grid are drawn at ``x = column``,
``y = -row``. Any other system is drawn with a seeded networkx spring layout
of its interaction graph.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import networkx as nx
import numpy as np

from causalnet.spec import NetworkSpec
from rl.envs.base import as_generator

__all__ = ["access_point_positions", "network_positions", "VERTEX_SPREAD"]

#: Radius (in grid units) of the circle on which users sharing a vertex are placed.
VERTEX_SPREAD = 0.18


def _grid_shape(env_config: Mapping[str, Any]) -> tuple[int, int, int]:
    """``(height, width, users_per_vertex)`` of a wireless config, validated."""
    values = []
    for key, least in (("height", 2), ("width", 2), ("users_per_vertex", 1)):
        if key not in env_config:
            raise ValueError(f"env_config for env 'wireless' is missing {key!r}")
        value = env_config[key]
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise ValueError(f"env_config[{key!r}] must be an integer >= {least}, got {value!r}")
        values.append(int(value))
    return values[0], values[1], values[2]


def _is_wireless(env_config: Mapping[str, Any] | None) -> bool:
    if env_config is None:
        return False
    if not isinstance(env_config, Mapping):
        raise TypeError(f"env_config must be a mapping (env.config()) or None, got {type(env_config).__name__}")
    return env_config.get("env") == "wireless"


def network_positions(spec: NetworkSpec, env_config: Mapping[str, Any] | None = None, *,
                      rng: int | np.random.Generator | None = 0) -> dict[int, tuple[float, float]]:
    """Drawing position of every agent.

    Parameters
    ----------
    spec : NetworkSpec
        The system; its interaction graph is laid out when there is no geometry.
    env_config : mapping, optional
        ``env.config()`` of the environment. For ``{"env": "wireless", ...}`` user
        ``i`` sits on vertex ``v = i // users_per_vertex`` at ``(v % width, -(v // width))``;
        users sharing a vertex are placed on a circle of radius :data:`VERTEX_SPREAD`
        around it (first user at angle 90 degrees, then counter-clockwise).
    rng : int or numpy.random.Generator, optional
        Seed of the spring layout used when there is no geometry (an int seed is
        drawn from a Generator). Same seed, same positions.

    Returns
    -------
    dict
        ``{agent: (x, y)}`` for agents ``0..n_agents-1``.

    Raises
    ------
    TypeError
        ``spec`` is not a NetworkSpec or ``env_config`` not a mapping.
    ValueError
        A wireless config is incomplete or its grid holds a different number of users
        than ``spec``.

    Examples
    --------
    >>> from rl.envs import WirelessAccessEnv
    >>> env = WirelessAccessEnv.from_grid(2)
    >>> pos = network_positions(env.spec, env.config())
    >>> pos[0], pos[4], pos[8]
    ((0.0, 0.0), (1.0, -1.0), (2.0, -2.0))
    """
    if not isinstance(spec, NetworkSpec):
        raise TypeError(f"spec must be a NetworkSpec, got {type(spec).__name__}")
    if _is_wireless(env_config):
        height, width, per_vertex = _grid_shape(env_config)
        if height * width * per_vertex != spec.n_agents:
            raise ValueError(f"env_config describes a {height} x {width} grid with {per_vertex} user(s) per vertex "
                             f"({height * width * per_vertex} users) but spec has {spec.n_agents} agents")
        positions: dict[int, tuple[float, float]] = {}
        for agent in range(spec.n_agents):
            vertex, k = divmod(agent, per_vertex)
            x, y = float(vertex % width), float(-(vertex // width))
            if per_vertex > 1:
                angle = math.pi / 2 + 2 * math.pi * k / per_vertex
                x += VERTEX_SPREAD * math.cos(angle)
                y += VERTEX_SPREAD * math.sin(angle)
            positions[agent] = (x, y)
        return positions
    if isinstance(env_config, Mapping) and env_config.get("env") == "traffic":
        rows, cols = int(env_config.get("rows", 0)), int(env_config.get("cols", 0))
        if rows * cols != spec.n_agents:
            raise ValueError(f"env_config describes a {rows} x {cols} traffic grid but spec has {spec.n_agents} agents")
        return {agent: (float(agent % cols), -float(agent // cols)) for agent in range(spec.n_agents)}
    seed = int(as_generator(rng).integers(2**31 - 1))
    layout = nx.spring_layout(spec.interaction_graph, seed=seed)
    return {int(agent): (float(xy[0]), float(xy[1])) for agent, xy in sorted(layout.items())}


def access_point_positions(env_config: Mapping[str, Any] | None) -> list[tuple[float, float]]:
    """Centres of the access points' cells for a wireless config (empty list otherwise).

    AP ``k`` is the cell whose top-left vertex is at row ``k // (width - 1)``, column
    ``k % (width - 1)``; its centre is half a unit right of and below that vertex,
    in the coordinates of :func:`network_positions`.

    Examples
    --------
    >>> access_point_positions({"env": "wireless", "height": 2, "width": 3, "users_per_vertex": 1})
    [(0.5, -0.5), (1.5, -0.5)]
    >>> access_point_positions({"env": "synthetic"})
    []
    """
    if not _is_wireless(env_config):
        return []
    height, width, _ = _grid_shape(env_config)
    return [(float(k % (width - 1)) + 0.5, -float(k // (width - 1)) - 0.5)
            for k in range((height - 1) * (width - 1))]
