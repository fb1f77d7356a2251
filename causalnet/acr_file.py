"""Validating reader of ``acr.json`` (written by ``causalnet discover`` and the ``acr`` stage of ``causalnet run``).

Layout (see ``docs/cli-discover.md``)::

    {"kappa": 1,
     "agents": [{"agent": 0, "value_acr": [names], "policy_acr": [names], "domain_acr": [agents],
                 "true_value_acr": [...], ...}, ...],          # true_* only with ground truth
     "table": [{"agent": 0, "kappa": 1, "full_dim": 12, ..., "acr_log10_size": 0.60}, ...],
     "agents_matching_truth": 6}                               # only with ground truth

The reader checks every field it knows and refuses unknown ones, so a damaged or
hand-edited file is reported (:class:`~causalnet.errors.InputFileError` naming the file
and the field) instead of failing later inside a figure.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from causalnet.errors import InputFileError

__all__ = ["read_acr"]

_SETS = ("value_acr", "policy_acr", "domain_acr")
_TRUE_SETS = tuple(f"true_{name}" for name in _SETS)
_TABLE_INTS = ("agent", "kappa", "full_dim", "kappa_hop_dim", "acr_dim", "policy_kappa_hop_dim", "policy_acr_dim",
               "domain_acr_dim", "kappa_hop_action_dim")
_TABLE_SIZES = ("full", "kappa_hop", "acr", "policy_acr", "kappa_hop_action")


def _int(value: Any, least: int = 0) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and value >= least


def _agent_row(row: Any, k: int, path: Path) -> None:
    where = f"'agents'[{k}]"
    if not isinstance(row, dict):
        raise InputFileError(path, f"{where} must be an object, got {type(row).__name__}")
    allowed = {"agent", *_SETS, *_TRUE_SETS}
    unknown = sorted(set(row) - allowed)
    if unknown:
        raise InputFileError(path, f"{where} has unknown field(s) {unknown}")
    missing = [key for key in ("agent", *_SETS) if key not in row]
    if missing:
        raise InputFileError(path, f"{where} lacks {missing}")
    if not _int(row["agent"]) or row["agent"] != k:
        raise InputFileError(path, f"{where}: 'agent' must be {k}, got {row['agent']!r}")
    for key in (*_SETS, *_TRUE_SETS):
        if key not in row:
            continue
        if key.endswith("domain_acr"):        # agents whose domain factor the agent's value depends on
            if not isinstance(row[key], list) or not all(_int(v) for v in row[key]):
                raise InputFileError(path, f"{where}: {key!r} must be a list of agent indices")
        elif not isinstance(row[key], list) or not all(isinstance(v, str) for v in row[key]):
            raise InputFileError(path, f"{where}: {key!r} must be a list of variable names")


def _table_row(row: Any, k: int, kappa: int, path: Path) -> None:
    where = f"'table'[{k}]"
    if not isinstance(row, dict):
        raise InputFileError(path, f"{where} must be an object, got {type(row).__name__}")
    sizes = [f"{s}_size" for s in _TABLE_SIZES]
    logs = [f"{s}_log10_size" for s in _TABLE_SIZES]
    expected = set(_TABLE_INTS) | set(sizes) | set(logs)
    unknown, missing = sorted(set(row) - expected), sorted(expected - set(row))
    if unknown or missing:
        raise InputFileError(path, f"{where}: " + "; ".join(
            part for part in (f"unknown field(s) {unknown}" if unknown else "",
                              f"missing field(s) {missing}" if missing else "") if part))
    for key in _TABLE_INTS:
        if not _int(row[key]):
            raise InputFileError(path, f"{where}: {key!r} must be an integer >= 0, got {row[key]!r}")
    if row["agent"] != k or row["kappa"] != kappa:
        raise InputFileError(path, f"{where}: 'agent'/'kappa' must be {k}/{kappa}, got {row['agent']}/{row['kappa']}")
    for key in sizes:
        if row[key] is not None and not _int(row[key], 1):
            raise InputFileError(path, f"{where}: {key!r} must be an integer >= 1 or null, got {row[key]!r}")
    for key in logs:
        value = row[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise InputFileError(path, f"{where}: {key!r} must be a finite number >= 0, got {value!r}")


def read_acr(path: str | os.PathLike) -> dict[str, Any]:
    """Read and validate an ``acr.json``; return its content.

    Raises
    ------
    InputFileError
        If the file is missing, not JSON, or a field is missing, unknown, of the wrong
        type or inconsistent (agents not numbered ``0..n-1``, rows of another ``kappa``).

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "acr.json"
    >>> _ = p.write_text(json.dumps({"kappa": 1, "agents": [], "table": []}))
    >>> read_acr(p)["kappa"]
    1
    >>> _ = p.write_text(json.dumps({"kappa": -1, "agents": [], "table": []}))
    >>> read_acr(p)
    Traceback (most recent call last):
    ...
    causalnet.errors.InputFileError: ...acr.json: 'kappa' must be an integer >= 0, got -1
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise InputFileError(path, f"cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise InputFileError(path, f"is not UTF-8 text ({exc.reason})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputFileError(path, f"is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise InputFileError(path, f"must hold a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - {"kappa", "agents", "table", "agents_matching_truth"})
    if unknown:
        raise InputFileError(path, f"unknown field(s) {unknown}; accepted: kappa, agents, table, "
                                   "agents_matching_truth")
    missing = [key for key in ("kappa", "agents", "table") if key not in data]
    if missing:
        raise InputFileError(path, f"missing field(s) {missing}")
    if not _int(data["kappa"]):
        raise InputFileError(path, f"'kappa' must be an integer >= 0, got {data['kappa']!r}")
    for key in ("agents", "table"):
        if not isinstance(data[key], list):
            raise InputFileError(path, f"{key!r} must be a list, got {type(data[key]).__name__}")
    if len(data["agents"]) != len(data["table"]):
        raise InputFileError(path, f"'agents' has {len(data['agents'])} rows but 'table' {len(data['table'])}")
    for k, row in enumerate(data["agents"]):
        _agent_row(row, k, path)
    for k, row in enumerate(data["table"]):
        _table_row(row, k, data["kappa"], path)
    has_truth = [all(key in row for key in _TRUE_SETS) for row in data["agents"]]
    if any(has_truth) and not all(has_truth):
        raise InputFileError(path, "the true ACRs (true_value_acr, ...) are given for some agents only")
    if "agents_matching_truth" in data:
        count = data["agents_matching_truth"]
        if not all(has_truth) or not data["agents"]:
            raise InputFileError(path, "'agents_matching_truth' is given without the true ACRs of every agent")
        if not _int(count) or count > len(data["agents"]):
            raise InputFileError(path, f"'agents_matching_truth' must be an integer in 0..{len(data['agents'])}, "
                                       f"got {count!r}")
    return data
