"""Global discovery baselines: causal-learn's PC with tiers, and CD-NOD.

Both run over the whole variable set (all state coordinates and actions at t,
all next-state coordinates and rewards, and the domain index) and are the
cross-check and speed baseline for :class:`~causalnet.discovery.LocalDiscovery`.
The result is read back as a :class:`~causalnet.graph.FactoredGraph`: a time-t
variable (or the domain) ``u`` is a parent of target ``v`` when causal-learn's
graph has ``u -> v`` (``graph[u, v] == -1 and graph[v, u] == 1``) or an undirected
edge ``u - v``, which time orients. Edges among time-t variables, among targets
or pointing backwards in time are not part of a factored graph; their number is
reported in ``n_ignored_edges_``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
from typing import Any, Literal

import numpy as np

from causalnet.data import Transitions
from causalnet.discovery import check_discovery_params, require_transitions
from causalnet.discovery_core import EncodedData
from causalnet.graph import FactoredGraph

__all__ = ["GlobalDiscovery"]

logger = logging.getLogger(__name__)

GlobalMethod = Literal["pc", "cdnod"]


class GlobalDiscovery:
    """Discovery over all variables at once with causal-learn (PC with tiers, or CD-NOD).

    Parameters
    ----------
    method : {"pc", "cdnod"}
        ``pc``: causal-learn's PC (stable) with tiered background knowledge
        (domain tier 0, time t tier 1, targets tier 2), the domain index being an
        ordinary column. ``cdnod``: causal-learn's CD-NOD with the domain as its
        context index (same tiers); it orients every ``C - X`` edge as ``C -> X``.
    alpha : float
        Significance level.
    ci_test : {"gsq", "chisq", "fisherz", "kci"}
        causal-learn test name. ``gsq``/``chisq`` need all columns discrete
        (otherwise ``ValueError``).
    max_cond_size : int or None
        Largest conditioning set for ``pc`` (causal-learn's ``max_k``; None: no
        limit). CD-NOD has no such option and ignores it.

    Attributes
    ----------
    graph_ : FactoredGraph
    causal_graph_ : causallearn CausalGraph
        The raw result (its nodes follow ``columns_``).
    columns_ : list of str
        Column names: ``s0_0[t]``..., actions, targets ``s0_0[t+1]``..., rewards, then ``domain``.
    n_ignored_edges_ : int
        Edges of the raw graph that do not go from time t (or the domain) to a target.
    fit_seconds_ : float
    """

    def __init__(self, *, method: GlobalMethod = "pc", alpha: float = 0.001, ci_test: str = "gsq",
                 max_cond_size: int | None = 2) -> None:
        self.method = method
        self.alpha = alpha
        self.ci_test = ci_test
        self.max_cond_size = max_cond_size

    def get_params(self) -> dict[str, Any]:
        """Hyper-parameters as a dict."""
        return {"method": self.method, "alpha": self.alpha, "ci_test": self.ci_test,
                "max_cond_size": self.max_cond_size}

    def fit(self, transitions: Transitions) -> "GlobalDiscovery":
        """Run the global search on ``transitions``; returns ``self``."""
        if self.method not in ("pc", "cdnod"):
            raise ValueError(f"method must be 'pc' or 'cdnod', got {self.method!r}")
        if callable(self.ci_test):
            raise ValueError("ci_test must be a causal-learn test name for GlobalDiscovery, not a callable")
        check_discovery_params(alpha=self.alpha, ci_test=self.ci_test, max_cond_size=self.max_cond_size)
        if self.ci_test in ("regression", "additive"):
            raise ValueError(f"ci_test={self.ci_test!r} is available for LocalDiscovery only; GlobalDiscovery "
                             "takes causal-learn's tests (gsq, chisq, fisherz, kci, fastkci, rcit) or 'auto'")
        require_transitions(transitions)
        from causallearn.graph.GraphNode import GraphNode
        from causallearn.utils.PCUtils.BackgroundKnowledge import BackgroundKnowledge

        start = time.perf_counter()
        spec = transitions.spec
        enc = EncodedData.from_transitions(transitions)
        dom_key = (spec.domain_name, 0)
        has_domain = np.unique(transitions.domain).size >= 2
        inputs = [j for j, (name, t) in enumerate(enc.keys) if t == 0 and (name, t) != dom_key]
        targets = [j for j, (_, t) in enumerate(enc.keys) if t == 1]
        order = inputs + targets + ([enc.index[dom_key]] if has_domain else [])
        keep = [j for j in order if not enc.constant[j]]
        dropped = [enc.name(j) for j in order if enc.constant[j]]
        if dropped:
            logger.warning("GlobalDiscovery drops %d constant column(s): %s", len(dropped), dropped[:10])
        self.constant_columns_ = dropped
        test_name = self.ci_test
        if test_name == "auto":   # gsq on discrete data, fisherz otherwise
            test_name = "gsq" if all(enc.discrete[j] for j in keep) else "fisherz"
        self.ci_test_used_ = test_name
        if test_name in ("gsq", "chisq"):
            if not all(enc.discrete[j] for j in keep):
                bad = [enc.name(j) for j in keep if not enc.discrete[j]][:5]
                raise ValueError(f"ci_test={self.ci_test!r} needs discrete columns; continuous: {bad}; "
                                 "use ci_test='fisherz'")
            data = np.asarray(enc.codes[:, keep], dtype=np.float64)
        else:
            data = np.column_stack([enc.raw(j) for j in keep])
        self.columns_ = [enc.name(j) for j in keep]
        names = [f"X{k + 1}" for k in range(len(keep))]
        tier = {j: (0 if enc.keys[j] == dom_key else 1 + enc.keys[j][1]) for j in keep}
        bk = BackgroundKnowledge()
        for k, j in enumerate(keep):
            bk.add_node_to_tier(GraphNode(names[k]), tier[j])
        max_k = None if self.max_cond_size is None else int(self.max_cond_size)
        with contextlib.redirect_stderr(io.StringIO()):
            if self.method == "pc" or not has_domain:
                from causallearn.search.ConstraintBased.PC import pc
                cg = pc(data, self.alpha, test_name, stable=True, background_knowledge=bk,
                        node_names=names, max_k=max_k, show_progress=False)
            else:
                from causallearn.search.ConstraintBased.CDNOD import cdnod
                cg = cdnod(data[:, :-1], data[:, -1:], self.alpha, test_name, stable=True,
                           background_knowledge=bk, show_progress=False)
        self.causal_graph_ = cg
        graph = cg.G.graph
        parents: dict[str, set[str]] = {}
        ignored = 0
        for a in range(len(keep)):
            for b in range(a + 1, len(keep)):
                if graph[a, b] == 0 and graph[b, a] == 0:
                    continue
                ta, tb = tier[keep[a]], tier[keep[b]]
                if ta == tb or (ta < 2 and tb < 2):
                    ignored += 1
                    continue
                src, dst = (a, b) if ta < tb else (b, a)
                directed = graph[src, dst] == -1 and graph[dst, src] == 1
                undirected = graph[src, dst] == -1 and graph[dst, src] == -1
                if directed or undirected:
                    parents.setdefault(enc.keys[keep[dst]][0], set()).add(enc.keys[keep[src]][0])
                else:
                    ignored += 1
        self.n_ignored_edges_ = ignored
        self.graph_ = FactoredGraph(spec, parents)
        self.fit_seconds_ = time.perf_counter() - start
        return self
