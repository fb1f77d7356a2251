"""Fixed-seed training cases that pin the GSAC/SAC engine's numbers bit for bit.

Every case builds a :class:`~rl.gsac.GSACTrainer`, trains it for a few dozen outer
iterations and returns the arrays that the algorithm determines: the actor
parameters of every run, the critic's stored table (dense values, or the sorted
hashed keys with their values) and one evaluation of the final policies.
``tests/test_engine_baseline.py`` compares them with the arrays recorded in
``tests/data/engine_baseline.npz`` by exact equality, so any change of the engine
that moves a single bit is caught; engine back-ends (``engine="numpy"`` and
``engine="numba"``) are run through the same cases.

Re-recording (only when the algorithm changes on purpose, e.g. a new actor
update; never to make a speed change pass)::

    python tests/engine_cases.py --record

then say in the commit message which change moved the numbers and why.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Callable

import numpy as np

from rl.envs import SyntheticNetworkEnv, WirelessAccessEnv
from rl.gsac import GSACConfig, GSACTrainer

BASELINE = Path(__file__).resolve().parent / "data" / "engine_baseline.npz"
ITERATIONS = 30


def _wireless_small() -> WirelessAccessEnv:
    return WirelessAccessEnv.from_grid(2)              # 9 users, 4 APs


def _case_sac_dense(actor, **kw) -> GSACTrainer:
    env = WirelessAccessEnv(2, 2, users_per_vertex=1)  # 4 users, 1 AP: dense truncation keys
    cfg = GSACConfig.reference_sac(critic_table="dense", actor=actor)
    return GSACTrainer(env, env.true_graph(), cfg, rng=[3, 4], **kw)


def _case_sac_hashed(actor, **kw) -> GSACTrainer:
    env = _wireless_small()                            # truncation keys too many for a dense table
    return GSACTrainer(env, env.true_graph(), GSACConfig.reference_sac(actor=actor), rng=[5], **kw)


def _case_gsac_sources(actor, **kw) -> GSACTrainer:
    env = _wireless_small()
    return GSACTrainer(env, env.true_graph(), GSACConfig(actor=actor), domain_factors=[0.2, 0.5, 0.8],
                       w_hat=[0.25, 0.45, 0.85], rng=11, n_runs=3, **kw)


def _case_gsac_hashed_sources(actor, **kw) -> GSACTrainer:
    env = _wireless_small()
    return GSACTrainer(env, env.true_graph(), GSACConfig(critic_table="hashed", kappa=2, actor=actor),
                       domain_factors=[0.3, 0.7], rng=[21, 22], **kw)


def _case_reset_quadratic_post(actor, **kw) -> GSACTrainer:
    env = _wireless_small()
    cfg = GSACConfig(critic="reset", features="quadratic", critic_timing="post_transition", restart=None,
                     actor=actor, reward_norm=False)
    return GSACTrainer(env, env.true_graph(), cfg, domain_factors=[0.2, 0.8], rng=[7, 8], **kw)


def _case_mtl_onehot(actor, **kw) -> GSACTrainer:
    env = _wireless_small()
    cfg = GSACConfig(inputs="truncation", features="source_onehot", actor=actor)
    return GSACTrainer(env, env.true_graph(), cfg, domain_factors=[0.2, 0.5, 0.8], rng=[9, 10], **kw)


def _case_synthetic(actor, **kw) -> GSACTrainer:
    env = SyntheticNetworkEnv(n_agents=6, topology="ring", state_cardinality=3, action_cardinality=3, rng=0)
    return GSACTrainer(env, env.true_graph(), GSACConfig(actor=actor), domain_factors=[0.1, 0.9], rng=[13, 14], **kw)


ACTORS = ("reference", "advantage")
"""Every case runs with both actor updates (``GSACConfig.actor``)."""

CASES: dict[str, Callable[..., GSACTrainer]] = {
    "sac_dense": _case_sac_dense,
    "sac_hashed": _case_sac_hashed,
    "gsac_sources": _case_gsac_sources,
    "gsac_hashed_sources": _case_gsac_hashed_sources,
    "reset_quadratic_post": _case_reset_quadratic_post,
    "mtl_onehot": _case_mtl_onehot,
    "synthetic": _case_synthetic,
}


def critic_arrays(trainer: GSACTrainer) -> dict[str, np.ndarray]:
    """The critic's stored table in a layout-independent form (hashed: keys sorted)."""
    state = trainer.critic.state_dict()
    if "keys" in state:
        order = np.argsort(state["keys"], kind="stable")
        return {"critic_keys": np.asarray(state["keys"])[order], "critic_values": np.asarray(state["values"])[order]}
    return {"critic_values": np.asarray(state["values"])}


def run_case(name: str, actor: str = "reference", *, iterations: int = ITERATIONS,
             **trainer_kwargs: Any) -> dict[str, np.ndarray]:
    """Train case ``name`` with ``actor`` and return its result arrays (see the module docstring)."""
    trainer = CASES[name](actor, **trainer_kwargs)
    trainer.iterate(iterations)
    means, errs = trainer.evaluate(episodes=40)
    return {"theta": trainer.theta.copy(), **critic_arrays(trainer), "eval_mean": means, "eval_err": errs}


def run_all(**trainer_kwargs: Any) -> dict[str, np.ndarray]:
    """Every case, flattened into ``{"case/array": ndarray}``."""
    out: dict[str, np.ndarray] = {}
    for name in CASES:
        for actor in ACTORS:
            for key, value in run_case(name, actor, **trainer_kwargs).items():
                out[f"{name}/{actor}/{key}"] = value
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--record", action="store_true", help=f"write {BASELINE.name}")
    args = parser.parse_args()
    arrays = run_all()
    if args.record:
        BASELINE.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(BASELINE, **arrays)
        print(f"recorded {len(arrays)} arrays to {BASELINE}")
    else:
        ref = np.load(BASELINE)
        bad = [k for k in arrays if k not in ref or not np.array_equal(arrays[k], ref[k])]
        print("identical" if not bad else f"differ: {bad}")


if __name__ == "__main__":
    main()
