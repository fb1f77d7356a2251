"""The project's own exception hierarchy.

Every error that causalnet raises on purpose (bad input, an unreadable or invalid
file, an impossible request) is a :class:`CausalnetError`. The concrete classes
also inherit :class:`ValueError`, because callers written before this module
existed catch ``ValueError``; new code can catch ``CausalnetError`` alone.

Examples
--------
>>> from causalnet.errors import CausalnetError, InputFileError
>>> err = InputFileError("data.npz", "not a .npz archive")
>>> isinstance(err, CausalnetError), isinstance(err, ValueError)
(True, True)
>>> str(err)
'data.npz: not a .npz archive'
"""

from __future__ import annotations

import os
import zipfile
from contextlib import contextmanager
from typing import Iterator

__all__ = ["CausalnetError", "InputFileError", "reading_file"]


class CausalnetError(Exception):
    """Base class of every error causalnet raises on purpose."""


class InputFileError(CausalnetError, ValueError):
    """A file the project reads is missing, unreadable or invalid.

    Parameters
    ----------
    path : path of the file
    problem : what is wrong with it (one sentence)

    Attributes
    ----------
    path : str
    problem : str
    """

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        self.path = str(path)
        self.problem = str(problem)
        super().__init__(f"{self.path}: {self.problem}")


#: Exceptions that mean "the content of the file is not what the reader expects".
_CONTENT_ERRORS = (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError, UnicodeError,
                   EOFError, OSError, zipfile.BadZipFile, RecursionError)


@contextmanager
def reading_file(path: str | os.PathLike, error: type[Exception] = InputFileError) -> Iterator[None]:
    """Inside the block, turn any unexpected exception into ``error`` naming ``path``.

    A reader validates what it knows; whatever slips through (a list where a number was
    expected deep inside a file, ...) still ends as the project's error with the file's
    name, never as a bare ``TypeError``. Project errors pass unchanged.

    Examples
    --------
    >>> with reading_file("bundle/policy.json"):
    ...     int([1])
    Traceback (most recent call last):
    ...
    causalnet.errors.InputFileError: bundle/policy.json: invalid content (TypeError: int() argument must be ...
    """
    try:
        yield
    except CausalnetError:
        raise
    except _CONTENT_ERRORS as exc:
        problem = f"invalid content ({type(exc).__name__}: {exc})"
        if error is InputFileError:
            raise InputFileError(path, problem) from exc
        raise error(f"{path}: {problem}") from exc
