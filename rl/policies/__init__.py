"""Policies: callables ``policy(states, rng) -> actions`` on batched states."""

from rl.policies.aloha import (DEFAULT_ALOHA_GRID, AlohaPolicy, AlohaSearchResult, aloha_ap_probabilities,
                               aloha_grid_search)
from rl.policies.base import Policy, UniformPolicy

__all__ = ["DEFAULT_ALOHA_GRID", "AlohaPolicy", "AlohaSearchResult", "Policy", "UniformPolicy",
           "aloha_ap_probabilities", "aloha_grid_search"]
