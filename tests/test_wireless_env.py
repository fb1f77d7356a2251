"""Tests of the batched wireless access environment against the model of the reference benchmark.

Facts checked here are computed independently of the environment's own tables: the
topology from vertex coordinates, the dynamics by a slow per-agent loop, the ground
truth graph by interventions on simulated data.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from rl.envs import WirelessAccessEnv, reference_transmit_probabilities
from rl.policies.base import UniformPolicy

REFERENCE = dict(height=3, width=4, users_per_vertex=2, deadline=2, arrival=0.5, transmit="random")


# --------------------------------------------------------------------------- helpers
def vertex_of(env: WirelessAccessEnv) -> np.ndarray:
    """(row, column) of every user's vertex, shape (n, 2)."""
    vertex = np.arange(env.n_agents) // env.users_per_vertex
    return np.stack([vertex // env.width, vertex % env.width], axis=1)


def aps_from_geometry(env: WirelessAccessEnv, user: int) -> list[int]:
    """APs of ``user``: the cells (r, c) with the user's vertex among their four corners."""
    row, col = vertex_of(env)[user]
    aps = [r * (env.width - 1) + c
           for r in range(env.height - 1) for c in range(env.width - 1)
           if row in (r, r + 1) and col in (c, c + 1)]
    return sorted(aps)


def reference_step(env: WirelessAccessEnv, states, actions, success_u, arrival_u, arrival_p):
    """Slow per-copy, per-agent implementation of the model, fed the step's uniforms."""
    batch, n, d = states.shape[0], env.n_agents, env.deadline
    q = env.transmit
    next_states = np.zeros_like(states)
    rewards = np.zeros((batch, n))
    for b in range(batch):
        queue = states[b].reshape(n, d).copy()
        choice = {}
        for i in range(n):
            a = int(actions[b, i])
            if a == 0:
                continue
            aps = aps_from_geometry(env, i)
            slot, k = divmod(a - 1, len(aps))
            choice[i] = (slot, aps[k])
        users_on = {}
        for i, (_, ap) in choice.items():
            users_on.setdefault(ap, []).append(i)
        for ap, users in users_on.items():
            if len(users) != 1:
                continue                                  # collision: everybody fails
            i = users[0]
            slot = choice[i][0]
            if queue[i, slot] == 1 and success_u[b, i] < q[ap]:
                rewards[b, i] = 1.0
                queue[i, slot] = 0
        nxt = np.zeros_like(queue)
        for i in range(n):
            for j in range(d - 1):
                nxt[i, j] = queue[i, j + 1]
            nxt[i, d - 1] = 1 if arrival_u[b, i] < arrival_p[b, i] else 0
        next_states[b] = nxt.reshape(-1)
    return next_states, rewards


def one_step(env, states, actions, seed=0, domain_factor=None):
    states = np.asarray(states, dtype=np.int8).reshape(-1, env.spec.n_state)
    actions = np.asarray(actions, dtype=np.int64).reshape(-1, env.n_agents)
    return env.step(states, actions, np.random.default_rng(seed), domain_factor=domain_factor)


# --------------------------------------------------------------------------- topology
def test_reference_configuration_counts_and_neighbourhoods():
    env = WirelessAccessEnv(**REFERENCE)
    assert (env.n_agents, env.n_aps, env.spec.n_state) == (24, 6, 48)
    assert env.users_per_ap.tolist() == [8] * 6
    rc = vertex_of(env)
    on_row_edge = (rc[:, 0] == 0) | (rc[:, 0] == env.height - 1)
    on_col_edge = (rc[:, 1] == 0) | (rc[:, 1] == env.width - 1)
    corner, edge = on_row_edge & on_col_edge, on_row_edge ^ on_col_edge
    interior = ~(on_row_edge | on_col_edge)
    assert (corner.sum(), edge.sum(), interior.sum()) == (8, 12, 4)
    n_aps = np.array([len(env.aps_of_user[i]) for i in range(24)])
    assert set(n_aps[corner]) == {1} and set(n_aps[edge]) == {2} and set(n_aps[interior]) == {4}
    counts = env.action_counts
    assert set(counts[corner]) == {3} and set(counts[edge]) == {5} and set(counts[interior]) == {9}
    assert counts.sum() == 8 * 3 + 12 * 5 + 4 * 9
    for i in range(24):
        assert env.aps_of_user[i].tolist() == aps_from_geometry(env, i)
    # users share an AP iff their vertices are within one step in both directions
    cheb = np.abs(rc[:, None, :] - rc[None, :, :]).max(axis=2)
    expected = nx.Graph()
    expected.add_nodes_from(range(24))
    expected.add_edges_from((i, j) for i in range(24) for j in range(i + 1, 24) if cheb[i, j] <= 1)
    assert nx.utils.graphs_equal(env.interaction_graph, expected)
    for i in range(24):
        assert env.neighborhood(i, 0) == [i]
        assert env.neighborhood(i, 1) == np.flatnonzero(cheb[i] <= 1).tolist()
        assert env.neighborhood(i, 2) == np.flatnonzero(cheb[i] <= 2).tolist()
    sizes = np.array([len(env.neighborhood(i, 1)) for i in range(24)])
    assert set(sizes[corner]) == {8} and set(sizes[edge]) == {12} and set(sizes[interior]) == {18}
    # two users on the same vertex are neighbours with the same APs
    assert 1 in env.neighborhood(0, 1) and env.aps_of_user[0].tolist() == env.aps_of_user[1].tolist()


def test_named_variables_and_action_encoding():
    env = WirelessAccessEnv(**REFERENCE)
    spec = env.spec
    assert spec.state_names[:4] == ("s0_0", "s0_1", "s1_0", "s1_1")
    assert spec.action_names[5] == "a5" and spec.reward_names[23] == "r23"
    assert spec.state_cardinality == (2,) * 48
    assert spec.agent_state_indices(3).tolist() == [6, 7]
    user = 8   # vertex (1, 0): left edge, APs 0 and 3
    assert env.aps_of_user[user].tolist() == [0, 3]
    decoded = [env.decode_action(user, a) for a in range(env.action_counts[user])]
    assert decoded == [(-1, -1), (0, 0), (0, 3), (1, 0), (1, 3)]
    for a, (slot, ap) in enumerate(decoded):
        assert env.encode_action(user, slot, ap) == a


def test_paper_grid_sizes():
    assert [WirelessAccessEnv.from_grid(g).n_agents for g in (3, 4, 5)] == [16, 25, 36]
    assert [WirelessAccessEnv.from_grid(g).n_aps for g in (3, 4, 5)] == [9, 16, 25]
    big = WirelessAccessEnv.from_grid(31)
    assert (big.n_agents, big.n_aps) == (1024, 961)
    assert big.action_counts.max() == 1 + 2 * 4


def test_transmit_probabilities():
    q = WirelessAccessEnv(**REFERENCE).transmit
    np.testing.assert_allclose(q, [0.5488135, 0.71518937, 0.60276338, 0.54488318, 0.4236548, 0.64589411],
                               rtol=1e-7)
    np.testing.assert_array_equal(q, np.random.RandomState(0).rand(6))
    assert WirelessAccessEnv(3, 4, transmit="allone").transmit.tolist() == [1.0] * 6
    explicit = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    assert WirelessAccessEnv(3, 4, transmit=np.array(explicit)).transmit.tolist() == explicit
    assert reference_transmit_probabilities(3).tolist() == q[:3].tolist()


# --------------------------------------------------------------------------- hand-built scenarios
# 2 x 3 vertices, one user each: users 0 1 2 on the top row, 3 4 5 below; AP 0 serves
# users 0 1 3 4 and AP 1 serves users 1 2 4 5. Transmissions always succeed ("allone").
def small_env(deadline=2, arrival=0.0):
    return WirelessAccessEnv(2, 3, users_per_vertex=1, deadline=deadline, arrival=arrival, transmit="allone")


def queues(env, filled: dict[int, list[int]]) -> np.ndarray:
    states = np.zeros((env.n_agents, env.deadline), dtype=np.int8)
    for user, slots in filled.items():
        states[user, slots] = 1
    return states.reshape(1, -1)


def test_single_sender_delivers_and_packet_is_removed():
    env = small_env()
    send = env.encode_action(0, 1, 0)                       # user 0 sends slot 1 via AP 0
    actions = np.zeros(6, dtype=np.int64)
    actions[0] = send
    nxt, rewards = one_step(env, queues(env, {0: [1], 3: [1]}), actions)
    assert rewards.tolist() == [[1, 0, 0, 0, 0, 0]]
    per_user = nxt.reshape(6, 2)
    assert per_user[0].tolist() == [0, 0]                   # delivered packet gone
    assert per_user[3].tolist() == [1, 0]                   # idle user's packet shifted to slot 0


def test_two_senders_on_one_ap_collide():
    env = small_env()
    actions = np.zeros(6, dtype=np.int64)
    actions[0] = env.encode_action(0, 1, 0)
    actions[3] = env.encode_action(3, 1, 0)
    nxt, rewards = one_step(env, queues(env, {0: [1], 3: [1]}), actions)
    assert rewards.sum() == 0
    assert nxt.reshape(6, 2)[[0, 3]].tolist() == [[1, 0], [1, 0]]   # both packets kept
    # user 1 reaches both APs; on AP 1 it does not collide with user 0 on AP 0
    actions = np.zeros(6, dtype=np.int64)
    actions[0] = env.encode_action(0, 1, 0)
    actions[1] = env.encode_action(1, 1, 1)
    _, rewards = one_step(env, queues(env, {0: [1], 1: [1]}), actions)
    assert rewards[0, :2].tolist() == [1, 1]
    # three senders on AP 1 all fail, user 0 alone on AP 0 still delivers
    actions[[2, 4]] = [env.encode_action(2, 1, 1), env.encode_action(4, 1, 1)]
    _, rewards = one_step(env, queues(env, {0: [1], 1: [1], 2: [1], 4: [1]}), actions)
    assert rewards.tolist() == [[1, 0, 0, 0, 0, 0]]


def test_sending_an_empty_slot_earns_nothing_but_blocks_the_ap():
    env = small_env()
    state = queues(env, {0: [1], 3: [1]})                   # user 0's slot 0 is empty
    actions = np.zeros(6, dtype=np.int64)
    actions[3] = env.encode_action(3, 1, 0)
    _, alone = one_step(env, state, actions)
    assert alone[0, 3] == 1                                 # control: user 3 alone delivers
    actions[0] = env.encode_action(0, 0, 0)                 # user 0 sends its empty slot 0
    nxt, rewards = one_step(env, state, actions)
    assert rewards.sum() == 0
    assert nxt.reshape(6, 2)[[0, 3]].tolist() == [[1, 0], [1, 0]]


def test_queue_shifts_slot_one_expires_and_arrivals_fill_the_last_slot():
    env = small_env(deadline=3, arrival=1.0)
    state = queues(env, {0: [0, 1], 1: [2], 2: [0]})
    nxt, rewards = one_step(env, state, np.zeros(6, dtype=np.int64))
    assert rewards.sum() == 0
    per_user = nxt.reshape(6, 3)
    assert per_user[0].tolist() == [1, 0, 1]                # slot 0 expired, 1 -> 0, arrival
    assert per_user[1].tolist() == [0, 1, 1]
    assert per_user[2].tolist() == [0, 0, 1]                # the slot-0 packet expired
    nxt, _ = one_step(env, state, np.zeros(6, dtype=np.int64), domain_factor=np.zeros(6))
    assert nxt.reshape(6, 3)[:, 2].tolist() == [0] * 6      # no arrivals at p = 0
    # sending the expiring packet delivers it; a packet in the middle slot is removed
    env2 = small_env(deadline=3)
    actions = np.zeros(6, dtype=np.int64)
    actions[0] = env2.encode_action(0, 0, 0)
    actions[2] = env2.encode_action(2, 1, 1)
    nxt, rewards = one_step(env2, queues(env2, {0: [0, 1], 2: [1, 2]}), actions)
    assert rewards.tolist() == [[1, 0, 1, 0, 0, 0]]
    assert nxt.reshape(6, 3)[[0, 2]].tolist() == [[1, 0, 0], [0, 1, 0]]


def test_failed_transmission_and_zero_success_probability():
    env = WirelessAccessEnv(2, 3, users_per_vertex=1, arrival=0.0, transmit=np.array([0.0, 1.0]))
    actions = np.zeros((1, 6), dtype=np.int64)
    actions[0, 0] = env.encode_action(0, 1, 0)              # AP 0 never succeeds
    actions[0, 2] = env.encode_action(2, 1, 1)
    states = queues(env, {0: [1], 2: [1]}).repeat(50, axis=0)
    nxt, rewards = env.step(states, actions.repeat(50, axis=0), np.random.default_rng(1))
    assert rewards[:, 0].sum() == 0 and rewards[:, 2].sum() == 50
    assert np.all(nxt.reshape(50, 6, 2)[:, 0] == [1, 0])


def test_deadline_one():
    env = WirelessAccessEnv(2, 2, users_per_vertex=1, deadline=1, arrival=1.0, transmit="allone")
    assert env.action_counts.tolist() == [2, 2, 2, 2]
    nxt, rewards = one_step(env, [[1, 1, 0, 1]], [[1, 0, 1, 0]])
    assert rewards.tolist() == [[0, 0, 0, 0]]               # users 0 and 2 collide on the only AP
    assert nxt.tolist() == [[1, 1, 1, 1]]
    nxt, rewards = one_step(env, [[1, 1, 0, 1]], [[1, 0, 0, 0]])
    assert rewards.tolist() == [[1, 0, 0, 0]] and nxt.tolist() == [[1, 1, 1, 1]]


# --------------------------------------------------------------------------- batched dynamics
@pytest.mark.parametrize("config", [
    dict(height=3, width=4, users_per_vertex=2, deadline=2),
    dict(height=3, width=3, users_per_vertex=1, deadline=3, transmit="allone"),
    dict(height=2, width=4, users_per_vertex=3, deadline=1),
    dict(height=4, width=3, users_per_vertex=1, deadline=4, transmit=np.array([0.0, 1.0, 0.3, 0.9, 0.5, 0.7])),
])
def test_batched_step_matches_per_agent_loop_bit_for_bit(config):
    env = WirelessAccessEnv(**config)
    env = env.with_domain_factor(np.linspace(0.1, 0.9, env.n_agents))
    n, m, batch = env.n_agents, env.spec.n_state, 64
    data = np.random.default_rng(7)
    states = (data.random((batch, m)) < 0.6).astype(np.int8)
    # actions crowd a few APs so that collisions, lone senders and empty slots all occur
    actions = np.where(data.random((batch, n)) < 0.5, 0,
                       (data.random((batch, n)) * env.action_counts).astype(np.int64))
    per_copy_p = data.random((batch, n))
    for p in (None, per_copy_p):
        nxt, rewards = env.step(states, actions, np.random.default_rng(11), domain_factor=p)
        uniforms = np.random.default_rng(11)
        success_u, arrival_u = uniforms.random((batch, n)), uniforms.random((batch, n))
        p_full = np.broadcast_to(env.domain_factor if p is None else p, (batch, n))
        ref_nxt, ref_rewards = reference_step(env, states, actions, success_u, arrival_u, p_full)
        np.testing.assert_array_equal(nxt, ref_nxt)
        np.testing.assert_array_equal(rewards, ref_rewards)
        assert nxt.dtype == np.int8 and rewards.dtype == np.float64
        assert 0 < rewards.sum() < rewards.size                # the comparison is not vacuous


def test_same_seed_same_trajectory():
    env = WirelessAccessEnv(**REFERENCE)
    policy = UniformPolicy(env.action_counts)

    def trajectory(seed):
        rng = np.random.default_rng(seed)
        states = env.reset(8, rng)
        out = [states]
        for _ in range(10):
            states, rewards = env.step(states, policy(states, rng), rng)
            out += [states, rewards]
        return out

    first, again, other = trajectory(3), trajectory(3), trajectory(4)
    assert all(np.array_equal(x, y) and x.dtype == y.dtype for x, y in zip(first, again))
    assert not all(np.array_equal(x, y) for x, y in zip(first, other))


def test_inputs_are_not_modified_and_views_work():
    env = WirelessAccessEnv(**REFERENCE)
    rng = np.random.default_rng(0)
    states = (rng.random((6, 48)) < 0.5).astype(np.int8)
    actions = (rng.random((6, 24)) * env.action_counts).astype(np.int64)
    keep_s, keep_a = states.copy(), actions.copy()
    nxt, rewards = env.step(states, actions, np.random.default_rng(5))
    assert np.array_equal(states, keep_s) and np.array_equal(actions, keep_a)
    # Fortran-ordered and int64 inputs give the same result
    nxt_f, rewards_f = env.step(np.asfortranarray(states.astype(np.int64)), np.asfortranarray(actions),
                                np.random.default_rng(5))
    np.testing.assert_array_equal(nxt_f, nxt)
    np.testing.assert_array_equal(rewards_f, rewards)


# --------------------------------------------------------------------------- arrivals and domains
def test_reset_rule_and_arrival_frequency_match_p():
    p = np.linspace(0.05, 0.95, 24)
    env = WirelessAccessEnv(3, 4, users_per_vertex=2, deadline=3, arrival=p)
    batch = 20000
    rng = np.random.default_rng(2)
    states = env.reset(batch, rng).reshape(batch, 24, 3)
    assert states.dtype == np.int8
    assert not states[:, :, :2].any()                       # all empty except the last slot
    bound = 4.5 * np.sqrt(p * (1 - p) / batch)
    assert np.all(np.abs(states[:, :, 2].mean(axis=0) - p) < bound)
    actions = (rng.random((batch, 24)) * env.action_counts).astype(np.int64)
    nxt, _ = env.step(states.reshape(batch, -1), actions, rng)
    assert np.all(np.abs(nxt.reshape(batch, 24, 3)[:, :, 2].mean(axis=0) - p) < bound)


def test_per_copy_domain_factors():
    env = WirelessAccessEnv(**REFERENCE)
    batch = 4000
    p = np.zeros((batch, 24))
    p[batch // 2:] = 1.0
    p[:, 5] = 0.3                                           # one agent at 0.3 everywhere
    rng = np.random.default_rng(9)
    states = env.reset(batch, rng, domain_factor=p).reshape(batch, 24, 2)
    others = np.delete(np.arange(24), 5)
    assert not states[: batch // 2, others, 1].any() and states[batch // 2:, others, 1].all()
    assert abs(states[:, 5, 1].mean() - 0.3) < 4.5 * np.sqrt(0.21 / batch)
    nxt, _ = env.step(states.reshape(batch, -1), np.zeros((batch, 24), dtype=np.int64), rng, domain_factor=p)
    nxt = nxt.reshape(batch, 24, 2)
    assert not nxt[: batch // 2, others, 1].any() and nxt[batch // 2:, others, 1].all()
    # a (B, n) factor equal to the environment's own reproduces the default run bit for bit
    a, _ = env.step(states.reshape(batch, -1), np.ones((batch, 24), dtype=np.int64), np.random.default_rng(1))
    b, _ = env.step(states.reshape(batch, -1), np.ones((batch, 24), dtype=np.int64), np.random.default_rng(1),
                    domain_factor=np.full((batch, 24), 0.5))
    np.testing.assert_array_equal(a, b)
    moved = env.with_domain_factor(0.8)
    assert moved.domain_factor.tolist() == [0.8] * 24 and moved.transmit.tolist() == env.transmit.tolist()


def test_uniform_random_policy_matches_reference_figure():
    """Mean over agents of sum_{t<10} 0.7^t r_i(t) from reset: the reference log says 0.0201."""
    env = WirelessAccessEnv(**REFERENCE)
    policy = UniformPolicy(env.action_counts)
    episodes, rng = 20000, np.random.default_rng(2026)
    states = env.reset(episodes, rng)
    returns = np.zeros(episodes)
    for t in range(10):
        states, rewards = env.step(states, policy(states, rng), rng)
        returns += 0.7 ** t * rewards.mean(axis=1)
    stderr = returns.std(ddof=1) / np.sqrt(episodes)
    assert stderr < 2.5e-4
    assert abs(returns.mean() - 0.0201) < 0.001


# --------------------------------------------------------------------------- ground truth
def test_true_graph_structure():
    env = WirelessAccessEnv(**REFERENCE)
    g = env.true_graph()
    assert sorted(g.parents["s9_0"]) == sorted(["s9_1"] + [f"a{j}" for j in env.neighborhood(9, 1)])
    assert g.parents["s9_1"] == frozenset({"domain"})
    assert sorted(g.parents["r0"]) == sorted(["s0_0", "s0_1"] + [f"a{j}" for j in env.neighborhood(0, 1)])
    assert g.domain_affected == env.domain_affected == [f"s{i}_1" for i in range(24)]
    sizes = np.array([len(env.neighborhood(i, 1)) for i in range(24)])
    assert g.n_edges() == int(np.sum((1 + sizes) + 1 + (2 + sizes)))
    # no state coordinate has a parent in another agent's state
    owner = np.asarray(env.spec.state_owner)
    assert not (g.state_mask & (owner[:, None] != owner[None, :])).any()


def intervention_spread(env, contexts, variable, values, repeats, rng):
    """Largest change of every target's distribution when ``variable`` is set to each of ``values``.

    Each context is ``(states (n_state,), actions (n,), p (n,))``. For every context and
    value, ``repeats`` independent copies start from the context with ``variable`` forced
    to the value and take one step. Targets are all next-state coordinates then all
    rewards (all binary); the result, shape (n_state + n,), is the largest difference of a
    target's empirical frequency between two values of ``variable`` within one context.
    """
    kind, index = variable
    values = np.asarray(values)
    spreads = []
    chunk = max(1, 200_000 // (len(values) * repeats))      # contexts per step call, bounds memory
    for start in range(0, len(contexts), chunk):
        part = contexts[start:start + chunk]
        states = np.stack([c[0] for c in part]).astype(np.int8)
        actions = np.stack([c[1] for c in part]).astype(np.int64)
        p = np.stack([c[2] for c in part]).astype(np.float64)
        shape = (len(part), len(values), repeats)              # (context, value, repeat)
        s = np.broadcast_to(states[:, None, None, :], shape + states.shape[1:]).copy()
        a = np.broadcast_to(actions[:, None, None, :], shape + actions.shape[1:]).copy()
        w = np.broadcast_to(p[:, None, None, :], shape + p.shape[1:]).copy()
        if kind == "state":
            s[..., index] = values[None, :, None]
        elif kind == "action":
            a[..., index] = values[None, :, None]
        else:
            w[...] = values[None, :, None, None]
        nxt, rewards = env.step(s.reshape(-1, s.shape[-1]), a.reshape(-1, a.shape[-1]), rng,
                                domain_factor=w.reshape(-1, w.shape[-1]))
        outcome = np.concatenate([nxt, rewards.astype(np.int8)], axis=1).reshape(shape + (-1,))
        freq = outcome.sum(axis=2, dtype=np.int32) / repeats  # (context, value, target)
        spreads.append((freq.max(axis=1) - freq.min(axis=1)).max(axis=0))
    return np.max(spreads, axis=0)


def single_sender_contexts(env, senders, p=0.5, n_random=4, rng=None):
    """Full queues and every user idle except one sender per context (``senders`` lists
    ``(user, action)``, ``None`` for all idle), plus ``n_random`` uniformly random contexts."""
    n, m = env.n_agents, env.spec.n_state
    contexts = []
    for sender in senders:
        actions = np.zeros(n, dtype=np.int64)
        if sender is not None:
            actions[sender[0]] = sender[1]
        contexts.append((np.ones(m), actions, np.full(n, p)))
    for _ in range(n_random):
        contexts.append(((rng.random(m) < 0.5), (rng.random(n) * env.action_counts).astype(np.int64),
                         rng.uniform(0.2, 0.8, n)))
    return contexts


# Every true effect in these tests moves a frequency by at least min(q) = 0.42; with 1000
# copies per value, Hoeffding bounds the chance that sampling noise moves a frequency by 0.1
# by 2 exp(-20) = 4e-9, so spreads above TAU = 0.2 mark dependence and below it independence.
TAU, REPEATS = 0.2, 1000


def test_interventions_confirm_listed_parents_on_reference_configuration():
    env = WirelessAccessEnv(**REFERENCE)
    spec, rng = env.spec, np.random.default_rng(12)
    col = {name: j for j, name in enumerate(spec.state_names + spec.reward_names)}
    i = 10                                        # interior user, vertex (1, 1), APs 0 1 3 4
    assert env.aps_of_user[i].tolist() == [0, 1, 3, 4]
    nb = 0                                        # vertex (0, 0): neighbour through AP 0 only
    far = 7                                       # vertex (0, 3): no AP shared with user 10
    assert nb in env.neighborhood(i, 1) and far not in env.neighborhood(i, 1)
    sends = [None] + [(i, a) for a in range(1, env.action_counts[i])]
    contexts = single_sender_contexts(env, sends, rng=rng)

    def spread(variable, values):
        return intervention_spread(env, contexts, variable, values, REPEATS, rng)

    own_next = spread(("state", spec.index(f"s{i}_1")), [0, 1])
    assert own_next[col[f"s{i}_0"]] > TAU                   # own next slot
    assert own_next[col[f"r{i}"]] > TAU                     # reward reads slot 1
    assert own_next[col[f"s{i}_1"]] < TAU                   # slot d-1 is only arrivals
    own_first = spread(("state", spec.index(f"s{i}_0")), [0, 1])
    assert own_first[col[f"s{i}_0"]] < TAU                  # s_i0(t) is not a parent of s_i0(t+1)
    assert own_first[col[f"r{i}"]] > TAU
    neighbour = spread(("action", nb), range(env.action_counts[nb]))
    assert neighbour[col[f"s{i}_0"]] > TAU                  # collision keeps the packet
    assert neighbour[col[f"r{i}"]] > TAU                    # collision loses the reward
    assert neighbour[col[f"s{i}_1"]] < TAU
    non_neighbour = spread(("action", far), range(env.action_counts[far]))
    assert non_neighbour[col[f"s{i}_0"]] < TAU and non_neighbour[col[f"r{i}"]] < TAU
    other_state = spread(("state", spec.index(f"s{nb}_1")), [0, 1])
    assert other_state[col[f"s{i}_0"]] < TAU and other_state[col[f"r{i}"]] < TAU
    domain = spread(("domain", None), [0.1, 0.9])
    assert domain[col[f"s{i}_1"]] > TAU                     # arrivals
    assert domain[col[f"s{i}_0"]] < TAU and domain[col[f"r{i}"]] < TAU
    # in every intervention the targets that moved are exactly children of the variable
    truth = env.true_graph().parents
    for name, result in (("a0", neighbour), ("a7", non_neighbour), (f"s{nb}_1", other_state),
                         ("domain", domain), (f"s{i}_1", own_next), (f"s{i}_0", own_first)):
        moved = {t for t, j in col.items() if result[j] > TAU}
        assert moved <= {t for t, pas in truth.items() if name in pas}


def estimate_parents_by_intervention(env, rng, n_random=4):
    """Parents of every target, estimated by intervening on every candidate variable."""
    spec = env.spec
    sends = [None] + [(u, a) for u in range(env.n_agents) for a in range(1, env.action_counts[u])]
    contexts = single_sender_contexts(env, sends, rng=rng, n_random=n_random)
    targets = list(spec.state_names) + list(spec.reward_names)
    candidates = ([(name, ("state", j), [0, 1]) for j, name in enumerate(spec.state_names)]
                  + [(name, ("action", k), range(spec.action_cardinality[k]))
                     for k, name in enumerate(spec.action_names)]
                  + [(spec.domain_name, ("domain", None), [0.1, 0.9])])
    parents = {t: set() for t in targets}
    for name, variable, values in candidates:
        spread = intervention_spread(env, contexts, variable, values, REPEATS, rng)
        for t, value in zip(targets, spread):
            if value > TAU:
                parents[t].add(name)
    return parents


def test_interventions_recover_the_whole_true_graph_small_grid():
    """Corner, edge and interior users, three slots: every edge and non-edge of the truth."""
    env = WirelessAccessEnv(3, 3, users_per_vertex=1, deadline=3)
    estimated = estimate_parents_by_intervention(env, np.random.default_rng(5))
    truth = env.true_graph().parents
    assert estimated == {t: set(p) for t, p in truth.items()}


@pytest.mark.slow
def test_interventions_recover_the_whole_true_graph_reference_configuration():
    env = WirelessAccessEnv(**REFERENCE)
    estimated = estimate_parents_by_intervention(env, np.random.default_rng(6))
    truth = env.true_graph().parents
    assert estimated == {t: set(p) for t, p in truth.items()}


# --------------------------------------------------------------------------- input errors
@pytest.mark.parametrize("kwargs, match", [
    (dict(arrival=1.5), r"arrival must hold probabilities in \[0, 1\]"),
    (dict(arrival=-0.1), r"arrival must hold probabilities"),
    (dict(arrival=[0.5] * 5), r"arrival must be a scalar or an array of shape \(24,\)"),
    (dict(arrival=np.nan), r"arrival must hold probabilities"),
    (dict(transmit=[0.5, 0.5, 0.5, 0.5, 0.5, 1.2]), r"transmit must hold probabilities"),
    (dict(transmit=[0.5] * 4), r"transmit must be a scalar or an array of shape \(6,\)"),
    (dict(transmit="uniform"), r"transmit must be 'random', 'allone'"),
    (dict(deadline=0), r"deadline must be an integer >= 1"),
    (dict(deadline=1.5), r"deadline must be an integer"),
    (dict(height=1), r"height must be an integer >= 2.*AP"),
    (dict(width=1), r"width must be an integer >= 2.*AP"),
    (dict(users_per_vertex=0), r"users_per_vertex must be an integer >= 1"),
])
def test_constructor_errors_name_the_parameter(kwargs, match):
    with pytest.raises(ValueError, match=match):
        WirelessAccessEnv(**{**dict(height=3, width=4, users_per_vertex=2), **kwargs})


def test_other_construction_errors():
    with pytest.raises(ValueError, match="grid must be an integer >= 1"):
        WirelessAccessEnv.from_grid(0)
    with pytest.raises(TypeError, match="arrival must be a probability"):
        WirelessAccessEnv(arrival="high")
    with pytest.raises(ValueError, match="arrival must hold probabilities"):
        WirelessAccessEnv().with_domain_factor(1.2)


def test_step_and_reset_errors_name_the_array():
    env = WirelessAccessEnv(**REFERENCE)
    rng = np.random.default_rng(0)
    states = env.reset(3, rng)
    idle = np.zeros((3, 24), dtype=np.int64)
    with pytest.raises(ValueError, match=r"states has shape \(3, 47\); expected \(B, 48\)"):
        env.step(states[:, :47], idle, rng)
    with pytest.raises(ValueError, match=r"actions has shape \(3, 23\); expected \(3, 24\)"):
        env.step(states, idle[:, :23], rng)
    bad = idle.copy()
    bad[1, 0] = 3                                           # corner user 0 has actions 0..2
    with pytest.raises(ValueError, match=r"action out of range: agent 0 \(copy 1\) chose 3; valid actions are 0..2"):
        env.step(states, bad, rng)
    bad[1, 0] = -1
    with pytest.raises(ValueError, match="action out of range"):
        env.step(states, bad, rng)
    with pytest.raises(ValueError, match="actions must be integers"):
        env.step(states, idle.astype(float), rng)
    with pytest.raises(ValueError, match=r"domain_factor has shape \(2, 24\)"):
        env.step(states, idle, rng, domain_factor=np.full((2, 24), 0.5))
    with pytest.raises(ValueError, match=r"domain_factor has shape \(5,\)"):
        env.reset(3, rng, domain_factor=np.full(5, 0.5))
    with pytest.raises(ValueError, match=r"domain_factor \(arrival probabilities\) must hold probabilities"):
        env.step(states, idle, rng, domain_factor=np.full(24, 1.5))
    with pytest.raises(ValueError, match=r"domain_factor \(arrival probabilities\) must hold probabilities"):
        env.reset(3, rng, domain_factor=-0.5)
    two = states.copy()
    two[0, 0] = 2
    with pytest.raises(ValueError, match="states must hold 0 or 1"):
        env.step(two, idle, rng)
    with pytest.raises(TypeError, match="states must hold integers"):
        env.step(states.astype(float), idle, rng)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        env.reset(0, rng)
    with pytest.raises(ValueError, match=r"action 9 out of range for agent 0 \(0..2\)"):
        env.decode_action(0, 9)
    with pytest.raises(ValueError, match="agent must be an integer in 0..23"):
        env.decode_action(24, 0)
    with pytest.raises(ValueError, match=r"agent 0 cannot send slot 0 to AP 3; its APs are \[0\]"):
        env.encode_action(0, 0, 3)
