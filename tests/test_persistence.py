"""Policy bundles and training checkpoints (rl.persistence)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from causalnet.graph import FactoredGraph
from rl.algorithms import make_trainer
from rl.envs import WirelessAccessEnv
from rl.gsac import GSACConfig, GSACTrainer
from rl.persistence import (PersistenceError, PolicyBundle, graph_fingerprint, latest_checkpoint, load_checkpoint,
                            load_policy, save_checkpoint, save_policy, train_with_checkpoints)

ENV = WirelessAccessEnv(2, 3, users_per_vertex=1)
SOURCES = [0.2, 0.5, 0.8]


def _gsac(seed=0, n_runs=None, sources=SOURCES) -> GSACTrainer:
    return make_trainer("gsac", ENV, ENV.true_graph(), source_factors=sources, rng=seed, n_runs=n_runs)


@pytest.fixture(scope="module")
def trained():
    trainer = _gsac(n_runs=2)
    trainer.iterate(60)
    return trainer


def _rewrite_npz(folder, **changes):
    """Replace arrays of a bundle's policy.npz and fix the recorded checksum (a consistent but bad bundle)."""
    from rl.persistence import _write_npz
    with np.load(folder / "policy.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    for k, v in changes.items():
        if v is None:
            arrays.pop(k)
        else:
            arrays[k] = v
    sha = _write_npz(folder / "policy.npz", arrays)
    meta = json.loads((folder / "policy.json").read_text())
    meta["files"]["policy.npz"] = sha
    (folder / "policy.json").write_text(json.dumps(meta))


def test_fingerprint_depends_on_parents_only_through_content():
    graph = ENV.true_graph()
    shuffled = FactoredGraph(graph.spec, {t: list(reversed(sorted(p))) for t, p in reversed(graph.parents.items())})
    assert graph_fingerprint(shuffled) == graph_fingerprint(graph)
    fewer = dict(graph.parents)
    fewer["r0"] = []
    assert graph_fingerprint(FactoredGraph(graph.spec, fewer)) != graph_fingerprint(graph)


def test_bundle_round_trip_acts_bit_identically(trained, tmp_path):
    bundle = PolicyBundle.from_trainer(trained, w_hat=np.full(ENV.n_agents, 0.65), algorithm="gsac",
                                       info={"note": "x"})
    save_policy(bundle, tmp_path / "policy")
    loaded = load_policy(tmp_path / "policy", graph=ENV.true_graph(), env=ENV)
    assert loaded.n_runs == 2 and loaded.algorithm == "gsac" and loaded.info == {"note": "x"}
    assert loaded.config == trained.config
    assert loaded.inputs == trained.inputs.to_dict()
    np.testing.assert_array_equal(loaded.source_w_hat, trained.w_hat)
    states = ENV.reset(500, np.random.default_rng(3))
    for original, restored in zip(bundle.policies, loaded.policies):
        np.testing.assert_array_equal(restored.theta, original.theta)
        np.testing.assert_array_equal(restored.w_hat, original.w_hat)
        np.testing.assert_array_equal(restored.probabilities(states), original.probabilities(states))
        a1 = original(states, np.random.default_rng(9))
        a2 = restored(states, np.random.default_rng(9))
        np.testing.assert_array_equal(a1, a2)
    # the policies really differ between runs (so the check above is not vacuous)
    assert not np.array_equal(bundle.policies[0].theta, bundle.policies[1].theta)


def test_bundle_validation_errors(trained, tmp_path):
    folder = tmp_path / "policy"
    save_policy(PolicyBundle.from_trainer(trained, algorithm="gsac"), folder)
    other = dict(ENV.true_graph().parents)
    other["r0"] = []
    with pytest.raises(PersistenceError, match="fingerprint mismatch"):
        load_policy(folder, graph=FactoredGraph(ENV.spec, other))
    with pytest.raises(PersistenceError, match="environment"):
        load_policy(folder, env=WirelessAccessEnv(2, 2, users_per_vertex=1))
    with pytest.raises(PersistenceError, match="not found"):
        load_policy(tmp_path / "nowhere")
    # tampering with the arrays without updating the checksum
    with open(folder / "policy.npz", "ab") as fh:
        fh.write(b"junk")
    with pytest.raises(PersistenceError, match="checksum"):
        load_policy(folder)
    save_policy(PolicyBundle.from_trainer(trained, algorithm="gsac"), folder)
    theta = np.load(folder / "policy.npz")["theta"]
    _rewrite_npz(folder, theta=theta[:, :, :2])
    with pytest.raises(PersistenceError, match="shape mismatch"):
        load_policy(folder)
    _rewrite_npz(folder, theta=None)
    with pytest.raises(PersistenceError, match=r"missing array\(s\): \['theta'\]"):
        load_policy(folder)
    (folder / "policy.json").unlink()
    with pytest.raises(PersistenceError, match="missing policy metadata"):
        load_policy(folder)


def test_checkpoint_resume_equals_straight_run(tmp_path):
    straight = _gsac(seed=5)
    straight.iterate(80)
    first = _gsac(seed=5)
    first.iterate(40)
    save_checkpoint(first, tmp_path / "ckpt")
    resumed = _gsac(seed=123)                 # the seed is overwritten by the checkpoint's streams
    load_checkpoint(tmp_path / "ckpt", resumed)
    assert resumed.iteration == 40
    resumed.iterate(40)
    np.testing.assert_array_equal(resumed.theta, straight.theta)
    target = ENV.with_domain_factor(0.65)
    m1, e1 = straight.evaluate(target, episodes=200)
    m2, e2 = resumed.evaluate(target, episodes=200)
    np.testing.assert_array_equal(m1, m2)
    np.testing.assert_array_equal(e1, e2)


def test_checkpoint_rejects_other_trainer_and_corruption(tmp_path):
    trainer = _gsac()
    trainer.iterate(5)
    npz, js = save_checkpoint(trainer, tmp_path / "ckpt")
    with pytest.raises(PersistenceError, match="domain_factors"):
        load_checkpoint(tmp_path / "ckpt", _gsac(sources=[0.3, 0.7]))
    with pytest.raises(PersistenceError, match="runs"):
        load_checkpoint(tmp_path / "ckpt", _gsac(n_runs=2))
    npz.write_bytes(npz.read_bytes()[:-10])
    with pytest.raises(PersistenceError, match="checksum"):
        load_checkpoint(tmp_path / "ckpt", _gsac())
    js.unlink()
    with pytest.raises(PersistenceError, match="missing checkpoint metadata"):
        load_checkpoint(tmp_path / "ckpt", _gsac())


class _Crash(RuntimeError):
    pass


def test_train_with_checkpoints_survives_a_crash(tmp_path):
    kwargs = dict(every=20, eval_every=10, eval_episodes=50, eval_env=ENV.with_domain_factor(0.65),
                  eval_w_hat=np.full(ENV.n_agents, 0.65))
    straight = train_with_checkpoints(_gsac(seed=7, n_runs=2), 100, directory=tmp_path / "straight", **kwargs)

    def crash(trainer):
        if trainer.iteration == 50:
            raise _Crash("simulated failure")

    with pytest.raises(_Crash):
        train_with_checkpoints(_gsac(seed=7, n_runs=2), 100, directory=tmp_path / "crashed", callback=crash, **kwargs)
    assert latest_checkpoint(tmp_path / "crashed").name == "checkpoint-000000040"
    resumed_trainer = _gsac(seed=7, n_runs=2)
    resumed = train_with_checkpoints(resumed_trainer, 100, directory=tmp_path / "crashed", **kwargs)
    assert resumed.extra["resumed_from"] == 40
    np.testing.assert_array_equal(resumed_trainer.theta, np.stack([p.theta for p in straight.policies]))
    np.testing.assert_array_equal(resumed.eval_iterations, np.arange(0, 101, 10))
    np.testing.assert_array_equal(resumed.eval_iterations, straight.eval_iterations)
    np.testing.assert_array_equal(resumed.eval_returns, straight.eval_returns)
    np.testing.assert_array_equal(resumed.eval_std_err, straight.eval_std_err)
    # only the newest two checkpoints are kept
    names = sorted(p.name for p in (tmp_path / "crashed").iterdir())
    assert names == ["checkpoint-000000080.json", "checkpoint-000000080.npz",
                     "checkpoint-000000100.json", "checkpoint-000000100.npz"]


def test_incomplete_checkpoint_is_ignored(tmp_path):
    trainer = _gsac()
    trainer.iterate(3)
    save_checkpoint(trainer, tmp_path / "checkpoint-000000003")
    trainer.iterate(3)
    npz, js = save_checkpoint(trainer, tmp_path / "checkpoint-000000006")
    js.unlink()                                   # the crash happened between the two writes
    assert latest_checkpoint(tmp_path).name == "checkpoint-000000003"
    with pytest.raises(ValueError, match="every"):
        train_with_checkpoints(trainer, 10, directory=tmp_path, every=0)


def test_reference_config_bundle(tmp_path):
    trainer = make_trainer("sac", ENV, ENV.true_graph(), config=GSACConfig(critic="reset"), rng=1)
    trainer.iterate(10)
    save_policy(PolicyBundle.from_trainer(trainer, algorithm="sac"), tmp_path / "p")
    loaded = load_policy(tmp_path / "p")
    assert loaded.config.inputs == "truncation" and loaded.config.critic == "reset"
    assert loaded.policies[0].features.to_dict() == {"kind": "constant"}
