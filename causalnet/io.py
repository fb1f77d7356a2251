"""File input and output: atomic writes (a crash never leaves a half-written file) and validated reads."""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, IO

__all__ = ["atomic_write", "atomic_write_json", "atomic_write_text", "file_sha256", "json_ready", "read_json_object",
           "read_npz_arrays"]


def atomic_write(path: str | os.PathLike, writer: Callable[[IO[bytes]], Any]) -> Path:
    """Call ``writer(fh)`` on a temporary file beside ``path``, then rename it over ``path``.

    The rename is atomic on POSIX file systems, so readers see the old file or the
    new one, never a partial one. The temporary file is removed on any failure.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            writer(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_current_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Atomically write ``text`` (UTF-8) to ``path``."""
    return atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))


def atomic_write_json(path: str | os.PathLike, obj: Any, *, indent: int = 2) -> Path:
    """Atomically write ``obj`` as JSON (keys kept in insertion order)."""
    return atomic_write_text(path, json.dumps(obj, indent=indent) + "\n")


def json_ready(obj: Any) -> Any:
    """Plain JSON types: numpy arrays and scalars become Python ones, non-finite floats ``None``.

    >>> import numpy as np
    >>> json_ready({"a": np.array([1.0, np.nan]), "b": (np.int64(2), float("inf"))})
    {'a': [1.0, None], 'b': [2, None]}
    """
    if isinstance(obj, dict):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v) for v in obj]
    if hasattr(obj, "tolist") and hasattr(obj, "dtype"):  # numpy arrays and scalars
        return json_ready(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_json_object(path: str | os.PathLike, *, error: type[Exception], what: str) -> dict[str, Any]:
    """Read a JSON file that must hold an object; raise ``error`` saying what is wrong.

    ``what`` names the file's role in the message (``"missing graph file: ..."``).
    """
    path = Path(path)
    if not path.exists():
        raise error(f"missing {what} file: {path}")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise error(f"{path} must hold a JSON object, got {type(data).__name__}")
    return data


#: First bytes of a zip archive (a non-empty one, or an empty one).
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


def read_npz_arrays(path: str | os.PathLike, *, error: type[Exception],
                    required: tuple[str, ...] | list[str] = ()) -> dict[str, "np.ndarray"]:
    """Load every array of an ``.npz`` file (no pickles) and check ``required`` names are present."""
    import numpy as np

    path = Path(path)
    if not path.is_file():
        raise error(f"missing .npz file: {path}")
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise error(f"{path} cannot be read: {exc.strerror or exc}") from exc
    if magic not in _ZIP_MAGIC:
        raise error(f"{path} is not a .npz archive (a zip file written by numpy.savez); its first bytes are "
                    f"{magic!r}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except Exception as exc:  # zipfile, OSError, ValueError: all mean unreadable
        reason = ("an array holds Python objects (pickles are never loaded)" if "pickle" in str(exc)
                  else f"{type(exc).__name__}: {exc}")
        raise error(f"{path} is not a readable .npz archive: {reason}") from exc
    missing = [k for k in required if k not in arrays]
    if missing:
        raise error(f"{path} is missing array(s): {missing}")
    return arrays
