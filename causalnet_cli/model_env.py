"""``causalnet train --model DIR``: the discovered model of a run folder as the training environment.

``DIR`` is a ``causalnet run`` folder of your own system (``env.kind = "data"`` or
``"pettingzoo"``): its source logs (``data/source.*``), learned graph (``graph.json``) and
domain coordinates (``domain_factors.json``) rebuild the :class:`causalnet.DiscoveredModel`
the run trained in, so training can continue from the command line with other settings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["load_model_folder"]


def load_model_folder(path: str) -> dict[str, Any]:
    """The model, graph, source coordinates ``(M, n)`` and target coordinate ``(n,)`` of a run folder.

    Raises
    ------
    ValueError
        A file is missing or the folder is not an own-system run.
    """
    from causalnet.data import Transitions
    from causalnet.graph import FactoredGraph
    from causalnet.model import DiscoveredModel

    if not str(path).strip():
        raise ValueError("--model: empty value; give a causalnet run folder")
    folder = Path(path)
    if not folder.is_dir():
        raise ValueError(f"--model: {folder} is not a folder (give a causalnet run folder of your own system)")
    need = ["graph.json", "domain_factors.json", "data/source.npz", "data/source.json"]
    missing = [n for n in need if not (folder / n).is_file()]
    if missing:
        raise ValueError(f"--model: {folder} is not a run folder of your own system (missing {', '.join(missing)}); "
                         "run causalnet run --data ... --network ... first")
    factors = json.loads((folder / "domain_factors.json").read_text())
    if "coordinates" not in factors:
        raise ValueError(f"--model: {folder}/domain_factors.json has no domain coordinates (it is not from an "
                         "own-system run)")
    data = Transitions.load(folder / "data" / "source")
    graph = FactoredGraph.load(folder / "graph.json")
    n = data.spec.n_agents
    c = factors["coordinates"]
    sources = np.repeat(np.asarray(c["sources"], dtype=np.float64)[:, None], n, axis=1)
    model = DiscoveredModel(graph).fit(data, domain_factors=sources)
    net = json.loads((folder / "network.json").read_text()) if (folder / "network.json").is_file() else {}
    return {"env": model, "graph": graph, "sources": sources, "target": np.full(n, float(c["target"])),
            "gamma": net.get("gamma"), "horizon": net.get("horizon"), "folder": str(folder)}
