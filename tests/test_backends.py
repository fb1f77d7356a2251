"""Tests of causalnet.backends: one interface, bit-identical results whatever the backend and worker count."""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest

from causalnet.backends import (BackendError, LocalBackend, RayBackend, SerialBackend, TaskContext,
                                check_ray_address, make_backend, task_seeds)
from causalnet.discovery import LocalDiscovery
from rl.envs import WirelessAccessEnv
from rl.rollout import collect_transitions


def _noisy_rows(task: int, ctx: TaskContext) -> np.ndarray:
    """Row ``task`` of the shared matrix times fresh noise from the task's own stream."""
    return ctx.shared["matrix"][task] * ctx.rng().standard_normal(ctx.shared["matrix"].shape[1])


def _write_shared(task: int, ctx: TaskContext) -> None:
    ctx.shared["matrix"][0, 0] = 1.0


def _fail_on_two(task: int, ctx: TaskContext) -> int:
    if task == 2:
        raise KeyError(f"task {task} failed")
    return task


def _reference(matrix: np.ndarray, seed: int) -> list[np.ndarray]:
    """The expected numbers, computed without any backend: child i of SeedSequence(seed) for task i."""
    children = np.random.SeedSequence(seed).spawn(len(matrix))
    return [matrix[i] * np.random.default_rng(c).standard_normal(matrix.shape[1]) for i, c in enumerate(children)]


@pytest.fixture(scope="module")
def ray_backend():
    """A local Ray instance with 2 CPUs, started here and shut down after the module's tests."""
    ray = pytest.importorskip("ray")
    # the task functions below live in this test module, which Ray workers cannot import: send them by value
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    backend = RayBackend(2)
    yield backend
    backend.close()
    ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert not ray.is_initialized()


@pytest.fixture(scope="module")
def matrix():
    # Fortran order on purpose: shared memory must keep the layout
    return np.asfortranarray(np.random.default_rng(11).normal(size=(7, 5)))


def test_task_seeds_are_the_spawned_children_and_do_not_advance_the_root():
    root = np.random.SeedSequence(5)
    first, again = task_seeds(root, 4), task_seeds(root, 4)
    spawned = np.random.SeedSequence(5).spawn(4)
    for a, b, c in zip(first, again, spawned):
        assert a.generate_state(4).tolist() == b.generate_state(4).tolist() == c.generate_state(4).tolist()
    assert len({tuple(s.generate_state(2)) for s in first}) == 4
    with pytest.raises(TypeError, match="seed must be"):
        task_seeds(-1, 2)


def test_serial_and_local_backends_give_the_reference_numbers_bit_for_bit(matrix):
    expected = _reference(matrix, seed=3)
    assert [LocalBackend(n).workers for n in (1, 2, 3)] == [1, 2, 3]
    for backend in (SerialBackend(), LocalBackend(1), LocalBackend(2), LocalBackend(3)):
        got = backend.map(_noisy_rows, range(len(matrix)), seed=3, shared={"matrix": matrix})
        assert [g.tobytes() for g in got] == [e.tobytes() for e in expected], backend.describe()


def test_ray_backend_gives_the_reference_numbers_bit_for_bit(ray_backend, matrix):
    expected = _reference(matrix, seed=3)
    one_at_a_time = RayBackend(1)          # joins the running instance, one task in flight
    assert not one_at_a_time._owns
    for backend in (ray_backend, one_at_a_time):
        got = backend.map(_noisy_rows, range(len(matrix)), seed=3, shared={"matrix": matrix})
        assert [g.tobytes() for g in got] == [e.tobytes() for e in expected], backend.describe()
    assert ray_backend.workers == 2 and one_at_a_time.workers == 1


def test_results_in_task_order_and_every_completion_reported(matrix):
    seen = []
    got = LocalBackend(2).map(_fail_on_two, [5, 4, 3], on_result=lambda i, r: seen.append((i, r)))
    assert got == [5, 4, 3]
    assert sorted(seen) == [(0, 5), (1, 4), (2, 3)]
    assert SerialBackend().map(_fail_on_two, []) == []


@pytest.mark.parametrize("backend", [SerialBackend(), LocalBackend(2)], ids=["serial", "local"])
def test_shared_arrays_are_read_only_and_task_errors_propagate(backend, matrix):
    with pytest.raises(ValueError, match="read-only"):
        backend.map(_write_shared, [0], shared={"matrix": matrix})
    assert matrix[0, 0] != 1.0
    with pytest.raises(KeyError, match="task 2 failed"):
        backend.map(_fail_on_two, range(4))


def test_local_backend_needs_a_picklable_function(matrix):
    with pytest.raises(TypeError, match="cannot be pickled"):
        LocalBackend(2).map(lambda task, ctx: task, [1, 2])
    with pytest.raises(ValueError, match="has no seed"):
        SerialBackend().map(_noisy_rows, [0], shared={"matrix": matrix})


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"name": "gpu"}, "backend must be one of"),
    ({"name": "local", "workers": 0}, "workers must be a positive integer"),
    ({"name": "local", "workers": True}, "workers must be a positive integer"),
    ({"name": "local", "address": "auto"}, "needs the ray backend"),
    ({"name": "ray", "address": "no-port-here"}, "Ray address must be"),
])
def test_make_backend_rejects_bad_settings(kwargs, match):
    with pytest.raises(BackendError, match=match):
        make_backend(**kwargs)


def test_a_ray_address_that_does_not_answer_fails_at_once():
    start = time.perf_counter()
    with pytest.raises(BackendError, match=r"no Ray cluster answers at '127\.0\.0\.1:9'"):
        make_backend("ray", 2, address="127.0.0.1:9")
    with pytest.raises(BackendError, match="no Ray cluster answers"):
        check_ray_address("ray://127.0.0.1:9", timeout=0.5)
    assert time.perf_counter() - start < 10


@pytest.mark.filterwarnings("ignore:.*CI tests had fewer:UserWarning")
def test_discovery_on_every_backend_gives_the_serial_graph(ray_backend):
    env = WirelessAccessEnv.from_grid(2)     # 9 agents
    tr = collect_transitions(env, None, episodes=120, horizon=10, domain_factors=(0.2, 0.5, 0.8), rng=1)
    serial = LocalDiscovery(executor=SerialBackend()).fit(tr)
    assert serial.graph_ == LocalDiscovery().fit(tr).graph_
    assert serial.graph_.n_edges() > 0
    for backend in (LocalBackend(2), ray_backend):
        model = LocalDiscovery(executor=backend).fit(tr)
        assert model.graph_ == serial.graph_, backend.describe()
        assert model.n_tests_ == serial.n_tests_
        assert model.pvalues_ == serial.pvalues_           # exact, not approximately
        assert model.sepsets_ == serial.sepsets_
    with pytest.raises(TypeError, match="executor must be"):
        LocalDiscovery(executor="ray").fit(tr)


# ------------------------------------------------------------------ causalnet run --backend
TINY_RUN = ["--set", "data.episodes=600", "--set", "train.iterations=300", "--set", "train.runs=2",
            "--set", "train.eval_points=3", "--set", "train.eval_episodes=40", "--set", "adapt.episodes=4",
            "--set", "adapt.eval_episodes=40", "--set", "analysis.error_repeats=3",
            "--set", "analysis.error_trajectories=[2, 8]"]


def test_run_rejects_a_silent_ray_address_before_running(tmp_path, capsys):
    from causalnet_cli.main import main

    out = tmp_path / "run"
    assert main(["run", "--quick", "--out", str(out), "--ray-address", "127.0.0.1:9"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("causalnet run: error: no Ray cluster answers at '127.0.0.1:9'") and "\n" not in err
    assert not out.exists()


@pytest.mark.slow
def test_run_with_a_backend_writes_the_same_files(tmp_path):
    from causalnet_cli.main import main

    default, pooled = tmp_path / "default", tmp_path / "pooled"
    assert main(["run", "--out", str(default), "--no-progress", *TINY_RUN]) == 0
    assert main(["run", "--out", str(pooled), "--no-progress", "--backend", "local", "--workers", "2",
                 *TINY_RUN]) == 0
    for name in ("graph.json", "structure_metrics.json", "acr.json", "metrics.json", "adaptation.json"):
        assert (default / name).read_bytes() == (pooled / name).read_bytes(), name
