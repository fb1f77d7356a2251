"""The sweep file of ``causalnet sweep``: a base configuration and axes, validated before anything runs.

A sweep file is TOML with three top-level keys, all optional but ``axes``::

    quick = true                  # start from the --quick budgets of `causalnet run`
    [base]                        # any key of `causalnet run --config` (docs/pipeline.md)
    train.runs = 3
    [axes]                        # key = list of values; one cell per combination
    "env.grid" = [2, 3, 4]
    "domains.target" = [0.6, 0.65, 0.7]
    seed = [0, 1, 2, 3, 4]

Axis keys are configuration keys, written quoted (``"env.grid"``) or as TOML dotted
keys (``env.grid``). Cells are the product of the axes in file order (the last axis
varies fastest). Every cell's configuration is built and checked when the file is
read, so an unknown key, an empty axis or a value of the wrong type is reported, with
its key, before any cell runs.
"""

from __future__ import annotations

import itertools
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from causalnet.errors import CausalnetError
from causalnet_cli.pipeline.config import ConfigError, RunConfig, config_from_dict, quick_config

__all__ = ["REPLICATE_AXIS", "SweepCell", "SweepError", "SweepSpec", "load_sweep", "sweep_from_dict"]

#: The axis whose values are replicates (aggregated into means and confidence intervals).
REPLICATE_AXIS = "seed"
SWEEP_KEYS = ("quick", "base", "axes")
MAX_CELLS = 100_000


class SweepError(CausalnetError, ValueError):
    """A sweep file or sweep folder that cannot be used (the message names the key or the folder)."""


@dataclass(frozen=True)
class SweepCell:
    """One combination of axis values: one ``causalnet run``.

    Attributes
    ----------
    index : int
        Position in the sweep (product order).
    name : str
        Folder name under ``cells/``, e.g. ``004_grid-3_target-0.65_seed-1``.
    values : dict
        Axis key -> value of this cell.
    config : RunConfig
        The cell's full configuration.
    """

    index: int
    name: str
    values: dict[str, Any]
    config: RunConfig


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep: base configuration, axes and the cells they make.

    Attributes
    ----------
    quick : bool
        Whether the base starts from the ``--quick`` budgets.
    base : dict
        The ``[base]`` table as given.
    axes : tuple of (str, tuple)
        Axis key and its values, in file order.
    cells : tuple of SweepCell
    """

    quick: bool
    base: dict[str, Any]
    axes: tuple[tuple[str, tuple[Any, ...]], ...]
    cells: tuple[SweepCell, ...]

    @property
    def axis_names(self) -> list[str]:
        """The axis keys in file order."""
        return [key for key, _ in self.axes]

    def to_dict(self) -> dict[str, Any]:
        """Plain data (the form written to ``sweep.json`` and compared on ``--resume``)."""
        return json.loads(json.dumps({"quick": self.quick, "base": self.base,
                                      "axes": {key: list(values) for key, values in self.axes}}))


def _flatten_axes(table: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``{"env": {"grid": [..]}, "seed": [..]}`` -> ``[("env.grid", [..]), ("seed", [..])]``."""
    out = []
    for key, value in table.items():
        if isinstance(value, Mapping):
            out += _flatten_axes(value, f"{prefix}{key}.")
        else:
            out.append((prefix + key, value))
    return out


def _nested(key: str, value: Any) -> dict[str, Any]:
    parts = key.split(".")
    out: dict[str, Any] = {parts[-1]: value}
    for part in reversed(parts[:-1]):
        out = {part: out}
    return out


def _merge(a: dict[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for key, value in b.items():
        out[key] = _merge(out[key], value) if isinstance(value, Mapping) and isinstance(out.get(key), dict) else value
    return out


def _short(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "+".join(_short(v) for v in value)
    if isinstance(value, Mapping):
        return "+".join(f"{k}{_short(v)}" for k, v in value.items())
    return re.sub(r"[^A-Za-z0-9.+-]", "", str(value)) or "x"


def _cell_name(index: int, width: int, values: Mapping[str, Any]) -> str:
    parts = [f"{key.rsplit('.', 1)[-1]}-{_short(value)}" for key, value in values.items()]
    return "_".join([f"{index:0{width}d}", *parts])


def sweep_from_dict(data: Mapping[str, Any], *, quick: bool = False, where: str = "sweep file") -> SweepSpec:
    """Validate a parsed sweep file and build its cells.

    Parameters
    ----------
    data : mapping
        The parsed TOML (top-level keys ``quick``, ``base``, ``axes``).
    quick : bool
        Start from the ``--quick`` budgets even if the file does not say so.
    where : str
        Name of the source in error messages.

    Raises
    ------
    SweepError
        One line naming the bad key or value.

    Examples
    --------
    >>> spec = sweep_from_dict({"base": {"train": {"runs": 2}},
    ...                         "axes": {"env": {"grid": [2, 3]}, "seed": [0, 1]}})
    >>> [c.name for c in spec.cells]
    ['000_grid-2_seed-0', '001_grid-2_seed-1', '002_grid-3_seed-0', '003_grid-3_seed-1']
    >>> spec.cells[3].config.env.grid, spec.cells[3].config.seed, spec.cells[3].config.train.runs
    (3, 1, 2)
    >>> sweep_from_dict({"axes": {"env.grid": []}})
    Traceback (most recent call last):
    ...
    causalnet_cli.sweeps.spec.SweepError: sweep file: axes.env.grid is empty; give at least one value
    """
    if not isinstance(data, Mapping):
        raise SweepError(f"{where}: expected a table with keys {', '.join(SWEEP_KEYS)}")
    unknown = sorted(set(data) - set(SWEEP_KEYS))
    if unknown:
        raise SweepError(f"{where}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                         f"known keys: {', '.join(SWEEP_KEYS)}")
    file_quick = data.get("quick", False)
    if not isinstance(file_quick, bool):
        raise SweepError(f"{where}: quick: expected true or false, got {file_quick!r}")
    use_quick = bool(quick or file_quick)
    base_table = data.get("base", {})
    if not isinstance(base_table, Mapping):
        raise SweepError(f"{where}: base: expected a table of configuration keys, got {base_table!r}")
    try:
        base = config_from_dict(quick_config()) if use_quick else RunConfig()
        base = config_from_dict(base_table, base)
    except ConfigError as exc:
        raise SweepError(f"{where}: base: {exc}") from None

    axes_table = data.get("axes")
    if not isinstance(axes_table, Mapping) or not axes_table:
        raise SweepError(f"{where}: axes: expected a table of key = [values], e.g. \"env.grid\" = [2, 3, 4]; "
                         f"got {axes_table!r}")
    axes: list[tuple[str, tuple[Any, ...]]] = []
    for key, values in _flatten_axes(axes_table):
        if not isinstance(values, list):
            raise SweepError(f"{where}: axes.{key}: expected a list of values, got {values!r}")
        if not values:
            raise SweepError(f"{where}: axes.{key} is empty; give at least one value")
        if key in (k for k, _ in axes):
            raise SweepError(f"{where}: axes.{key} is given twice")
        seen = set()
        for value in values:
            text = json.dumps(value, sort_keys=True)
            if text in seen:
                raise SweepError(f"{where}: axes.{key}: the value {value!r} repeats")
            seen.add(text)
            try:
                config_from_dict(_nested(key, value), base)
            except ConfigError as exc:
                raise SweepError(f"{where}: axes: {exc}") from None
        axes.append((key, tuple(values)))

    n_cells = 1
    for _, values in axes:
        n_cells *= len(values)
    if n_cells > MAX_CELLS:
        raise SweepError(f"{where}: the axes make {n_cells} cells; at most {MAX_CELLS} are allowed")
    width = max(3, len(str(n_cells - 1)))
    cells = []
    for index, combo in enumerate(itertools.product(*(values for _, values in axes))):
        values = dict(zip((k for k, _ in axes), combo))
        update: dict[str, Any] = {}
        for key, value in values.items():
            update = _merge(update, _nested(key, value))
        try:
            config = config_from_dict(update, base)
        except ConfigError as exc:
            shown = ", ".join(f"{k}={v!r}" for k, v in values.items())
            raise SweepError(f"{where}: the cell {shown}: {exc}") from None
        cells.append(SweepCell(index, _cell_name(index, width, values), values, config))
    return SweepSpec(use_quick, json.loads(json.dumps(dict(base_table))), tuple(axes), tuple(cells))


def load_sweep(path: str | Path, *, quick: bool = False) -> SweepSpec:
    """Read and validate the sweep file at ``path`` (see :func:`sweep_from_dict`)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise SweepError(f"cannot read the sweep file {p}: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SweepError(f"{p} is not valid TOML: {exc}") from None
    return sweep_from_dict(data, quick=quick, where=str(p))
