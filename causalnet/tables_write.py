"""Write :class:`Transitions` as a wide table (the inverse of :func:`causalnet.tables_read.read_table`).

Useful to export logs for other tools, and to produce the CSV files of tests and
benchmarks. Codes become labels through a :class:`~causalnet.codebook.Codebook`
(default: the codes themselves).

Examples
--------
>>> from causalnet.spec import default_spec
>>> spec = default_spec(1, [], 1, 2, 2)
>>> tr = Transitions(spec, np.array([[0], [1]]), np.array([[1], [0]]), np.array([[0.5], [1.0]]),
...                  np.array([[1], [1]]), np.array([0, 0]), np.array([3, 3]), np.array([0, 1]))
>>> cb = Codebook({"s0_0": ["off", "on"], "a0": ["wait", "go"]}, ["lo"])
>>> wide_table(tr, cb).to_dict("list")["s0_0_next"]
['on', 'on']
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from causalnet.codebook import Codebook
from causalnet.data import Transitions
from causalnet.io import atomic_write

__all__ = ["wide_table", "write_table"]


def wide_table(data: Transitions, codebook: Codebook | None = None):
    """A pandas DataFrame with columns ``domain, episode, t``, states, actions, rewards, ``<state>_next``."""
    import pandas as pd

    spec = data.spec

    def labels(name: str, codes: np.ndarray) -> Any:
        if codebook is None or name not in codebook.variables:
            return codes
        return np.asarray(codebook.variables[name], dtype=object)[codes.astype(np.int64)]

    domains = (np.asarray(codebook.domains, dtype=object)[data.domain] if codebook is not None and codebook.domains
               else data.domain)
    cols: dict[str, Any] = {"domain": domains, "episode": data.episode, "t": data.time}
    for j, s in enumerate(spec.state_names):
        cols[s] = labels(s, data.states[:, j])
    for i, a in enumerate(spec.action_names):
        cols[a] = labels(a, data.actions[:, i])
    for i, r in enumerate(spec.reward_names):
        cols[r] = data.rewards[:, i]
    for j, s in enumerate(spec.state_names):
        cols[f"{s}_next"] = labels(s, data.next_states[:, j])
    return pd.DataFrame(cols)


def write_table(data: Transitions, path: str | os.PathLike, codebook: Codebook | None = None) -> Path:
    """Write :func:`wide_table` atomically as ``.csv`` or ``.parquet`` (by the suffix)."""
    p = Path(path)
    frame = wide_table(data, codebook)
    if p.suffix.lower() == ".csv":
        return atomic_write(p, lambda fh: frame.to_csv(fh, index=False))
    if p.suffix.lower() in (".parquet", ".pq"):
        return atomic_write(p, lambda fh: frame.to_parquet(fh, index=False))
    raise ValueError(f"{p}: write .csv or .parquet")
