"""Network file and table loader: coding, codebook, formats, memory layout, and every bad input."""

import json

import numpy as np
import pandas as pd
import pytest

from causalnet.codebook import Codebook
from causalnet.network_file import NetworkFileError, load_network_file, network_from_dict
from causalnet.tables_read import TableError, read_table

NET = {"n_agents": 2, "edges": [[0, 1]], "state_names": ["s0_0", "s1_0"], "gamma": 0.9, "horizon": 3}


def _frame(rows=6, **changes):
    """Two episodes of three steps in domains 'lo' and 'hi' (labels: text states, 1-based actions)."""
    data = {"domain": ["lo"] * 3 + ["hi"] * 3, "episode": ["e1"] * 3 + ["e2"] * 3, "t": [0, 1, 2] * 2,
            "s0_0": ["off", "on", "on", "on", "off", "off"], "s1_0": [1, 2, 3, 3, 2, 1],
            "a0": [1, 2, 1, 2, 2, 1], "a1": [2, 2, 1, 1, 1, 2], "r0": [0.5, 1.0, 0.0, 0.25, 0.0, 1.0],
            "r1": [1.0, 0.0, 0.5, 0.5, 0.0, 0.0],
            "s0_0_next": ["on", "on", "off", "off", "off", "on"], "s1_0_next": [2, 3, 3, 2, 1, 1]}
    data.update(changes)
    return pd.DataFrame(data).iloc[:rows]


def test_codes_follow_sorted_labels_and_codebook_round_trips(tmp_path):
    net = network_from_dict(NET)
    data, cb = read_table(_frame(), net)
    assert cb.variables["s0_0"] == ["off", "on"] and cb.variables["s1_0"] == [1, 2, 3]
    assert cb.variables["a0"] == [1, 2] and cb.domains == ["hi", "lo"]
    np.testing.assert_array_equal(data.states[:, 0], [0, 1, 1, 1, 0, 0])
    np.testing.assert_array_equal(data.next_states[:, 1], [1, 2, 2, 1, 0, 0])
    np.testing.assert_array_equal(data.actions[:, 0], [0, 1, 0, 1, 1, 0])
    np.testing.assert_array_equal(data.domain, [1, 1, 1, 0, 0, 0])
    assert data.states.dtype == np.int8 and data.actions.dtype == np.int8 and data.rewards.dtype == np.float32
    assert data.spec.state_cardinality == (2, 3) and data.spec.action_cardinality == (2, 2)
    cb.save(tmp_path / "codebook.json")
    again = Codebook.load(tmp_path / "codebook.json")
    assert again.decode("s0_0", data.states[:3, 0]) == ["off", "on", "on"]
    assert again.encode("s1_0", [3, 1]).tolist() == [2, 0]


def test_csv_parquet_and_dataframe_agree_chunk_by_chunk(tmp_path):
    net = network_from_dict(NET)
    df = _frame()
    df.to_csv(tmp_path / "logs.csv", index=False)
    df.to_parquet(tmp_path / "logs.parquet")
    ref, cb = read_table(df, net)
    for src in (tmp_path / "logs.csv", tmp_path / "logs.parquet"):
        got, cb2 = read_table(src, net, chunk_cells=30)    # chunks of 2 rows: labels first seen late
        assert cb2.variables == cb.variables
        for name in ("states", "next_states", "actions", "rewards", "domain", "time"):
            np.testing.assert_array_equal(getattr(got, name), getattr(ref, name))


def test_rewards_take_the_narrowest_exact_type_across_chunks():
    net = network_from_dict(NET)
    whole = _frame(r0=[0, 1, 0, 1, 0, 1], r1=[0, 0, 1, 1, 0, 0])
    assert read_table(whole, net, chunk_cells=30)[0].rewards.dtype == np.int8
    late = _frame(r0=[0, 1, 0, 1, 0, 0.1])               # the last chunk needs float64
    data = read_table(late, net, chunk_cells=30)[0]
    assert data.rewards.dtype == np.float64 and data.rewards[5, 0] == 0.1
    np.testing.assert_array_equal(data.rewards[:5, 0], [0, 1, 0, 1, 0])


def test_target_uses_source_codebook_and_fresh_domain_labels():
    net = network_from_dict(NET)
    _, cb = read_table(_frame(), net)
    target = _frame(domain=["new"] * 6, s0_0=["on"] * 6, s0_0_next=["on"] * 6)
    got, tcb = read_table(target, net, codebook=cb)
    assert got.states[:, 0].tolist() == [1] * 6 and tcb.domains == ["new"]
    with pytest.raises(TableError, match="domain label 'lo' is already used by a source domain"):
        read_table(_frame(domain=["lo"] * 6), net, codebook=cb)
    with pytest.raises(TableError, match="never seen in the source data"):
        read_table(_frame(domain=["new"] * 6, s1_0=[1, 2, 3, 4, 2, 1]), net, codebook=cb)


@pytest.mark.parametrize("change, message", [
    ({"drop": "r1"}, r"missing column\(s\) \['r1'\]"),
    ({"drop": "s1_0_next"}, r"column 's1_0_next' \(the next value of state 's1_0'\) is missing"),
    ({"add": "extra"}, r"column\(s\) \['extra'\] are not in"),
    ({"t": [0, 1, 3, 0, 1, 2]}, r"row 3 has t = 3, which does not follow t = 1 of episode 'e1' in domain 'lo'"),
    ({"s1_0": [1, 2, "x", 3, 2, 1]}, "mixes label types"),
    ({"s1_0": list(np.linspace(0.1, 0.9, 6)), "s1_0_next": list(np.linspace(0.15, 0.95, 6))}, "looks continuous"),
    ({"r0": [0.5, "high", 0, 0, 0, 0]}, "rewards must be numbers"),
    ({"t": [0, 1, 1, 0, 1, 2]}, r"row 3 has t = 1, which does not follow t = 1 of episode 'e1' in domain 'lo'"),
])
def test_bad_tables_name_the_problem(change, message):
    change = dict(change)
    df = _frame()
    if "drop" in change:
        df = df.drop(columns=[change.pop("drop")])
    if "add" in change:
        df[change.pop("add")] = 0
    for k, v in change.items():
        df[k] = v
    with pytest.raises(TableError, match=message):
        read_table(df, network_from_dict(NET), max_levels=5)


def test_network_names_that_do_not_match_the_table():
    net = network_from_dict({**NET, "state_names": ["x0_0", "x1_0"], "state_owner": [0, 1]})
    with pytest.raises(TableError, match="do not match the table"):
        read_table(_frame(), net)


@pytest.mark.parametrize("data, message", [
    ({**NET, "edges": [[0, 5]]}, r"edges\[0\] = \[0, 5\] names agent 5, but agents are 0..1"),
    ({**NET, "state_names": ["s0_0", "speed"]}, "'speed' does not follow the default naming"),
    ({**NET, "state_names": ["a", "b"], "state_owner": [0, 3]}, "'b' belongs to agent 3"),
    ({**NET, "action_names": ["a0"]}, "action_names has 1 entries; expected one per agent"),
    ({**NET, "colour": 1}, r"unknown key\(s\) \['colour'\]"),
    ({**NET, "gamma": 1.5}, "gamma must be a number in"),
    ({**NET, "reward_names": ["r0", "s0_0"]}, "'s0_0' is used twice"),
])
def test_bad_network_files_name_the_entry(data, message):
    with pytest.raises(NetworkFileError, match=message):
        network_from_dict(data)


def test_network_file_toml_and_json(tmp_path):
    (tmp_path / "net.toml").write_text('n_agents = 3\nedges = [[0, 1], [1, 2]]\nstate_dims = [1, 2, 1]\n'
                                       '[domain_values]\n"beta=0.2" = 0.2\n')
    net = load_network_file(tmp_path / "net.toml")
    assert net.state_names == ("s0_0", "s1_0", "s1_1", "s2_0") and net.state_owner == (0, 1, 1, 2)
    assert net.domain_values == {"beta=0.2": 0.2} and net.gamma is None
    (tmp_path / "net.json").write_text(json.dumps(net.to_dict()))
    assert load_network_file(tmp_path / "net.json").state_names == net.state_names
    (tmp_path / "bad.toml").write_text("n_agents = [")
    with pytest.raises(NetworkFileError, match="is not valid TOML"):
        load_network_file(tmp_path / "bad.toml")


@pytest.mark.slow
def test_coded_int8_data_flows_through_discovery_and_the_model():
    """1-based integer labels, 0/1 rewards: int8 codes and int8 rewards work downstream unchanged."""
    from causalnet import DiscoveredModel, LocalDiscovery

    rng = np.random.default_rng(0)
    rows, n = 4000, 2
    s = rng.integers(1, 3, size=(rows, n))                   # labels 1, 2
    a = rng.integers(1, 3, size=(rows, n))
    dom = np.repeat(["calm", "busy"], rows // 2)
    busy = rng.random((rows, n)) < np.where(dom == "busy", 0.6, 0.1)[:, None]
    nxt = np.where(busy, 2, s)                               # busy periods push states to label 2
    df = pd.DataFrame({"domain": dom, "episode": np.arange(rows) // 10, "t": np.arange(rows) % 10,
                       "s0_0": s[:, 0], "s1_0": s[:, 1], "a0": a[:, 0], "a1": a[:, 1],
                       "r0": (s[:, 0] == 2).astype(float), "r1": (a[:, 1] == 1).astype(float),
                       "s0_0_next": nxt[:, 0], "s1_0_next": nxt[:, 1]})
    data, cb = read_table(df, network_from_dict(NET))
    assert data.states.dtype == np.int8 and data.rewards.dtype == np.int8 and cb.variables["a0"] == [1, 2]
    np.testing.assert_array_equal(data.states, s - 1)
    graph = LocalDiscovery(alpha=0.001).fit(data).graph_
    assert graph.parents["r0"] == {"s0_0"} and graph.parents["r1"] == {"a1"}
    assert "domain" in graph.parents["s0_0"] and "domain" in graph.parents["s1_0"]
    model = DiscoveredModel(graph).fit(data, domain_factors=np.array([[0.6, 0.6], [0.1, 0.1]]))
    states = model.reset(500, rng, domain_factor=np.array([0.6, 0.6]))
    _, r = model.step(states, np.zeros((500, 2), dtype=np.int64), rng)
    np.testing.assert_array_equal(r[:, 0], states[:, 0])     # r0 = 1 exactly when s0_0 is label 2 (code 1)
    np.testing.assert_array_equal(r[:, 1], 1.0)              # a1 = code 0 = label 1


def test_episode_labels_may_restart_in_every_domain():
    data, _ = read_table(_frame(episode=[0, 0, 0, 0, 0, 0]), network_from_dict(NET))
    assert data.n_episodes == 2 and sorted(set(zip(data.domain.tolist(), data.episode.tolist()))) == [(0, 0), (1, 1)]

