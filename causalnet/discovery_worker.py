"""Worker side of :class:`causalnet.discovery.LocalDiscovery`: one chunk of targets, their CI tests.

A chunk holds the encoded columns a group of agents needs and one job per target
(its column, its candidates, the name of its test). :func:`run_chunk` builds each
target's test over the block ``[target, candidates...]`` and runs the PC-style
elimination; it is the unit of work sent to a worker process.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from causalnet.backends import TaskContext
from causalnet.citests import CITestFactory, ContingencyTest, FisherZTest, causallearn_test
from causalnet.citests_regression import RegressionTest, single_threaded_blas
from causalnet.discovery_core import EliminationResult, NodeKey, eliminate_candidates

__all__ = ["Chunk", "ChunkTask", "Job", "REGRESSION_BASIS", "Settings", "run_chunk", "run_chunk_task"]

#: ``ci_test`` names of the regression tests and the basis of each
REGRESSION_BASIS = {"regression": "linear", "additive": "spline"}


@dataclass
class Job:
    """One target: its column and its candidate columns (indices into a chunk's arrays)."""

    target: int
    candidates: list[int]
    test_name: str          # resolved per target: a name of _TEST_NAMES (not auto) or "factory"


@dataclass
class Chunk:
    """The data a worker needs for a group of agents."""

    codes: np.ndarray               # (N, m) codes of the chunk's columns
    cards: np.ndarray               # (m,)
    raw: np.ndarray | None          # (N, m) float values, when some job needs them
    keys: list[NodeKey]
    jobs: list[Job]


@dataclass
class ChunkTask:
    """A chunk as sent to a :mod:`causalnet.backends` backend: column indices into shared arrays, not data."""

    cols: np.ndarray                # (m,) columns of the shared ``codes``
    raw_cols: np.ndarray | None     # (m,) columns of the shared ``raw``, when some job needs them
    cards: np.ndarray
    keys: list[NodeKey]
    jobs: list[Job]
    settings: "Settings"


@dataclass(frozen=True)
class Settings:
    alpha: float
    max_cond_size: int | None
    backend: str
    factory: CITestFactory | None
    min_samples_per_cell: float
    domain_name: str = "domain"


def _make_test(chunk: Chunk, job: Job, block: list[int], settings: Settings,
               previous: tuple | None = None):
    """The CI test for one target's block, and a function flagging underpowered tests.

    ``previous`` is ``(test_name, candidates, test)`` of the last target: a
    regression test over the same candidates is reused with a new response.
    """
    n = chunk.codes.shape[0]
    name = job.test_name
    if name == "factory":
        data = chunk.raw[:, block] if chunk.raw is not None else chunk.codes[:, block].astype(np.float64)
        return settings.factory(data, [chunk.keys[j] for j in block]), None
    if name in ("gsq", "chisq"):
        cards = chunk.cards[block]
        need = settings.min_samples_per_cell

        def underpowered(x: int, y: int, s: tuple[int, ...]) -> bool:
            return n < need * int(np.prod(cards[[x, y, *s]]))

        codes = chunk.codes[:, block].astype(np.int64)
        if settings.backend == "fast":
            return ContingencyTest(codes, cards, statistic=name), underpowered
        return causallearn_test(codes, name), underpowered
    raw = chunk.raw[:, block]
    if name in REGRESSION_BASIS:
        if previous is not None and previous[0] == name and previous[1] == job.candidates:
            test = previous[2].for_response(0, raw[:, 0])
        else:
            domain = [k for k, j in enumerate(block) if chunk.keys[j][0] == settings.domain_name]
            test = RegressionTest(raw, chunk.cards[block] > 0, basis=REGRESSION_BASIS[name],
                                  shift_columns=domain)
        need_rows = settings.min_samples_per_cell

        def underpowered_reg(x: int, y: int, s: tuple[int, ...]) -> bool:
            return n < need_rows * (test.n_regressors(x, s) + 1)

        return test, underpowered_reg
    if name == "fisherz":
        need = settings.min_samples_per_cell

        def underpowered_z(x: int, y: int, s: tuple[int, ...]) -> bool:
            return n - len(s) - 3 < need

        if settings.backend == "fast":
            return FisherZTest(raw), underpowered_z
        return causallearn_test(raw, "fisherz"), underpowered_z
    return causallearn_test(raw, name), None


def run_chunk(chunk: Chunk, settings: Settings) -> list[EliminationResult]:
    """Parent selection for every target of a chunk (the unit of work of a process)."""
    if any(job.test_name in REGRESSION_BASIS for job in chunk.jobs):
        with single_threaded_blas():
            return _run_jobs(chunk, settings)
    return _run_jobs(chunk, settings)


def _run_jobs(chunk: Chunk, settings: Settings) -> list[EliminationResult]:
    out = []
    previous = None
    for job in chunk.jobs:
        block = [job.target, *job.candidates]
        if not job.candidates:
            out.append(EliminationResult([], {}, {}, 0, 0))
            continue
        test, underpowered = _make_test(chunk, job, block, settings, previous)
        previous = (job.test_name, job.candidates, test) if isinstance(test, RegressionTest) else None
        res = eliminate_candidates(test, range(1, len(block)), alpha=settings.alpha,
                                   max_cond_size=settings.max_cond_size, target=0,
                                   underpowered=underpowered)
        # back to chunk-local columns
        local = lambda j: block[j]
        out.append(EliminationResult(
            parents=[local(j) for j in res.parents],
            pvalues={local(j): p for j, p in res.pvalues.items()},
            sepsets={local(j): tuple(local(c) for c in s) for j, s in res.sepsets.items()},
            n_tests=res.n_tests, n_underpowered=res.n_underpowered))
    return out


def run_chunk_task(task: ChunkTask, ctx: TaskContext) -> list[EliminationResult]:
    """Backend task: cut the chunk's columns out of the shared arrays, then :func:`run_chunk`."""
    raw = None if task.raw_cols is None else np.ascontiguousarray(ctx.shared["raw"][:, task.raw_cols])
    chunk = Chunk(np.asarray(ctx.shared["codes"][:, task.cols]), task.cards, raw, task.keys, task.jobs)
    return run_chunk(chunk, task.settings)
