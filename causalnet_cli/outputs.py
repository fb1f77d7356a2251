"""Shared command-line helpers: output-path checks made before any work, and one-line error messages.

Every command that writes a folder follows one overwrite policy (``docs/cli.md``):

* a missing or empty folder is used as is;
* a non-empty folder is refused, unless ``--force`` (its contents are replaced, only
  once the command has computed its results) or ``--resume`` (for commands that can
  continue an interrupted run);
* a path that cannot be a folder (it is a file, lies under a file, or its nearest
  existing parent is not writable) is refused at once, before any computation.

Commands call :func:`check_out_dir` (or :func:`check_out_file` for a single output
file) while validating their flags, and :func:`clear_out_dir` just before they write
their first file.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import TextIO

from causalnet.errors import CausalnetError

__all__ = ["OutputPathError", "add_force_argument", "check_out_dir", "check_out_file", "clear_out_dir",
           "error_line"]


class OutputPathError(CausalnetError, ValueError):
    """An output path cannot be used (a file in the way, a non-empty folder without --force, ...)."""


def add_force_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """Add ``--force``: replace the contents of a non-empty output folder."""
    parser.add_argument("--force", action="store_true",
                        help="replace the contents of a non-empty --out folder (default: refuse it)")


def _blocking_ancestor(path: Path) -> tuple[Path | None, Path]:
    """The first existing non-folder on the way to ``path`` (or None) and the nearest existing folder."""
    current = Path(os.path.abspath(path))
    chain = [current, *current.parents]
    for p in reversed(chain[1:]):          # from the root down to the parent of ``path``
        if p.exists() and not p.is_dir():
            return p, p.parent
    existing = next(p for p in chain[1:] if p.exists())
    return None, existing


def _check_creatable(path: Path, flag: str) -> None:
    blocker, existing = _blocking_ancestor(path)
    if blocker is not None:
        raise OutputPathError(f"{flag}: cannot create {path}: {blocker} is a file, not a folder")
    if not path.exists() and not os.access(existing, os.W_OK | os.X_OK):
        raise OutputPathError(f"{flag}: cannot create {path}: the folder {existing} is not writable")


def check_out_dir(path: str | os.PathLike, *, flag: str = "--out", force: bool = False,
                  resume: bool = False, resumable: bool = False) -> Path:
    """Check that ``path`` can be the output folder of a command; nothing is created.

    Parameters
    ----------
    path : the folder
    flag : name of the flag in messages
    force : the user gave ``--force`` (a non-empty folder will be replaced)
    resume : the user gave ``--resume`` (a non-empty folder is continued)
    resumable : the command has a ``--resume`` flag (named in the refusal message)

    Returns
    -------
    Path

    Raises
    ------
    OutputPathError
        If ``path`` is a file or lies under one, is not writable, or is a non-empty
        folder without ``force`` or ``resume``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> check_out_dir(d / "new") == d / "new"
    True
    >>> _ = (d / "file.txt").write_text("x")
    >>> check_out_dir(d / "file.txt" / "sub")
    Traceback (most recent call last):
    ...
    causalnet_cli.outputs.OutputPathError: --out: cannot create .../file.txt/sub: .../file.txt is a file, not a folder
    """
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise OutputPathError(f"{flag}: {out} exists and is a file, not a folder")
    if out.is_dir():
        if not os.access(out, os.W_OK | os.X_OK):
            raise OutputPathError(f"{flag}: the folder {out} is not writable")
        if any(out.iterdir()) and not (force or resume):
            how = "add --force to replace its contents" + (", --resume to continue it" if resumable else "")
            raise OutputPathError(f"{flag}: {out} is not empty; choose a new folder or {how}")
        return out
    _check_creatable(out, flag)
    return out


def check_out_file(path: str | os.PathLike, *, flag: str = "--out") -> Path:
    """Check that ``path`` can be written as a file (it is not a folder, no file is in the way).

    An existing file is replaced atomically by the command: a single result file is
    not a folder of results, so no ``--force`` is needed.
    """
    out = Path(path)
    if out.is_dir():
        raise OutputPathError(f"{flag}: {out} is a folder; give a file name")
    if not out.exists():
        _check_creatable(out, flag)
    elif not os.access(out.parent if str(out.parent) else Path("."), os.W_OK | os.X_OK):
        raise OutputPathError(f"{flag}: the folder of {out} is not writable")
    return out


def clear_out_dir(path: str | os.PathLike) -> Path:
    """Create ``path`` if needed and delete everything inside it (``--force``)."""
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    for child in out.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    return out


def error_line(command: str | None, message: object, *, stream: TextIO | None = None) -> None:
    """Print ``causalnet COMMAND: error: MESSAGE`` as exactly one line on stderr."""
    text = " ".join(str(message).split())            # one line, whatever the message holds
    prefix = "causalnet" if not command else f"causalnet {command}"
    print(f"{prefix}: error: {text}", file=sys.stderr if stream is None else stream, flush=True)
