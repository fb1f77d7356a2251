"""Tests for analysis.layout and analysis.plot_acr (ACR layout figure, dimension table)."""

from __future__ import annotations

import json
import math

import matplotlib.image
import networkx as nx
import numpy as np
import pytest

from analysis.layout import VERTEX_SPREAD, access_point_positions, network_positions
from analysis.plot_acr import (acr_membership, dimension_rows, format_dimension_table, plot_acr_layout,
                               plot_dimension_table, size_text)
from causalnet.acr import acr_table, domain_acr, policy_acr, value_acr
from causalnet.graph import FactoredGraph
from causalnet.spec import default_spec
from rl.envs import SyntheticNetworkEnv, WirelessAccessEnv


@pytest.fixture(scope="module")
def wireless():
    return WirelessAccessEnv.from_grid(3)


@pytest.fixture(scope="module")
def synthetic():
    return SyntheticNetworkEnv.random(12, rng=0)


def _chain_graph() -> FactoredGraph:
    """Path 0-1-2-3; r0 <- s0_0 <- s1_0 <- s2_0 <- s3_0; s1_0 and s2_0 domain-affected."""
    spec = default_spec(4, [(0, 1), (1, 2), (2, 3)], 1, 3, 2)
    return FactoredGraph(spec, {"r0": ["s0_0", "a0"], "s0_0": ["s1_0"], "s1_0": ["s2_0", "domain"],
                                "s2_0": ["s3_0", "domain"], "s3_0": ["s3_0"]})


# ----------------------------------------------------------------------------- membership

def test_wireless_value_acr_is_own_queue_and_flags_match_neighbourhood(wireless):
    g = wireless.true_graph()
    spec = g.spec
    for i in range(spec.n_agents):
        m = acr_membership(g, i, 1)
        own = [f"s{i}_0", f"s{i}_1"]
        assert m["value_acr"] == own == value_acr(g, i, kappa=1)
        assert m["policy_acr"] == own == policy_acr(g, i, kappa=1)
        assert m["domain_acr"] == [i] == domain_acr(g, i, kappa=1)
        hood = spec.neighborhood(i, 1)
        assert m["neighborhood"] == hood
        assert {j for j, f in m["agents"].items() if f["in_neighborhood"]} == set(hood)
        assert {j for j, f in m["agents"].items() if f["in_value_acr"]} == {i}
        assert {j for j, f in m["agents"].items() if f["in_policy_acr"]} == {i}
        assert {j for j, f in m["agents"].items() if f["in_domain_acr"]} == {i}
        assert m["agents"][i]["value_coords"] == own
        assert m["counts"] == {"n_state": 32, "n_agents": 16, "value": 2, "policy": 2, "domain": 1,
                               "kappa_hop": 2 * len(hood), "kappa_hop_agents": len(hood),
                               "value_agents": 1, "policy_agents": 1}
    # corner user 0 shares one AP (users 0, 1, 4, 5); centre user 5 shares four (3 x 3 block)
    assert acr_membership(g, 0, 1)["neighborhood"] == [0, 1, 4, 5]
    assert acr_membership(g, 5, 1)["counts"]["kappa_hop"] == 18


def test_membership_on_chain_with_known_answer():
    g = _chain_graph()
    m = acr_membership(g, 0, 2)
    assert m["value_acr"] == ["s0_0", "s1_0", "s2_0"]       # s3_0 is 3 hops away: outside N_0^2
    assert m["policy_acr"] == ["s0_0", "s1_0"]               # N_0 = {0, 1}
    assert m["domain_acr"] == [1, 2]
    assert m["depths"] == {"s0_0": 0, "s1_0": 1, "s2_0": 2}
    assert [m["agents"][j]["hops"] for j in range(4)] == [0, 1, 2, 3]
    assert [m["agents"][j]["in_neighborhood"] for j in range(4)] == [True, True, True, False]
    assert [m["agents"][j]["in_value_acr"] for j in range(4)] == [True, True, True, False]
    assert [m["agents"][j]["in_policy_acr"] for j in range(4)] == [True, True, False, False]
    assert [m["agents"][j]["in_domain_acr"] for j in range(4)] == [False, True, True, False]
    assert m["counts"]["kappa_hop"] == 3 and m["counts"]["value"] == 3 and m["counts"]["policy"] == 2
    m0 = acr_membership(g, 0, 0)
    assert m0["value_acr"] == ["s0_0"] and m0["neighborhood"] == [0] and m0["domain_acr"] == []


def test_synthetic_membership_agrees_with_acr_functions(synthetic):
    g = synthetic.true_graph()
    spec = g.spec
    for i in range(spec.n_agents):
        m = acr_membership(g, i, 2)
        assert m["value_acr"] == value_acr(g, i, kappa=2)
        assert m["policy_acr"] == policy_acr(g, i, kappa=2)
        assert m["domain_acr"] == domain_acr(g, i, kappa=2)
        per = m["agents"]
        assert sorted(s for f in per.values() for s in f["value_coords"]) == sorted(m["value_acr"])
        assert sorted(s for f in per.values() for s in f["policy_coords"]) == sorted(m["policy_acr"])
        lengths = nx.single_source_shortest_path_length(spec.interaction_graph, i)
        for j, f in per.items():
            assert f["hops"] == lengths.get(j)
            assert f["in_neighborhood"] == (j in spec.neighborhood(i, 2))
            if f["in_value_acr"]:
                assert f["in_neighborhood"]
            if f["in_policy_acr"]:
                assert f["in_value_acr"] and f["in_one_hop"]
    # the example of docs/analysis-acr.md: agent 4's value ACR reaches agent 10, two hops away
    m = acr_membership(g, 4, 2)
    assert (m["counts"]["value"], m["counts"]["value_agents"], m["counts"]["policy"]) == (8, 4, 6)
    assert [j for j, f in m["agents"].items() if f["in_value_acr"] and not f["in_policy_acr"]] == [10]
    assert m["agents"][10]["hops"] == 2 and m["domain_acr"] == [4, 10]


# ----------------------------------------------------------------------------- dimension table

def test_dimension_rows_equal_acr_table(wireless, synthetic):
    for env, kappa in ((wireless, 1), (synthetic, 2)):
        table = acr_table(env.true_graph(), kappa=kappa)
        pairs = {"full": "full_dim", "kappa_hop": "kappa_hop_dim", "acr": "acr_dim", "policy_acr": "policy_acr_dim"}
        for agent in (0, 5):
            rows = dimension_rows(table, agent=agent)
            assert [r["key"] for r in rows] == list(pairs)
            for r in rows:
                assert r["dimension"] == table[agent][pairs[r["key"]]]
                assert r["size"] == table[agent][f"{r['key']}_size"]
                assert r["log10_size"] == table[agent][f"{r['key']}_log10_size"]
                assert r["agent"] == agent and r["kappa"] == kappa
        rows = dimension_rows(table)
        for r in rows:
            dims = [t[pairs[r["key"]]] for t in table]
            assert r["dimension"] == max(dims)
            assert r["dimension_mean"] == pytest.approx(np.mean(dims))
            assert r["log10_size"] == max(t[f"{r['key']}_log10_size"] for t in table)
            assert r["size"] == table[r["agent"]][f"{r['key']}_size"]


def test_dimension_rows_wireless_numbers(wireless):
    rows = {r["key"]: r for r in dimension_rows(acr_table(wireless.true_graph(), kappa=1), agent=5)}
    assert rows["full"]["dimension"] == 32 and rows["full"]["size"] == 2**32
    assert rows["full"]["size_text"] == "10^9.6"
    assert rows["kappa_hop"]["dimension"] == 18 and rows["kappa_hop"]["size_text"] == "262,144"
    assert rows["acr"]["dimension"] == 2 and rows["acr"]["size_text"] == "4"
    assert rows["policy_acr"]["dimension"] == 2
    md = format_dimension_table(acr_table(wireless.true_graph(), kappa=1))
    assert "| Full state | s = (s_1, ..., s_n), every agent | 32 | 10^9.6 |" in md
    # |N_i| is 4 for the 4 corner users, 6 for the 8 border users, 9 for the 4 inner users:
    # 2 coordinates each, mean (4 * 8 + 8 * 12 + 4 * 18) / 16 = 12.5
    assert "| 18 (mean 12.5) | 262,144 |" in md
    assert "largest over 16 agents" in md


def test_dimension_rows_accept_json_round_trip(synthetic):
    table = acr_table(synthetic.true_graph(), kappa=1)
    assert dimension_rows(json.loads(json.dumps(table))) == dimension_rows(table)


def test_size_text_formats():
    assert size_text(math.log10(999_999), 999_999) == "999,999"
    assert size_text(math.log10(2**21), 2**21) == "10^6.3"
    assert size_text(40.0, None) == "10^40.0"
    assert size_text(math.inf) == "infinite (continuous)"


# ----------------------------------------------------------------------------- layout

def test_wireless_layout_matches_grid(wireless):
    pos = network_positions(wireless.spec, wireless.config())
    assert pos == {i: (float(i % 4), float(-(i // 4))) for i in range(16)}
    aps = access_point_positions(wireless.config())
    assert len(aps) == 9
    for k, (x, y) in enumerate(aps):       # the AP sits at the centre of the users it serves
        users = np.flatnonzero(wireless.access[:, k])
        np.testing.assert_allclose(np.mean([pos[u] for u in users], axis=0), (x, y))


def test_wireless_layout_spreads_users_sharing_a_vertex():
    env = WirelessAccessEnv(3, 4, users_per_vertex=3)
    pos = network_positions(env.spec, env.config())
    for i in range(env.n_agents):
        v = i // 3
        np.testing.assert_allclose(math.dist(pos[i], (v % 4, -(v // 4))), VERTEX_SPREAD)
    assert len(set(pos.values())) == env.n_agents


def test_spring_layout_deterministic(synthetic):
    a = network_positions(synthetic.spec, synthetic.config(), rng=3)
    b = network_positions(synthetic.spec, synthetic.config(), rng=3)
    c = network_positions(synthetic.spec, None, rng=np.random.default_rng(3))
    d = network_positions(synthetic.spec, None, rng=4)
    assert a == b and a == c and sorted(a) == list(range(12))
    assert a != d
    assert access_point_positions(synthetic.config()) == []


def test_layout_bad_inputs(wireless):
    with pytest.raises(ValueError, match="16 agents"):
        network_positions(wireless.spec, {"env": "wireless", "height": 3, "width": 3, "users_per_vertex": 1})
    with pytest.raises(ValueError, match="missing 'width'"):
        network_positions(wireless.spec, {"env": "wireless", "height": 4, "users_per_vertex": 1})
    with pytest.raises(TypeError, match="env_config"):
        network_positions(wireless.spec, [("env", "wireless")])
    with pytest.raises(TypeError, match="spec"):
        network_positions(wireless.true_graph())


# ----------------------------------------------------------------------------- figures

def _png_size(path) -> tuple[int, int]:
    img = matplotlib.image.imread(path)
    assert img.ndim == 3 and img.shape[2] in (3, 4)
    return img.shape[1], img.shape[0]


def test_plot_acr_layout_wireless_and_synthetic(tmp_path, wireless, synthetic):
    out = plot_acr_layout(wireless.true_graph(), 5, 1, tmp_path / "w" / "acr.png", env_config=wireless.config())
    assert out == tmp_path / "w" / "acr.png"
    w, h = _png_size(out)
    assert 700 <= w <= 1600 and 700 <= h <= 1600
    out = plot_acr_layout(synthetic.true_graph(), 4, 2, str(tmp_path / "s.png"), env_config=synthetic.config(),
                          panels="split", title="synthetic")
    w, h = _png_size(out)
    assert 1200 <= w <= 2500 and 600 <= h <= 1400


def test_plot_dimension_table(tmp_path, wireless):
    table = acr_table(wireless.true_graph(), kappa=1)
    w, h = _png_size(plot_dimension_table(table, tmp_path / "t.png"))
    assert 800 <= w <= 1600 and 500 <= h <= 1200
    assert _png_size(plot_dimension_table(table, tmp_path / "t5.png", agent=5, title="agent 5")) == (w, h)


def test_bad_inputs_raise(tmp_path, wireless):
    g = wireless.true_graph()
    with pytest.raises(ValueError, match="agent must be an integer in 0..15"):
        acr_membership(g, 16, 1)
    with pytest.raises(ValueError, match="agent"):
        acr_membership(g, -1, 1)
    with pytest.raises(ValueError, match="kappa must be an integer >= 0"):
        acr_membership(g, 0, -1)
    with pytest.raises(ValueError, match="kappa"):
        acr_membership(g, 0, 1.5)
    with pytest.raises(TypeError, match="graph"):
        acr_membership(g.spec, 0, 1)
    with pytest.raises(ValueError, match="agent"):
        plot_acr_layout(g, 16, 1, tmp_path / "x.png")
    with pytest.raises(ValueError, match="kappa"):
        plot_acr_layout(g, 0, -2, tmp_path / "x.png")
    with pytest.raises(ValueError, match="panels"):
        plot_acr_layout(g, 0, 1, tmp_path / "x.png", panels="both")
    with pytest.raises(TypeError, match="path"):
        plot_acr_layout(g, 0, 1, 3)
    with pytest.raises(TypeError, match="title"):
        plot_acr_layout(g, 0, 1, tmp_path / "x.png", title=5)
    assert not (tmp_path / "x.png").exists()
    table = acr_table(g, kappa=1)
    with pytest.raises(ValueError, match="empty"):
        dimension_rows([])
    with pytest.raises(TypeError, match="table_rows"):
        dimension_rows({"agent": 0})
    with pytest.raises(ValueError, match="missing key"):
        dimension_rows([{"agent": 0, "kappa": 1}])
    with pytest.raises(ValueError, match="agent must be None or one of"):
        dimension_rows(table, agent=16)
    with pytest.raises(ValueError, match="several kappa"):
        dimension_rows(table + acr_table(g, kappa=2))
    with pytest.raises(ValueError, match="more than once"):
        dimension_rows(table + table)
    with pytest.raises(ValueError, match="agent"):
        plot_dimension_table(table, tmp_path / "t.png", agent=-1)
