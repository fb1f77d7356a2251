"""Tabular local critics ``Q_i`` over hashed or dense keys, batched over agents and runs.

Every agent ``i`` keeps a table ``Q_i(x)`` indexed by its critic input ``x``: a tuple
of discrete digits (state coordinates, the actions of ``N_i^kappa``, a domain code).
The key space can be astronomically large (18 neighbours with 9 actions each), so the
critic maps each tuple to a slot of one flat value array shared by all agents and all
independent runs:

* **dense** keys (used when every agent's key space is small): the slot is an exact
  mixed-radix index ``run_base + agent_base + sum_p digit_p * stride_p``;
* **hashed** keys: two multiply-add hashes ``h_k = sum_p M_k[i, p] * digit_p`` with
  independent uniformly random multipliers in ``[0, 2**32)`` per (agent, position),
  computed exactly (as one float64 matrix product when the rows are narrow; every
  sum stays below ``2**53``), combined into 64 bits as ``((h_1 mod 2**32) << 32) XOR
  h_2`` and offset by a random per-run salt. The keys live in an open-addressing
  table with linear probing (:class:`HashSlotTable`). For two distinct tuples of one
  agent, pick a position where they differ by ``d = 2**v * odd``; given the other
  multipliers, ``h_2`` agrees modulo ``2**32`` with probability at most ``2**(v-32)``
  and then ``h_1`` with at most ``2**(v-32)``: a pair collides with probability at
  most ``2**(2v - 64)`` (``v <= 3`` for digits below 16, so ``2**-58``). Keys of
  different agents use independent multipliers, keys of different runs independent
  salts. The value ``0`` marks empty cells, so a hash equal to ``0`` is stored as ``1``.
  Only keys with a nonzero value are stored (an absent key reads as 0), so the
  table holds the keys that carry information.

Updates are SARSA-style TD(0) sweeps along a trajectory (:meth:`TabularCritic.td_sweep`).
In ``persistent`` mode the table lives for the whole run (the reference SAC code);
in ``reset`` mode every outer iteration starts from an empty table (the paper's
Algorithm 1), which is implemented by numbering the iteration's distinct keys.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np

__all__ = ["CriticTable", "HashSlotTable", "TabularCritic", "critic_max_entries", "hash_multipliers"]

CriticTable = Literal["auto", "dense", "hashed"]

_HASH_SEED = 0x5EED_C0FFEE
_EMPTY = np.uint64(0)


def hash_multipliers(n_agents: int, width: int, n_runs: int, *, bits: int = 32
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fixed random multipliers in ``[0, 2**bits)``: two arrays of shape ``(n_agents, width)``,
    and one 64-bit salt per run.

    They come from a fixed seed, so keys are reproducible across processes.

    >>> m1, m2, salt = hash_multipliers(2, 3, 2)
    >>> m1.shape, int(m1.max()) < 2**32, salt.dtype
    ((2, 3), True, dtype('uint64'))
    """
    gen = np.random.Generator(np.random.PCG64(_HASH_SEED))
    m1 = gen.integers(0, 2**bits, size=(n_agents, width), dtype=np.int64)
    m2 = gen.integers(0, 2**bits, size=(n_agents, width), dtype=np.int64)
    salt_gen = np.random.Generator(np.random.PCG64(_HASH_SEED + 1))
    salt = salt_gen.integers(0, 2**64, size=n_runs, dtype=np.uint64, endpoint=False)
    return m1, m2, salt


def critic_max_entries(memory_mb: float, *, max_load: float = 0.5) -> int:
    """The key cap of a hashed critic whose table fits in ``memory_mb`` megabytes (2**20 bytes).

    The table has a power-of-two number of cells of 16 bytes (a uint64 key and a float64
    value) and is kept at most ``max_load`` full: the cap is ``max_load`` times the
    largest such cell count within the budget.

    >>> critic_max_entries(512)
    16777216
    """
    if not memory_mb > 0:
        raise ValueError(f"memory_mb must be > 0, got {memory_mb!r}")
    cells = 1 << max(4, int(math.floor(math.log2(memory_mb * 2**20 / 16))))
    return int(cells * max_load)


class HashSlotTable:
    """Open-addressing hash table (linear probing) from nonzero uint64 keys to slots.

    The slot of a key is its cell index; ``values`` is a float array parallel to the
    cells. The table grows (doubling, rehashing every key) to keep the load below
    ``max_load``; growth moves keys, so slots are only valid until the next call of
    :meth:`find_or_insert`.

    Examples
    --------
    >>> table = HashSlotTable(capacity=8)
    >>> slots = table.find_or_insert(np.array([5, 9, 5], dtype=np.uint64))
    >>> bool(slots[0] == slots[2]), bool(slots[0] != slots[1]), table.size
    (True, True, 2)
    """

    def __init__(self, capacity: int = 1024, *, max_load: float = 0.5) -> None:
        if not 0.0 < max_load < 1.0:
            raise ValueError(f"max_load must lie in (0, 1), got {max_load!r}")
        cap = 8
        while cap < capacity:
            cap *= 2
        self.max_load = float(max_load)
        self.evicted = 0
        self.keys = np.zeros(cap, dtype=np.uint64)
        self.values = np.zeros(cap, dtype=np.float64)
        self.size = 0

    @property
    def capacity(self) -> int:
        """Number of cells."""
        return self.keys.size

    def _home(self, keys: np.ndarray) -> np.ndarray:
        # keys are uniformly random 64-bit hashes: their low bits are a good home cell
        return (keys & np.uint64(self.keys.size - 1)).astype(np.int64)

    def _probe(self, keys: np.ndarray, cells: np.ndarray, *, insert: bool) -> np.ndarray:
        """Walk each key's probe path from ``cells`` to its own cell or the first empty one.

        With ``insert``, an empty cell is claimed by the first key (in array order) that
        reaches it; the others continue probing. Modifies ``cells`` in place.
        """
        mask = np.int64(self.keys.size - 1)
        todo = np.arange(keys.size)
        pending_keys = keys
        while True:
            cur = self.keys[cells[todo]]
            empty = cur == _EMPTY
            if insert and empty.any():
                idx = todo[empty]
                claimed, first = np.unique(cells[idx], return_index=True)
                self.keys[claimed] = keys[idx[first]]
                self.size += claimed.size
                cur = self.keys[cells[todo]]
                done = cur == pending_keys
            else:
                done = (cur == pending_keys) | empty
            if done.all():
                return cells
            keep = ~done
            todo, pending_keys = todo[keep], pending_keys[keep]
            cells[todo] = (cells[todo] + 1) & mask

    def _insert_new(self, keys: np.ndarray) -> np.ndarray:
        """Find or insert ``keys`` (no growth); return their cells."""
        return self._probe(keys, self._home(keys), insert=True)

    def _grow(self, needed: int) -> None:
        cap = self.keys.size
        while needed > self.max_load * cap:
            cap *= 2
        if cap == self.keys.size:
            return
        used = np.flatnonzero(self.keys != _EMPTY)
        old_keys, old_values = self.keys[used], self.values[used]
        self.keys = np.zeros(cap, dtype=np.uint64)
        self.values = np.zeros(cap, dtype=np.float64)
        self.size = 0
        cells = self._insert_new(old_keys)
        self.values[cells] = old_values

    def find_or_insert(self, keys: np.ndarray) -> np.ndarray:
        """Cells of ``keys`` (any shape, uint64, nonzero), inserting missing ones with value 0."""
        keys = np.asarray(keys, dtype=np.uint64)
        flat = keys.ravel()
        if self.size + flat.size > self.max_load * self.keys.size:
            self._grow(self.size + flat.size)
        return self._insert_new(flat).reshape(keys.shape)

    def find(self, keys: np.ndarray) -> np.ndarray:
        """Cells of ``keys``; ``-1`` where a key is absent."""
        keys = np.asarray(keys, dtype=np.uint64).ravel()
        cells = self._probe(keys, self._home(keys), insert=False)
        return np.where(self.keys[cells] == keys, cells, -1)

    def keep_largest(self, n_keep: int) -> int:
        """Evict all but the ``n_keep`` entries of largest ``|value|`` (ties: the larger key
        is kept), rehashing the survivors in place. Returns the number evicted.

        An absent key reads as 0, so dropping the values nearest 0 changes the table's
        reads the least.

        >>> table = HashSlotTable(capacity=8)
        >>> cells = table.find_or_insert(np.array([3, 4, 5], dtype=np.uint64))
        >>> table.values[cells] = [0.5, -2.0, 0.1]
        >>> table.keep_largest(2), sorted(table.state_dict()["keys"].tolist())
        (1, [3, 4])
        """
        used = np.flatnonzero(self.keys != _EMPTY)
        if used.size <= n_keep:
            return 0
        keys, values = self.keys[used], self.values[used]
        order = np.lexsort((keys, np.abs(values)))          # ascending |value|, then key
        keep = np.sort(order[used.size - max(int(n_keep), 0):])
        self.keys[:] = _EMPTY
        self.values[:] = 0.0
        self.size = 0
        cells = self._insert_new(keys[keep])
        self.values[cells] = values[keep]
        evicted = used.size - keep.size
        self.evicted += evicted
        return evicted

    def state_dict(self) -> dict[str, np.ndarray]:
        """The occupied keys and their values."""
        used = np.flatnonzero(self.keys != _EMPTY)
        return {"keys": self.keys[used].copy(), "values": self.values[used].copy()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Replace the contents by ``state`` (from :meth:`state_dict`)."""
        keys = np.asarray(state["keys"], dtype=np.uint64)
        values = np.asarray(state["values"], dtype=np.float64)
        if keys.shape != values.shape or keys.ndim != 1:
            raise ValueError("state keys and values must be 1-d arrays of equal length")
        self.keys = np.zeros(8, dtype=np.uint64)
        self.values = np.zeros(8, dtype=np.float64)
        self.size = 0
        self._grow(keys.size)
        self.values[self.find_or_insert(keys)] = values


class TabularCritic:
    """Local tabular critics of all agents of ``n_runs`` independent runs.

    Parameters
    ----------
    columns : list of list of int
        Per agent, the columns of the input rows (see :meth:`slots`) forming its key.
    cardinality : list of list of int
        Number of values of each of those inputs.
    n_runs : int
        Independent runs sharing the structure (each has its own values).
    persistent : bool
        True: values persist across :meth:`slots` calls (reference SAC). False: each
        call starts from an all-zero table (paper's Algorithm 1).
    table : "auto", "dense" or "hashed"
        Key backend; ``"auto"`` uses dense keys when the total key space of one run
        is at most ``dense_limit`` entries.
    dense_limit : int
    max_entries : int or None
        Hashed persistent critics only: the most keys stored (all agents and runs). When
        an iteration's new keys would exceed it, the stored keys with the smallest
        ``|Q|`` are evicted (ties: smaller key first) down to ``3/4`` of the cap minus
        the new keys. The table then never holds more than ``max_entries`` keys in at
        most ``2 * max_entries`` cells (16 bytes each), whatever the number of
        iterations. None: no cap.

    Examples
    --------
    >>> critic = TabularCritic([[0, 1], [1]], [[2, 3], [3]], n_runs=1, persistent=True)
    >>> critic.table_kind
    'dense'
    >>> rows = np.array([[[1, 2]], [[0, 2]]])          # (time, run, columns)
    >>> slots = critic.slots(rows)
    >>> critic.td_sweep(slots, np.ones((2, 1, 2)), gamma=0.5, alphas=np.array([1.0]))
    >>> critic.commit()
    >>> critic.values[slots[0, 0]].tolist(), critic.value(0, 0, [1, 2])
    ([1.0, 1.0], 1.0)
    """

    def __init__(self, columns: list[list[int]], cardinality: list[list[int]], *, n_runs: int,
                 persistent: bool, table: CriticTable = "auto", dense_limit: int = 1 << 20,
                 max_entries: int | None = None) -> None:
        if len(columns) != len(cardinality):
            raise ValueError("columns and cardinality must list the same agents")
        for i, (c, k) in enumerate(zip(columns, cardinality)):
            if len(c) != len(k):
                raise ValueError(f"agent {i}: {len(c)} columns but {len(k)} cardinalities")
            if any(int(v) < 1 for v in k):
                raise ValueError(f"agent {i}: cardinalities must be >= 1, got {list(k)}")
        if table not in ("auto", "dense", "hashed"):
            raise ValueError(f"table must be 'auto', 'dense' or 'hashed', got {table!r}")
        if not isinstance(n_runs, (int, np.integer)) or n_runs < 1:
            raise ValueError(f"n_runs must be a positive integer, got {n_runs!r}")
        if max_entries is not None and (isinstance(max_entries, bool) or not isinstance(max_entries, (int, np.integer))
                                        or max_entries < 16):
            raise ValueError(f"max_entries must be an integer >= 16 or None, got {max_entries!r}")
        self.max_entries = None if max_entries is None else int(max_entries)
        self.n_agents, self.n_runs, self.persistent = len(columns), int(n_runs), bool(persistent)
        width = max(1, max((len(c) for c in columns), default=1))
        self.width = width
        n = self.n_agents
        # padding: column -1 (the zero column _digits appends), cardinality 1, weight 0
        self._cols = np.full((n, width), -1, dtype=np.int64)
        self._cards = np.ones((n, width), dtype=np.int64)
        for i, (c, k) in enumerate(zip(columns, cardinality)):
            self._cols[i, :len(c)] = c
            self._cards[i, :len(k)] = k
        self._cols_t = np.ascontiguousarray(self._cols.T)
        sizes = [float(np.prod(np.asarray(k, dtype=np.float64))) for k in cardinality]
        total = float(sum(sizes))
        if table == "auto":
            table = "dense" if total <= dense_limit else "hashed"
        if table == "dense" and total * self.n_runs > 2**40:
            raise ValueError(f"a dense critic would need {total:.3g} entries per run; use table='hashed'")
        self.table_kind: str = table
        if table == "dense":
            strides = np.zeros((n, width), dtype=np.int64)
            for i, k in enumerate(cardinality):
                s = 1
                for p in range(len(k) - 1, -1, -1):
                    strides[i, p] = s
                    s *= int(k[p])
            self._strides = strides
            self._strides_t = np.ascontiguousarray(strides.T)
            self._agent_base = np.concatenate([[0], np.cumsum(np.asarray(sizes, dtype=np.int64))[:-1]])
            self._run_size = int(total)
            self.values = np.zeros(self._run_size * self.n_runs)
        else:
            # sums of digit * multiplier must stay exact in float64 (< 2**53)
            span = width * int(self._cards.max())
            bits = min(32, 52 - int(math.ceil(math.log2(max(span, 2)))))
            if bits < 16:
                raise ValueError(f"critic keys of {width} inputs with up to {int(self._cards.max())} values "
                                 "are too wide to hash exactly")
            m1, m2, self._salt = hash_multipliers(n, width, self.n_runs, bits=bits)
            self._mult_t = (np.ascontiguousarray(m1.T), np.ascontiguousarray(m2.T))
            self._table = HashSlotTable(capacity=1024 if max_entries is None else min(1024, 2 * int(max_entries)))
            self.values = np.zeros(0)

    # ------------------------------------------------------------------ keys
    def _digits(self, rows: np.ndarray) -> np.ndarray:
        """``rows`` (..., R, C) -> digits (..., R, width, n) (position-major for fast reductions)."""
        pad = np.zeros(rows.shape[:-1] + (1,), dtype=rows.dtype)
        padded = np.concatenate([rows, pad], axis=-1)     # column -1 is the zero pad
        return padded[..., self._cols_t]

    def _use_matmul(self, n_columns: int) -> bool:
        # an (rows, C) @ (C, n) product costs ~C*n per row, the gather route ~width*n
        # with a larger constant: the product wins unless rows are much wider than keys
        return n_columns <= 8 * self.width

    def _column_matrix(self, n_columns: int) -> np.ndarray:
        """``(C, n)`` matrix of per-column weights (strides or hash multipliers)."""
        cache = getattr(self, "_matrix_cache", None)
        if cache is not None and cache[0] == n_columns:
            return cache[1]
        weights = [self._strides_t] if self.table_kind == "dense" else list(self._mult_t)
        n = self.n_agents
        matrix = np.zeros((n_columns, n * len(weights)))
        for p in range(self.width):
            used = self._cols_t[p] >= 0
            if np.any(self._cols_t[p][used] >= n_columns):
                raise ValueError(f"rows have {n_columns} columns but a critic input uses column "
                                 f"{int(self._cols_t[p].max())}")
            for h, w in enumerate(weights):
                matrix[self._cols_t[p][used], h * n + np.flatnonzero(used)] = w[p][used]
        self._matrix_cache = (n_columns, matrix)
        return matrix

    def keys(self, rows: np.ndarray) -> np.ndarray:
        """Integer key of every agent: dense index or 64-bit hash, shape ``(..., R, n)``."""
        rows = np.asarray(rows)
        if rows.shape[-2] != self.n_runs:
            raise ValueError(f"rows must have {self.n_runs} runs on axis -2, got shape {rows.shape}")
        n = self.n_agents
        if self._use_matmul(rows.shape[-1]):
            # exact integer sums through a float64 product (all partial sums < 2**53)
            flat = rows.reshape(-1, rows.shape[-1]).astype(np.float64)
            prod = (flat @ self._column_matrix(rows.shape[-1])).astype(np.int64)
            prod = prod.reshape(rows.shape[:-1] + (-1,))
            if self.table_kind == "dense":
                code = prod
            else:
                h1, h2 = prod[..., :n], prod[..., n:]
        else:
            digits = self._digits(rows).astype(np.int64)
            if self.table_kind == "dense":
                code = (digits * self._strides_t).sum(axis=-2)
            else:
                h1 = (digits * self._mult_t[0]).sum(axis=-2)
                h2 = (digits * self._mult_t[1]).sum(axis=-2)
        if self.table_kind == "dense":
            return code + self._agent_base + (np.arange(self.n_runs) * self._run_size)[:, None]
        hashed = (h1.astype(np.uint64) << np.uint64(32)) ^ h2.astype(np.uint64)
        hashed += self._salt[:, None]
        hashed[hashed == _EMPTY] = np.uint64(1)
        return hashed

    def slots(self, rows: np.ndarray) -> np.ndarray:
        """Slots of every agent's key in :attr:`values` for one trajectory.

        Parameters
        ----------
        rows : int array, shape (..., n_runs, C)
            Input rows: state coordinates, then actions, then domain codes (see
            :class:`~rl.features.AgentInputs`).

        Returns
        -------
        int array, shape (..., n_runs, n_agents)
            Indices into :attr:`values`, valid until :meth:`commit`. Dense persistent
            critics index the stored table itself; otherwise :attr:`values` is a
            working array over the trajectory's distinct keys, initialised from the
            stored table (persistent) or zero (reset), and :meth:`commit` writes it back.
        """
        keys = self.keys(rows)
        if self.persistent and self.table_kind == "dense":
            return keys
        uniq, inverse = np.unique(keys.ravel(), return_inverse=True)
        self._work_keys = uniq
        if self.persistent:
            cells = self._table.find(uniq)
            self._work_cells = cells
            self.values = np.where(cells >= 0, self._table.values[cells], 0.0)
        else:
            self.values = np.zeros(uniq.size)
        return inverse.reshape(keys.shape)

    def commit(self) -> None:
        """Store the working values of a hashed persistent critic (no-op otherwise).

        Keys already stored are updated; new keys are inserted only when their value
        is nonzero, since an absent key reads as 0 (this keeps the table to the keys
        that carry information: with 18-agent neighbourhoods almost every key is new
        and most rewards are 0).
        """
        if not self.persistent or self.table_kind == "dense":
            return
        cells, values = self._work_cells, self.values
        old = cells >= 0
        self._table.values[cells[old]] = values[old]
        new, n_keep = self.new_keys(cells, values)
        if new.any():
            if n_keep is not None:
                self._table.keep_largest(n_keep)
            new_cells = self._table.find_or_insert(self._work_keys[new])
            self._table.values[new_cells] = values[new]

    def new_keys(self, cells: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, int | None]:
        """Which working keys :meth:`commit` inserts, and how many stored keys it keeps.

        New keys are those not stored (``cells < 0``) with a nonzero value. When they
        would take the table past ``max_entries``, the table is cut to a low-water mark
        of ``3/4`` of the cap: stored keys are evicted down to ``3/4 cap - new`` (the
        returned count, None when no eviction is due) and, if the new keys alone exceed
        ``3/4 cap``, only the ``3/4 cap`` of them with the largest ``|Q|`` are inserted
        (ties: the larger key), so the table never holds more than ``max_entries`` keys.
        """
        new = (cells < 0) & (values != 0.0)
        cap = self.max_entries
        n_new = int(np.count_nonzero(new))
        if cap is None or n_new == 0 or self._table.size + n_new <= cap:
            return new, None
        limit = (3 * cap) // 4
        if n_new > limit:
            idx = np.flatnonzero(new)
            order = np.lexsort((self._work_keys[idx], np.abs(values[idx])))
            new[idx[order[:n_new - limit]]] = False
            n_new = limit
        return new, limit - n_new

    def td_sweep(self, slots: np.ndarray, rewards: np.ndarray, *, gamma: float, alphas: np.ndarray) -> None:
        """SARSA TD(0) along a trajectory, in time order.

        For ``t = 1..T``: ``Q(x_{t-1}) += alphas[t-1] * (r(t-1) + gamma * Q(x_t) - Q(x_{t-1}))``
        for every run and agent at once (both values read before the write).

        Parameters
        ----------
        slots : int array, shape (T+1, R, n)
        rewards : float array, shape (T+1, R, n) (only ``rewards[:T]`` is used)
        gamma : float
        alphas : float array, shape (T,)
        """
        horizon = slots.shape[0] - 1
        values = self.values
        for t in range(1, horizon + 1):
            prev, cur = slots[t - 1], slots[t]
            q_prev = values[prev]
            values[prev] = q_prev + alphas[t - 1] * (rewards[t - 1] + gamma * values[cur] - q_prev)

    # ------------------------------------------------------------ inspection
    def n_entries(self) -> int:
        """Stored keys (all agents and runs): nonzero values of a dense table, keys of a
        hashed one, the last trajectory's distinct keys of a reset critic."""
        if not self.persistent:
            return int(self.values.size)
        if self.table_kind == "dense":
            return int(np.count_nonzero(self.values))
        return int(self._table.size)

    def value(self, run: int, agent: int, digits: list[int]) -> float:
        """Stored ``Q_agent(digits)`` of run ``run`` (0 for a key never stored).

        For a reset critic: the value in the last trajectory's working table.
        """
        cols = int((self._cols[agent] >= 0).sum())
        if len(digits) != cols:
            raise ValueError(f"agent {agent} has {cols} critic inputs, got {len(digits)} digits")
        n_columns = int(self._cols.max()) + 1 if self._cols.max() >= 0 else 1
        row = np.zeros((self.n_runs, n_columns), dtype=np.int64)
        row[run, self._cols[agent, :cols]] = digits
        key = self.keys(row)[run, agent]
        if self.table_kind == "dense" and self.persistent:
            return float(self.values[int(key)])
        if not self.persistent:
            pos = int(np.searchsorted(self._work_keys, key))
            found = pos < self._work_keys.size and self._work_keys[pos] == key
            return float(self.values[pos]) if found else 0.0
        cell = int(self._table.find(np.array([key], dtype=np.uint64))[0])
        return float(self._table.values[cell]) if cell >= 0 else 0.0

    def nbytes(self) -> int:
        """Bytes held by the stored table (keys and values)."""
        if self.table_kind == "hashed" and self.persistent:
            return int(self._table.keys.nbytes + self._table.values.nbytes)
        return int(self.values.nbytes)

    def state_dict(self) -> dict[str, Any]:
        """Arrays of the stored table (dense: the value array; hashed: keys and values)."""
        if self.table_kind == "hashed" and self.persistent:
            return {"table": "hashed", **self._table.state_dict()}
        if not self.persistent:
            return {"table": self.table_kind, "values": np.zeros(0)}
        return {"table": self.table_kind, "values": self.values.copy()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a table saved by :meth:`state_dict` on a critic of the same structure."""
        if state.get("table") != self.table_kind:
            raise ValueError(f"state holds a {state.get('table')!r} critic, this critic is {self.table_kind!r}")
        if not self.persistent:
            return
        if self.table_kind == "hashed":
            self._table.load_state_dict(state)
            return
        values = np.asarray(state["values"], dtype=np.float64)
        if values.shape != self.values.shape:
            raise ValueError(f"values have shape {values.shape}, expected {self.values.shape}")
        self.values = values.copy()
