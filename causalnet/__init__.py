"""causalnet: causal structure of networked systems (data, CI tests, discovery, graphs, ACRs)."""

from causalnet.acr import acr_table, domain_acr, policy_acr, value_acr
from causalnet.citests import ContingencyTest, DSeparationOracle, FisherZTest
from causalnet.data import Transitions, TransitionsFormatError
from causalnet.discovery import DiscoveryError, LocalDiscovery
from causalnet.discovery_global import GlobalDiscovery
from causalnet.domain_factors import DomainFactorEstimator
from causalnet.domain_factors_continuous import ContinuousDomainFactorEstimator, make_domain_factor_estimator
from causalnet.citests_regression import RegressionTest
from causalnet.domain_factors_latent import LatentDomainFactorEstimator
from causalnet.graph import FactoredGraph, GraphError
from causalnet.graph_metrics import compare_graphs
from causalnet.model import DiscoveredModel
from causalnet.pgmpy_export import to_dynamic_bayesian_network, to_dynamic_bayesian_networks
from causalnet.spec import NetworkSpec, SpecError, default_spec

__all__ = ["FactoredGraph", "GraphError", "NetworkSpec", "SpecError", "Transitions",
           "TransitionsFormatError", "default_spec",
           # graph tooling, ACRs, domain factors, discovered model
           "ContinuousDomainFactorEstimator", "DiscoveredModel", "DomainFactorEstimator",
           "LatentDomainFactorEstimator", "acr_table", "compare_graphs", "domain_acr",
           "make_domain_factor_estimator", "policy_acr", "to_dynamic_bayesian_network",
           "to_dynamic_bayesian_networks", "value_acr",
           # discovery and CI tests
           "ContingencyTest", "DSeparationOracle", "DiscoveryError", "FisherZTest", "GlobalDiscovery",
           "LocalDiscovery", "RegressionTest"]
__version__ = "0.1.0"
