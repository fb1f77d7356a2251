"""Read a user's logs ("wide" tables: CSV, Parquet, a pandas DataFrame, or npz) into :class:`Transitions`.

One row of a wide table is one step of the whole network. Columns (names from the
network file, :mod:`causalnet.network_file`):

``domain``            domain label (any values: ``0``, ``"beta=0.2"``, ``0.35``)
``episode``           episode label (any values; unique within its domain)
``t``                 integer time step; the rows of an episode have ``t0, t0+1, ...``
``<state name>``      one column per state coordinate
``<action name>``     one column per agent
``<reward name>``     one numeric column per agent
``<state name>_next`` the state coordinate at ``t + 1``

State and action values are labels (text, integers from any base, integral floats):
they are coded ``0..K-1`` (:mod:`causalnet.tables_code`) and the labels are kept in a
:class:`~causalnet.codebook.Codebook`. Codes are stored in ``int8`` (``int16`` when
``max_levels > 127``), rewards in the narrowest exact type (``int8`` for 0/1 rewards,
``float32`` when every value survives the round trip, else ``float64``), the types
:class:`Transitions` keeps, so the arrays are never copied to narrow them. CSV is read in chunks of about ``chunk_cells`` cells into
preallocated arrays, so memory stays near the size of the coded arrays.

Examples
--------
>>> import pandas as pd
>>> from causalnet.network_file import network_from_dict
>>> net = network_from_dict({"n_agents": 1, "state_names": ["s0_0"]})
>>> df = pd.DataFrame({"domain": ["lo", "lo"], "episode": [7, 7], "t": [0, 1], "s0_0": ["off", "on"],
...                    "a0": [1, 2], "r0": [0.5, 1.0], "s0_0_next": ["on", "on"]})
>>> data, codebook = read_table(df, net)
>>> data.states.ravel().tolist(), data.actions.dtype.name, codebook.variables["a0"]
([0, 1], 'int8', [1, 2])
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from causalnet.codebook import Codebook
from causalnet.data import Transitions, TransitionsFormatError, code_dtype, reward_dtype
from causalnet.network_file import NetworkFile
from causalnet.tables_code import BlockCoder, LabelCoder, TableError

__all__ = ["TableError", "read_table", "table_columns_check"]

logger = logging.getLogger(__name__)

_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".npz": "npz"}


def _count_csv_rows(path: Path) -> int:
    """Data rows of a CSV file (lines after the header), counted in binary blocks."""
    count, last = 0, b"\n"
    with open(path, "rb") as fh:
        while True:
            block = fh.read(1 << 24)
            if not block:
                break
            count += block.count(b"\n")
            last = block[-1:]
    if last != b"\n":
        count += 1
    return max(count - 1, 0)


def table_columns_check(columns: list[str], network: NetworkFile, src: str) -> None:
    """Raise :class:`TableError` unless ``columns`` are exactly the columns the network file implies."""
    expected = network.table_columns
    present = set(columns)
    dup = sorted({c for c in columns if columns.count(c) > 1}) if len(present) != len(columns) else []
    if dup:
        raise TableError(f"{src}: column(s) {dup} appear more than once")
    missing = [c for c in expected if c not in present]
    expected_set = set(expected)
    extra = [c for c in columns if c not in expected_set]
    if missing and all(s in missing for s in network.state_names):
        raise TableError(f"{src}: the names in {network.source} do not match the table: none of its state names "
                         f"({list(network.state_names[:3])}...) is a column; the table has {columns[:6]}...")
    next_missing = [c for c in missing if c in network.next_names]
    if next_missing:
        c = next_missing[0]
        raise TableError(f"{src}: column {c!r} (the next value of state {c[:-5]!r}) is missing; a wide table "
                         "needs a <state>_next column for every state coordinate")
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise TableError(f"{src}: missing column(s) {missing[:5]}{more} (named in {network.source})")
    if extra:
        more = f" and {len(extra) - 5} more" if len(extra) > 5 else ""
        raise TableError(f"{src}: column(s) {extra[:5]}{more} are not in {network.source}; a table holds exactly "
                         "domain, episode, t, the states, actions, rewards and <state>_next")


@dataclass
class _Source:
    kind: str
    name: str
    columns: list[str]
    n_rows: int
    chunks: Any   # callable(rows_per_chunk) -> iterator of DataFrames


def _open(source: Any) -> _Source:
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        cols = [str(c) for c in source.columns]
        df = source.set_axis(cols, axis=1) if list(source.columns) != cols else source

        def frames(rows: int) -> Iterator[Any]:
            for r0 in range(0, len(df), rows):
                yield df.iloc[r0:r0 + rows]
        return _Source("dataframe", "the DataFrame", cols, len(df), frames)
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"source must be a path or a pandas DataFrame, got {type(source).__name__}")
    path = Path(source)
    kind = _SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise TableError(f"{path}: unknown table format {path.suffix!r}; use .csv, .parquet (or .pq) or .npz")
    if not path.is_file():
        raise TableError(f"{path}: no such file")
    if kind == "csv":
        try:
            cols = [str(c) for c in pd.read_csv(path, nrows=0).columns]
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise TableError(f"{path}: not a readable CSV file ({exc})") from None

        def frames(rows: int) -> Iterator[Any]:
            with pd.read_csv(path, chunksize=rows, engine="c", low_memory=False) as reader:
                yield from reader
        return _Source("csv", str(path), cols, _count_csv_rows(path), frames)
    if kind == "parquet":
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(path)
        except Exception as exc:  # pyarrow raises several types for a bad file
            raise TableError(f"{path}: not a readable Parquet file ({exc})") from None

        def frames(rows: int) -> Iterator[Any]:
            for batch in pf.iter_batches(batch_size=rows):
                yield batch.to_pandas()
        return _Source("parquet", str(path), [str(c) for c in pf.schema_arrow.names], pf.metadata.num_rows, frames)
    return _Source("npz", str(path), [], 0, None)


def read_table(source: Any, network: NetworkFile, *, codebook: Codebook | None = None, max_levels: int = 64,
               chunk_cells: int = 1 << 22) -> tuple[Transitions, Codebook]:
    """Read a wide table into :class:`Transitions` and its :class:`Codebook`.

    Parameters
    ----------
    source : path or pandas.DataFrame
        ``.csv``, ``.parquet``/``.pq`` or ``.npz`` (a saved :class:`Transitions`, already coded).
    network : NetworkFile
        Names of every column.
    codebook : Codebook, optional
        Codes to use (target data: the source's codebook). Labels it does not know raise
        :class:`TableError`. Domain labels are always the table's own.
    max_levels : int
        A state or action column with more distinct values is treated as continuous and
        refused with a message pointing to the continuous support.
    chunk_cells : int
        About how many cells are parsed at a time.

    Returns
    -------
    (Transitions, Codebook)
        Domain codes ``0..M-1`` follow the sorted domain labels (``codebook.domains``).

    Raises
    ------
    TableError
        Missing or extra columns, a missing ``_next`` column, mixed label types, a
        continuous-looking column, an empty cell, a non-numeric reward, or a row whose ``t``
        does not follow its episode.
    """
    src = _open(source)
    if src.kind == "npz":
        return _read_npz(Path(source), network)
    table_columns_check(src.columns, network, src.name)
    if src.n_rows == 0:
        raise TableError(f"{src.name}: the table has no rows")
    dtype = code_dtype(max_levels - 1)          # int8 up to 127 labels: what Transitions keeps, no copy
    n_rows = src.n_rows
    states_next = list(network.state_names) + list(network.next_names)
    frozen = codebook.variables if codebook is not None else {}
    for name in list(network.state_names) + list(network.action_names):
        if codebook is not None and name not in frozen:
            raise TableError(f"{src.name}: the codebook has no variable {name!r}")
    s_coders = [LabelCoder(s, max_levels, frozen.get(s)) for s in network.state_names]
    a_coders = [LabelCoder(a, max_levels, frozen.get(a), what="action") for a in network.action_names]
    state_block = BlockCoder(states_next, s_coders + s_coders, dtype)
    action_block = BlockCoder(list(network.action_names), a_coders, dtype)
    dom_coder = LabelCoder("domain", 1 << 30, what="domain")
    ep_coder = LabelCoder("episode", 1 << 62, what="domain")
    dom_block = BlockCoder(["domain"], [dom_coder], np.int64)
    ep_block = BlockCoder(["episode"], [ep_coder], np.int64)
    m = network.state_names.__len__()
    n = network.n_agents
    codes_sn = np.empty((n_rows, 2 * m), dtype=dtype)
    actions = np.empty((n_rows, n), dtype=dtype)
    rewards = np.empty((n_rows, n), dtype=np.int8)   # widened chunk by chunk to the narrowest exact type
    domain = np.empty(n_rows, dtype=np.int64)
    episode = np.empty(n_rows, dtype=np.int64)
    time = np.empty(n_rows, dtype=np.int64)
    line_offset = 2 if src.kind == "csv" else 1

    def where(row: int, column: str) -> str:
        return f"row {row + 1} (line {row + line_offset})" if src.kind == "csv" else f"row {row + 1}"

    rows_per_chunk = max(64, chunk_cells // max(len(src.columns), 1))
    value_columns = [c for c in src.columns if c not in ("domain", "episode", "t")]
    where_col = {c: k for k, c in enumerate(value_columns)}
    positions = {"columns": value_columns,
                 "states_next": np.array([where_col[c] for c in states_next], dtype=np.int64),
                 "actions": np.array([where_col[c] for c in network.action_names], dtype=np.int64),
                 "rewards": np.array([where_col[c] for c in network.reward_names], dtype=np.int64)}
    r0 = 0
    for frame in src.chunks(rows_per_chunk):
        r1 = r0 + len(frame)
        if r1 > n_rows:   # only when the row count was underestimated (should not happen)
            raise TableError(f"{src.name}: more rows than counted ({r1} > {n_rows}); is a quoted field split "
                             "over lines?")
        numeric = _numeric_columns(frame, positions)
        if numeric is not None:   # one conversion of the whole chunk (the common, all-numeric case)
            codes_sn[r0:r1] = state_block.code(_integral(numeric[:, positions["states_next"]]), r0, where)
            actions[r0:r1] = action_block.code(_integral(numeric[:, positions["actions"]]), r0, where)
            r_chunk = numeric[:, positions["rewards"]]
            rewards = _check_rewards(r_chunk, network, rewards, r0, where)
        else:
            codes_sn[r0:r1] = state_block.code(frame[states_next].to_numpy(), r0, where)
            actions[r0:r1] = action_block.code(frame[list(network.action_names)].to_numpy(), r0, where)
            rewards, r_chunk = _reward_block(frame, network, rewards, r0, where)
        rewards[r0:r1] = r_chunk
        domain[r0:r1] = dom_block.code(frame[["domain"]].to_numpy(), r0, where)[:, 0]
        episode[r0:r1] = ep_block.code(frame[["episode"]].to_numpy(), r0, where)[:, 0]
        time[r0:r1] = _time_column(frame["t"].to_numpy(), r0, where)
        r0 = r1
    if r0 != n_rows:
        codes_sn, actions, rewards = codes_sn[:r0].copy(), actions[:r0].copy(), rewards[:r0].copy()
        domain, episode, time = domain[:r0], episode[:r0], time[:r0]
        n_rows = r0
    # final codes: labels sorted
    labels: dict[str, list[Any]] = {}
    perms = []
    for coder in s_coders:
        lab, perm = coder.final_map()
        labels[coder.name] = lab
        perms.append(perm)
    _remap(codes_sn, perms + perms)
    a_perms = []
    for coder in a_coders:
        lab, perm = coder.final_map()
        labels[coder.name] = lab
        a_perms.append(perm)
    _remap(actions, a_perms)
    dom_labels, dom_perm = dom_coder.final_map()
    domain = dom_perm[domain]
    if codebook is not None:
        reused = [d for d in dom_labels if any(str(d) == str(s) for s in codebook.domains)]
        if reused:
            raise TableError(f"{src.name}: domain label {reused[0]!r} is already used by a source domain; the "
                             "target's domains need labels of their own")
    episode = _check_episodes(domain, episode, time, dom_labels, ep_coder.labels, where, src.name)
    cards_s = [len(labels[s]) for s in network.state_names]
    cards_a = [len(labels[a]) for a in network.action_names]
    spec = network.to_spec(cards_s, cards_a)
    try:
        data = Transitions(spec, codes_sn[:, :m], actions, rewards, codes_sn[:, m:], domain, episode, time)
    except TransitionsFormatError as exc:
        raise TableError(f"{src.name}: {exc}") from None
    logger.info("read %d rows x %d columns from %s (%d domains)", n_rows, len(src.columns), src.name,
                len(dom_labels))
    return data, Codebook(labels, dom_labels)


def _time_column(t: np.ndarray, r0: int, where) -> np.ndarray:
    if t.dtype.kind in "iu":
        return t
    if t.dtype.kind == "f" and np.all(np.isfinite(t)) and np.all(t == np.round(t)):
        return t.astype(np.int64)
    bad = [k for k, v in enumerate(t) if not (isinstance(v, (int, float, np.integer, np.floating))
                                              and float(v) == round(float(v)))]
    k = bad[0] if bad else 0
    raise TableError(f"column 't' must hold integer time steps; it holds {t[k]!r} at {where(r0 + k, 't')}")


def _numeric_columns(frame, positions: dict[str, Any]) -> np.ndarray | None:
    """The chunk's state, action and reward columns as one float64 array, when all are numeric (else None)."""
    values = frame[positions["columns"]] if list(frame.columns[3:]) != positions["columns"] else frame.iloc[:, 3:]
    if not all(dt.kind in "iuf" for dt in values.dtypes):
        return None
    return values.to_numpy(dtype=np.float64)


def _integral(block: np.ndarray) -> np.ndarray:
    """Integer copy of a float block whose values are all integral (else the block unchanged)."""
    if block.size and np.all(np.isfinite(block)) and np.array_equal(block, np.round(block)):
        return block.astype(np.int64)
    return block


def _check_rewards(block: np.ndarray, network: NetworkFile, rewards: np.ndarray, r0: int, where) -> np.ndarray:
    """Check a chunk's rewards; return ``rewards`` widened (once, rarely) so that the chunk fits exactly."""
    names = list(network.reward_names)
    bad = ~np.isfinite(block)
    if bad.any():
        k, j = map(int, np.argwhere(bad)[0])
        raise TableError(f"reward column {names[j]!r} is empty or not finite at {where(r0 + k, names[j])}")
    wider = np.result_type(rewards.dtype, reward_dtype(block))
    if wider != rewards.dtype:
        logger.info("rewards need %s", wider)
        with np.errstate(invalid="ignore"):   # rows not read yet hold arbitrary bits
            rewards = rewards.astype(wider)
    return rewards


def _reward_block(frame, network: NetworkFile, rewards: np.ndarray, r0: int, where) -> tuple[np.ndarray, np.ndarray]:
    names = list(network.reward_names)
    try:
        block = frame[names].to_numpy(dtype=np.float64)
    except (ValueError, TypeError):
        for name in names:
            col = frame[name].to_numpy()
            for k, v in enumerate(col):
                try:
                    float(v)
                except (TypeError, ValueError):
                    raise TableError(f"reward column {name!r} holds {v!r} at {where(r0 + k, name)}; rewards must "
                                     "be numbers") from None
        raise
    return _check_rewards(block, network, rewards, r0, where), block


def _remap(codes: np.ndarray, perms: list[np.ndarray], block_cells: int = 1 << 22) -> None:
    """Apply ``perms[j]`` to column ``j`` of ``codes`` in place (row blocks; identity columns skipped)."""
    todo = [j for j, p in enumerate(perms) if not np.array_equal(p, np.arange(p.size))]
    if not todo:
        return
    width = max(p.size for p in perms)
    table = np.zeros((len(todo), width), dtype=codes.dtype)
    for k, j in enumerate(todo):
        table[k, :perms[j].size] = perms[j]
    cols = np.array(todo)
    offsets = (np.arange(len(todo)) * width)[None, :]
    step = max(1, block_cells // len(todo))
    for r0 in range(0, codes.shape[0], step):
        sub = codes[r0:r0 + step][:, cols].astype(np.int64)
        codes[r0:r0 + step, cols] = table.ravel()[sub + offsets]


def _check_episodes(domain, episode, time, dom_labels, ep_labels, where, src: str) -> np.ndarray:
    """Episode ids ``0..E-1`` of the (domain, episode label) pairs; each episode's ``t`` must be consecutive.

    Episode labels need only be unique within a domain (logs often restart them per period).
    Rows may come in any order.
    """
    pair = domain.astype(np.int64) * (int(episode.max()) + 1 if episode.size else 1) + episode
    _, ids = np.unique(pair, return_inverse=True)
    order = np.lexsort((time, ids))
    e, t = ids[order], time[order]
    same = e[1:] == e[:-1]
    bad_t = same & (t[1:] != t[:-1] + 1)
    if bad_t.any():
        k = int(np.flatnonzero(bad_t)[0])
        row = int(order[k + 1])
        raise TableError(f"{src}: {where(row, 't')} has t = {int(t[k + 1])}, which does not follow t = {int(t[k])} "
                         f"of episode {ep_labels[episode[row]]!r} in domain {dom_labels[domain[row]]!r} (expected "
                         f"{int(t[k]) + 1}: no gaps or repeats)")
    return ids.astype(np.int64)


def _read_npz(path: Path, network: NetworkFile) -> tuple[Transitions, Codebook]:
    try:
        data = Transitions.load(path)
    except TransitionsFormatError as exc:
        raise TableError(str(exc)) from None
    spec = data.spec
    for what, mine, theirs in (("state", spec.state_names, network.state_names),
                               ("action", spec.action_names, network.action_names),
                               ("reward", spec.reward_names, network.reward_names)):
        if tuple(mine) != tuple(theirs):
            raise TableError(f"{path}: its {what} names {list(mine[:4])}... do not match {network.source} "
                             f"({list(theirs[:4])}...)")
    if spec.n_agents != network.n_agents or set(spec.edges) != set(
            (min(a, b), max(a, b)) for a, b in network.edges):
        raise TableError(f"{path}: its agents or edges differ from {network.source}")
    cards = {s: c for s, c in zip(spec.state_names, spec.state_cardinality)}
    cards.update(zip(spec.action_names, spec.action_cardinality))
    if any(c is None for c in cards.values()):
        raise TableError(f"{path}: holds continuous state coordinates; this loader codes discrete labels only")
    return data, Codebook.identity(cards, data.n_domains)
