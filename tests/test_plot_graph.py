"""analysis.plot_graph: the data of the two-slice figure, the PNG it writes, input errors."""

import struct

import pytest

from analysis.plot_graph import neighbourhood_slice, plot_two_slice
from causalnet.graph import FactoredGraph, GraphError
from rl.envs import WirelessAccessEnv


def _perturbed(env, removed, added):
    truth = env.true_graph()
    parents = {t: set(p) for t, p in truth.parents.items()}
    for parent, target in removed:
        parents[target].remove(parent)
    for parent, target in added:
        parents[target].add(parent)
    return FactoredGraph(truth.spec, parents), truth


def _png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_slice_of_agent_0_on_the_smallest_grid():
    learned, truth = _perturbed(WirelessAccessEnv.from_grid(2), [("domain", "s0_1")], [("a8", "r0")])
    data = neighbourhood_slice(learned, truth, 0)
    assert data["neighbourhood"] == [0, 1, 3, 4] and data["outside_agents"] == [8]
    assert [g["agent"] for g in data["groups"]] == [0, 1, 3, 4, 8]
    assert data["groups"][1] == {"agent": 1, "in_neighbourhood": True, "time_t": ["s1_0", "s1_1", "a1"],
                                 "time_t1": ["s1_0", "s1_1", "r1"]}
    assert data["groups"][4] == {"agent": 8, "in_neighbourhood": False, "time_t": ["a8"], "time_t1": []}
    assert data["time_t"] == ["s0_0", "s0_1", "a0", "s1_0", "s1_1", "a1", "s3_0", "s3_1", "a3",
                              "s4_0", "s4_1", "a4", "a8", "domain"]
    assert data["time_t1"] == ["s0_0", "s0_1", "r0", "s1_0", "s1_1", "r1", "s3_0", "s3_1", "r3",
                               "s4_0", "s4_1", "r4"]
    assert data["edge_targets"] == ["s0_0", "s0_1", "r0"]
    tp = {(p, t) for p, t, s in data["edges"] if s == "tp"}
    actions = {f"a{j}" for j in (0, 1, 3, 4)}
    assert tp == {(a, "s0_0") for a in actions} | {(a, "r0") for a in actions} | {
        ("s0_1", "s0_0"), ("s0_0", "r0"), ("s0_1", "r0")}
    assert [(p, t) for p, t, s in data["edges"] if s == "fp"] == [("a8", "r0")]
    assert [(p, t) for p, t, s in data["edges"] if s == "fn"] == [("domain", "s0_1")]
    assert data["counts"] == {"tp": 11, "fp": 1, "fn": 1}
    assert data["edges"] == sorted(data["edges"])


def test_slice_options_neighbourhood_targets_hops_and_no_truth():
    env = WirelessAccessEnv.from_grid(2)
    truth = env.true_graph()
    spec = truth.spec
    both = neighbourhood_slice(truth, truth, 0, targets="neighbourhood")
    assert both["edge_targets"] == [n for i in (0, 1, 3, 4) for n in (f"s{i}_0", f"s{i}_1", f"r{i}")]
    assert both["counts"] == {"tp": sum(len(truth.parents[t]) for t in both["edge_targets"]), "fp": 0, "fn": 0}
    # neighbours of neighbours own parents of the drawn edges: every other agent of the 3 x 3 grid
    assert both["outside_agents"] == [2, 5, 6, 7, 8]
    alone = neighbourhood_slice(truth, None, 4, hops=0)
    assert alone["neighbourhood"] == [4]
    assert alone["outside_agents"] == [i for i in spec.neighborhood(4, 1) if i != 4] == [0, 1, 2, 3, 5, 6, 7, 8]
    assert all(status == "learned" for _, _, status in alone["edges"])
    assert alone["counts"] == {"learned": (1 + 9) + 1 + (2 + 9)}  # s4_0, s4_1, r4 of the centre user
    assert neighbourhood_slice(truth, truth, 4, hops=2)["neighbourhood"] == list(range(9))


def test_two_slice_png_for_the_centre_user_of_grid_3(tmp_path):
    env = WirelessAccessEnv.from_grid(3)
    assert env.n_agents == 16 and len(env.spec.neighborhood(5, 1)) == 9
    learned, truth = _perturbed(env, [("a1", "s5_0")], [("a15", "r5"), ("s6_0", "s5_1")])
    data = neighbourhood_slice(learned, truth, 5)
    assert data["counts"] == {"tp": 21, "fp": 2, "fn": 1} and data["outside_agents"] == [15]
    path = plot_two_slice(learned, truth, 5, tmp_path / "figs" / "graph_agent5.png")
    assert path == tmp_path / "figs" / "graph_agent5.png"
    width, height = _png_size(path)
    assert 500 <= width <= 3000 and 500 <= height <= 4000
    assert [p.name for p in path.parent.iterdir()] == ["graph_agent5.png"]  # no temporary file left
    image = pytest.importorskip("matplotlib.image").imread(path)
    assert image.shape[:2] == (height, width) and image.std() > 0.05
    untruthed = plot_two_slice(learned, None, 0, str(tmp_path / "learned.png"), hops=0, title="Learned only")
    assert 500 <= _png_size(untruthed)[0] <= 3000


def test_errors(tmp_path):
    env = WirelessAccessEnv.from_grid(2)
    truth = env.true_graph()
    other = WirelessAccessEnv(2, 3, users_per_vertex=1).true_graph()
    with pytest.raises(ValueError, match=r"agent must be in 0\.\.8 .* got 9"):
        neighbourhood_slice(truth, truth, 9)
    with pytest.raises(ValueError, match="agent must be >= 0"):
        plot_two_slice(truth, truth, -1, tmp_path / "x.png")
    with pytest.raises(TypeError, match="agent must be an integer"):
        neighbourhood_slice(truth, truth, 1.0)
    with pytest.raises(GraphError, match="different specs"):
        plot_two_slice(truth, other, 0, tmp_path / "x.png")
    with pytest.raises(ValueError, match="hops must be >= 0"):
        neighbourhood_slice(truth, truth, 0, hops=-1)
    with pytest.raises(ValueError, match=r"targets must be one of \['agent', 'neighbourhood'\]"):
        neighbourhood_slice(truth, truth, 0, targets="all")
    with pytest.raises(TypeError, match="truth must be a FactoredGraph or None"):
        neighbourhood_slice(truth, truth.to_dict(), 0)
    with pytest.raises(TypeError, match="path must be a str or os.PathLike"):
        plot_two_slice(truth, truth, 0, None)
    with pytest.raises(ValueError, match="dpi must be at most 600"):
        plot_two_slice(truth, truth, 0, tmp_path / "x.png", dpi=1000)
    assert not (tmp_path / "x.png").exists()
