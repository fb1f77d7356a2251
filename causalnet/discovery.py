"""Local constraint-based discovery of factored transition graphs (GSAC phase 1).

For every next-state coordinate ``x(t+1)`` and every reward ``r_i(t)`` of agent
``i``, :class:`LocalDiscovery` selects the parents at time t among the state
coordinates and actions of the agents in ``N_i`` (the ``k``-hop neighbourhood)
and, when the data holds two or more domains, the domain index ``C`` (CD-NOD:
``C -> x(t+1)`` survives exactly when that mechanism depends on the domain).
Selection is PC-style elimination with growing conditioning sets drawn from the
target's remaining candidates (:func:`~causalnet.discovery_core.eliminate_candidates`).
Time orients every edge, so the result is a :class:`~causalnet.graph.FactoredGraph`.

The work per target depends on the neighbourhood size only, so the total cost is
linear in the number of agents; agents are independent and can be spread over
processes (``n_jobs``) or any :mod:`causalnet.backends` backend (``executor``: a
local process pool or Ray) with identical results.

See ``docs/discovery.md`` for the method, options and measured numbers; the
global baselines (causal-learn's PC with tiers and CD-NOD) are in
:mod:`causalnet.discovery_global`.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from typing import Any, Literal, Sequence

import numpy as np

from causalnet.backends import Backend as ExecutionBackend
from causalnet.backends import LocalBackend, SerialBackend
from causalnet.citests import CITestFactory
from causalnet.data import Transitions
from causalnet.discovery_core import EliminationResult, EncodedData
from causalnet.discovery_worker import ChunkTask, Job, Settings, run_chunk_task
from causalnet.errors import CausalnetError
from causalnet.graph import FactoredGraph

__all__ = ["DiscoveryError", "LocalDiscovery", "check_discovery_params", "hops_warning", "parents_beyond_hops"]

logger = logging.getLogger(__name__)

CITestOption = Literal["auto", "gsq", "chisq", "fisherz", "regression", "additive", "kci", "fastkci", "rcit"]
Backend = Literal["fast", "causal-learn"]
_TEST_NAMES = ("auto", "gsq", "chisq", "fisherz", "regression", "additive", "kci", "fastkci", "rcit")
_RAW_TESTS = ("fisherz", "regression", "additive", "kci", "fastkci", "rcit")
#: test chosen by ``ci_test="auto"`` for a block with a continuous column
AUTO_CONTINUOUS_TEST = "additive"
_MIN_AGENTS_FOR_PROCESSES = 8


class DiscoveryError(CausalnetError, ValueError):
    """Raised when discovery cannot run on the given data (e.g. no rows)."""


def check_discovery_params(*, alpha: Any, ci_test: Any, max_cond_size: Any,
                           n_jobs: Any = 1, backend: Any = "fast",
                           neighborhood_hops: Any = 1, min_samples_per_cell: Any = 10) -> None:
    """Validate discovery hyper-parameters; raise ``ValueError`` naming the bad one."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise ValueError(f"alpha must be a float in (0, 1), got {alpha!r}")
    if not callable(ci_test) and ci_test not in _TEST_NAMES:
        raise ValueError(f"ci_test must be one of {list(_TEST_NAMES)} or a test factory "
                         f"callable(data, columns) -> test, got {ci_test!r}")
    for name, value in (("max_cond_size", max_cond_size), ("neighborhood_hops", neighborhood_hops)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))
                                  or value < 0):
            raise ValueError(f"{name} must be a non-negative integer or None, got {value!r}")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"n_jobs must be a positive integer or -1 (all cores), got {n_jobs!r}")
    if backend not in ("fast", "causal-learn"):
        raise ValueError(f"backend must be 'fast' or 'causal-learn', got {backend!r}")
    if isinstance(min_samples_per_cell, bool) or not isinstance(min_samples_per_cell, (int, float)) \
            or min_samples_per_cell < 0:
        raise ValueError(f"min_samples_per_cell must be a number >= 0, got {min_samples_per_cell!r}")


class LocalDiscovery:
    """Learn the factored transition graph by local, constraint-based parent selection.

    Parameters
    ----------
    alpha : float
        Significance level of every CI test (a candidate is removed when a test
        gives ``p > alpha``).
    ci_test : {"gsq", "auto", "chisq", "fisherz", "regression", "additive", "kci", "fastkci", "rcit"} or callable
        The conditional-independence test. ``gsq``/``chisq`` apply to targets whose
        block (target and candidates) is all discrete; a block with a continuous
        column falls back to ``fisherz`` (recorded in ``ci_tests_``; a
        ``UserWarning`` when continuous *state* columns are involved, because
        fisherz uses the domain label as a number). ``auto`` picks ``gsq`` for an
        all-discrete block and ``additive`` otherwise. ``regression`` / ``additive``
        are :class:`causalnet.citests_regression.RegressionTest` with a linear /
        spline basis (domain and actions indicator-coded; mean, slope and
        variance shifts detected). ``fisherz``, ``kci``, ``fastkci`` and ``rcit``
        use the original values (the last three through causal-learn; see
        ``docs/discovery.md`` for their cost). A callable is a test factory
        ``factory(data, columns) -> test`` with ``test(x, y, S) -> p``, called once
        per target on the block ``[target, candidates...]`` (columns are node keys
        ``(name, 1)`` for the target, ``(name, 0)`` for time t); see
        :class:`causalnet.citests.DSeparationOracle`.
    max_cond_size : int or None
        Cap on the conditioning-set size (None: no cap). Levels grow while some
        candidate still has at least ``level`` other adjacent candidates (PC's
        stopping rule, read from the data), up to this cap. The default 4 separates
        non-parents that need up to four variables to be blocked: a traffic queue has
        up to seven parents and depth 2 leaves false edges there (F1 0.70 on a 3 x 3
        grid, 1.00 with 4 on 2 x 2; see ``docs/discovery.md``).
    neighborhood_hops : int or None
        Candidates of agent ``i``'s targets are the state coordinates and actions of
        ``spec.neighborhood(i, neighborhood_hops)``; None means all agents.
    include_domain : bool
        Add the domain index as a candidate when the data holds >= 2 domains.
    backend : {"fast", "causal-learn"}
        ``fast`` uses this package's kernels (same p-values as causal-learn,
        without per-call overhead); ``causal-learn`` builds one
        ``causallearn.utils.cit.CIT`` per target. ``kci`` always uses causal-learn.
    n_jobs : int
        Worker processes over groups of agents (-1: all cores). Results do not
        depend on it. Processes are used only with at least 8 agents. Ignored
        when ``executor`` is given.
    executor : Backend or None
        A :mod:`causalnet.backends` backend (serial, local process pool, Ray) that
        runs groups of agents; the encoded data is sent once (shared memory or
        the Ray object store). Results do not depend on it. It is a run-time
        resource, not a hyper-parameter: :meth:`get_params` leaves it out and the
        caller closes it.
    min_samples_per_cell : float
        A discrete test with fewer than ``min_samples_per_cell`` rows per cell of
        its full contingency table (a Fisher-z test with fewer than this many
        degrees of freedom) counts as underpowered; a ``UserWarning`` reports how
        many there were.
    progress : bool
        Show a tqdm bar over the targets while the tests run (default off).

    Attributes
    ----------
    graph_ : FactoredGraph
        The learned graph.
    pvalues_ : dict of str to dict of str to float
        For each target and candidate: the p-value that removed the candidate, or
        the largest p-value seen if it survived (1.0 for a constant column).
    sepsets_ : dict of str to dict of str to tuple of str
        For each target and removed candidate, the conditioning set that removed it.
    candidates_ : dict of str to list of str
        The candidates considered for each target (before dropping constant ones).
    ci_tests_ : dict of str to str
        The test used for each target.
    n_tests_, n_underpowered_tests_ : int
        Number of CI tests run, and of those flagged as underpowered.
    constant_columns_ : list of str
        Columns holding a single value (``s0_1[t]``, ``s0_1[t+1]``, ``a3``, ``r2``,
        ``domain``): constant targets get no parents, constant candidates are dropped.
    warnings_ : list of str
        Every warning issued during ``fit``.
    n_samples_, n_domains_ : int
    fit_seconds_ : float

    Examples
    --------
    >>> from causalnet.spec import default_spec
    >>> rng = np.random.default_rng(0)
    >>> spec = default_spec(2, [(0, 1)], 1, 2, 2)
    >>> s = rng.integers(0, 2, (4000, 2)); a = rng.integers(0, 2, (4000, 2))
    >>> nxt = np.column_stack([s[:, 0] | a[:, 1], s[:, 1]]) ^ (rng.random((4000, 2)) < 0.1)
    >>> tr = Transitions(spec, s, a, np.zeros((4000, 2)), nxt, np.zeros(4000, int),
    ...                  np.arange(4000), np.zeros(4000, int))
    >>> LocalDiscovery().fit(tr).graph_.parents["s0_0"] == {"s0_0", "a1"}
    True
    """

    def __init__(self, *, alpha: float = 0.001, ci_test: CITestOption | CITestFactory = "gsq",
                 max_cond_size: int | None = 4, neighborhood_hops: int | None = 1,
                 include_domain: bool = True, backend: Backend = "fast", n_jobs: int = 1,
                 min_samples_per_cell: float = 10, progress: bool = False,
                 executor: ExecutionBackend | None = None) -> None:
        self.alpha = alpha
        self.ci_test = ci_test
        self.max_cond_size = max_cond_size
        self.neighborhood_hops = neighborhood_hops
        self.include_domain = include_domain
        self.backend = backend
        self.n_jobs = n_jobs
        self.min_samples_per_cell = min_samples_per_cell
        self.progress = progress
        self.executor = executor

    def get_params(self) -> dict[str, Any]:
        """Hyper-parameters as a dict (scikit-learn convention; ``executor`` is not one)."""
        return {k: getattr(self, k) for k in ("alpha", "ci_test", "max_cond_size", "neighborhood_hops",
                                              "include_domain", "backend", "n_jobs", "min_samples_per_cell",
                                              "progress")}

    # ------------------------------------------------------------------ fit
    def fit(self, transitions: Transitions) -> "LocalDiscovery":
        """Learn the parents of every next-state coordinate and reward.

        Parameters
        ----------
        transitions : Transitions
            Data from one or more domains.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            For a bad hyper-parameter (the message names it).
        DiscoveryError
            If ``transitions`` has no rows.
        """
        check_discovery_params(alpha=self.alpha, ci_test=self.ci_test, max_cond_size=self.max_cond_size,
                               n_jobs=self.n_jobs, backend=self.backend,
                               neighborhood_hops=self.neighborhood_hops,
                               min_samples_per_cell=self.min_samples_per_cell)
        if self.executor is not None and not isinstance(self.executor, ExecutionBackend):
            raise TypeError(f"executor must be a causalnet.backends.Backend (make_backend(...)) or None, "
                            f"got {type(self.executor).__name__}")
        require_transitions(transitions)
        start = time.perf_counter()
        spec = transitions.spec
        enc = EncodedData.from_transitions(transitions)
        self.warnings_: list[str] = []
        self.n_samples_ = len(transitions)
        self.n_domains_ = int(np.unique(transitions.domain).size)
        use_domain = bool(self.include_domain) and self.n_domains_ >= 2
        dom_col = enc.index[(spec.domain_name, 0)]

        # targets and candidates, grouped by agent
        per_agent: list[list[tuple[int, list[int]]]] = []
        hops = self.neighborhood_hops
        for i in range(spec.n_agents):
            agents = range(spec.n_agents) if hops is None else spec.neighborhood(i, int(hops))
            cands = [enc.index[(spec.state_names[j], 0)] for a in agents for j in spec.agent_state_indices(a)]
            cands += [enc.index[(spec.action_names[a], 0)] for a in agents]
            if use_domain:
                cands.append(dom_col)
            cands = sorted(cands)
            targets = [enc.index[(spec.state_names[j], 1)] for j in spec.agent_state_indices(i)]
            targets.append(enc.index[(spec.reward_names[i], 1)])
            per_agent.append([(t, cands) for t in targets])

        used = sorted({c for jobs in per_agent for t, cands in jobs for c in (t, *cands)})
        self.constant_columns_ = [enc.name(j) for j in used if enc.constant[j]]
        if self.constant_columns_:
            shown = ", ".join(self.constant_columns_[:10])
            more = len(self.constant_columns_) - 10
            msg = (f"{len(self.constant_columns_)} constant column(s): {shown}"
                   + (f" and {more} more" if more > 0 else "")
                   + "; constant targets get no parents and constant candidates are dropped")
            logger.warning(msg)
            self.warnings_.append(msg)

        settings = Settings(float(self.alpha), None if self.max_cond_size is None else int(self.max_cond_size),
                             self.backend, self.ci_test if callable(self.ci_test) else None,
                             float(self.min_samples_per_cell), spec.domain_name)
        executor = self.executor
        if executor is None:
            workers = self._n_workers(spec.n_agents)
            executor = LocalBackend(workers) if workers > 1 else SerialBackend()
        chunks, chunk_targets, shared = self._make_chunks(enc, per_agent, executor.workers, settings)
        results = self._run(chunks, shared, executor, progress=bool(self.progress))
        self._collect(enc, chunks, chunk_targets, results)
        self.fit_seconds_ = time.perf_counter() - start
        return self

    # ------------------------------------------------------------- helpers
    def _resolve_test(self, enc: EncodedData, block: Sequence[int]) -> str:
        if callable(self.ci_test):
            return "factory"
        discrete = all(enc.discrete[j] for j in block)
        if self.ci_test == "auto":
            return "gsq" if discrete else AUTO_CONTINUOUS_TEST
        if self.ci_test in ("gsq", "chisq") and not discrete:
            return "fisherz"
        return str(self.ci_test)

    def _n_workers(self, n_agents: int) -> int:
        jobs = (os.cpu_count() or 1) if self.n_jobs == -1 else int(self.n_jobs)
        return 1 if n_agents < _MIN_AGENTS_FOR_PROCESSES else max(1, jobs)

    def _make_chunks(self, enc: EncodedData, per_agent: list[list[tuple[int, list[int]]]], workers: int,
                     settings: Settings):
        """Groups of agents as backend tasks, and the arrays they share (codes; raw values if needed)."""
        n_agents = len(per_agent)
        n_chunks = 1 if workers == 1 else min(n_agents, 4 * workers)
        bounds = np.linspace(0, n_agents, n_chunks + 1).astype(int)
        chunks, chunk_targets, raw_needed = [], [], []
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            jobs_global = [(t, [c for c in cands if not enc.constant[c]], cands)
                           for agent_jobs in per_agent[lo:hi] for t, cands in agent_jobs]
            cols = sorted({c for t, cands, _ in jobs_global for c in (t, *cands)})
            local = {c: k for k, c in enumerate(cols)}
            jobs = []
            need_raw = False
            for t, cands, _ in jobs_global:
                name = self._resolve_test(enc, [t, *cands])
                need_raw |= name in _RAW_TESTS or (name == "factory" and not enc.discrete[[t, *cands]].all())
                cand_local = [] if enc.constant[t] else [local[c] for c in cands]
                jobs.append(Job(local[t], cand_local, name))
            raw_needed.append(need_raw)
            chunks.append(ChunkTask(np.asarray(cols, dtype=np.int64), None, enc.cards[cols],
                                    [enc.keys[c] for c in cols], jobs, settings))
            chunk_targets.append((cols, jobs_global))
        shared = {"codes": enc.codes}
        raw_cols = sorted({c for chunk, need in zip(chunks, raw_needed) if need for c in chunk.cols.tolist()})
        if raw_cols:
            position = {c: k for k, c in enumerate(raw_cols)}
            shared["raw"] = np.column_stack([enc.raw(c) for c in raw_cols])
            for chunk, need in zip(chunks, raw_needed):
                if need:
                    chunk.raw_cols = np.asarray([position[c] for c in chunk.cols.tolist()], dtype=np.int64)
        return chunks, chunk_targets, shared

    @staticmethod
    def _run(chunks: list[ChunkTask], shared: dict[str, np.ndarray], executor: ExecutionBackend, *,
             progress: bool = False) -> list[list[EliminationResult]]:
        bar = None
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=sum(len(c.jobs) for c in chunks), desc="discovery", unit="target")
        try:
            def advance(index: int, result: list[EliminationResult]) -> None:
                if bar is not None:
                    bar.update(len(chunks[index].jobs))

            return executor.map(run_chunk_task, chunks, shared=shared, on_result=advance)
        finally:
            if bar is not None:
                bar.close()

    def _collect(self, enc: EncodedData, chunks, chunk_targets, results) -> None:
        spec = enc.transitions.spec
        label = lambda j: enc.keys[j][0]  # spec names: state (t / t+1 by role), action, reward, domain
        parents: dict[str, list[str]] = {}
        self.pvalues_: dict[str, dict[str, float]] = {}
        self.sepsets_: dict[str, dict[str, tuple[str, ...]]] = {}
        self.candidates_: dict[str, list[str]] = {}
        self.ci_tests_: dict[str, str] = {}
        self.n_tests_ = 0
        self.n_underpowered_tests_ = 0
        for chunk, (cols, jobs_global), res_list in zip(chunks, chunk_targets, results):
            for job, (t, _, all_cands), res in zip(chunk.jobs, jobs_global, res_list):
                target = label(t)
                pv = {label(c): 1.0 for c in all_cands}   # constant / untested columns
                pv.update({label(cols[j]): p for j, p in res.pvalues.items()})
                self.pvalues_[target] = pv
                self.sepsets_[target] = {label(cols[j]): tuple(label(cols[c]) for c in s)
                                         for j, s in res.sepsets.items()}
                self.candidates_[target] = [label(c) for c in all_cands]
                self.ci_tests_[target] = job.test_name
                parents[target] = [label(cols[j]) for j in res.parents]
                self.n_tests_ += res.n_tests
                self.n_underpowered_tests_ += res.n_underpowered
        self.graph_ = FactoredGraph(spec, parents)
        if self.n_underpowered_tests_:
            msg = (f"{self.n_underpowered_tests_} of {self.n_tests_} CI tests had fewer than "
                   f"{self.min_samples_per_cell:g} samples per contingency-table cell (or degree of "
                   f"freedom); their results are unreliable: collect more data or lower max_cond_size")
            warnings.warn(msg, UserWarning, stacklevel=3)
            self.warnings_.append(msg)
        fallback = sorted(t for t, name in self.ci_tests_.items() if name == "fisherz" and self.ci_test != "fisherz")
        if fallback:
            msg = (f"{len(fallback)} target(s) have continuous columns in their block and were tested "
                   f"with fisherz instead of {self.ci_test}: {fallback[:10]}")
            states = [t for t in fallback if spec.kind(t) == "state"]
            if states:
                # a discrete test asked of continuous state data: documented warning
                msg += ("; ci_test={!r} is a discrete test, and fisherz uses the domain label as a number "
                        "(it misses non-monotone mean shifts and variance-only shifts): use ci_test='auto' "
                        "or 'additive' for continuous states").format(self.ci_test)
                warnings.warn(msg, UserWarning, stacklevel=3)
                self.warnings_.append(msg)
            else:
                logger.info(msg)


def require_transitions(transitions: Transitions) -> None:
    """Raise TypeError unless ``transitions`` is a Transitions, DiscoveryError if it has no rows."""
    if not isinstance(transitions, Transitions):
        raise TypeError(f"transitions must be a causalnet.Transitions, got {type(transitions).__name__}")
    if len(transitions) == 0:
        raise DiscoveryError("transitions has no rows; discovery needs data")


def parents_beyond_hops(graph: FactoredGraph, hops: int | None) -> list[tuple[str, str]]:
    """Edges ``(parent, target)`` of ``graph`` whose parent lies outside the target owner's ``hops``-hop neighbourhood.

    :class:`LocalDiscovery` with ``neighborhood_hops=hops`` never tests those parents,
    so it cannot find these edges. The domain variable is never outside.

    Examples
    --------
    >>> from causalnet.spec import default_spec
    >>> spec = default_spec(3, [(0, 1), (1, 2)], 1, 2, 2)     # a line 0 - 1 - 2
    >>> g = FactoredGraph(spec, {"s0_0": ["s0_0", "s2_0"]})
    >>> parents_beyond_hops(g, 1)
    [('s2_0', 's0_0')]
    >>> parents_beyond_hops(g, 2), parents_beyond_hops(g, None)
    ([], [])
    """
    if hops is None:
        return []
    spec = graph.spec
    out = []
    for target in graph.targets:
        owner = spec.owner(target)
        near = set(spec.neighborhood(owner, int(hops)))
        for parent in sorted(graph.parents.get(target, ())):
            p_owner = spec.owner(parent)
            if p_owner is not None and p_owner not in near:
                out.append((parent, target))
    return out


def hops_warning(truth: FactoredGraph, hops: int | None) -> str | None:
    """A warning naming the true parents a ``hops``-hop search cannot find, or None when there are none."""
    missed = parents_beyond_hops(truth, hops)
    if not missed:
        return None
    shown = ", ".join(f"{p} -> {t}" for p, t in missed[:5])
    if len(missed) > 5:
        shown += f" and {len(missed) - 5} more"
    return (f"{len(missed)} true parent edge(s) lie farther than {hops} hop(s) from their target's agent and are "
            f"never tested with neighborhood_hops={hops} ({shown}); increase the hops (--hops {int(hops) + 1}) "
            "or search all agents (--hops none)")
