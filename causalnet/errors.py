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

__all__ = ["CausalnetError", "InputFileError"]


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
