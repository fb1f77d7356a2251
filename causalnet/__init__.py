"""causalnet: causal structure of networked systems (data, CI tests, discovery, graphs, ACRs)."""

from causalnet.data import Transitions, TransitionsFormatError
from causalnet.graph import FactoredGraph, GraphError
from causalnet.spec import NetworkSpec, SpecError, default_spec

__all__ = ["FactoredGraph", "GraphError", "NetworkSpec", "SpecError", "Transitions",
           "TransitionsFormatError", "default_spec"]
__version__ = "0.1.0"
