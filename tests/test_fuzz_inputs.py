"""Fuzz suite: every file the project reads, damaged in five ways, must load or fail with the project's error.

Input kinds: a ``Transitions`` dataset (``NAME.npz`` + ``NAME.json``), ``graph.json``,
``acr.json``, a policy bundle (``policy.json``, ``policy.npz``, ``graph.json``), a TOML
configuration of ``causalnet run`` and a streamed ``progress.jsonl``. Damage: truncated,
bit-flipped, a value of the wrong type, a missing key, an extra key. Every variant must
either load (a damage that happens to leave a valid file, e.g. a flipped bit in a digit)
or raise a :class:`~causalnet.errors.CausalnetError` whose message names the damaged file;
any other exception fails the test. Variants that cannot be valid (a required key removed,
an unknown top-level key, a truncation that cuts into the content, a damaged file guarded
by a checksum) must raise. Reading never writes, so there is no partial output to check
beyond the reader's return value.

The examples are derandomized (the same cases every run) and bounded: about 15 s in total.
``CASES`` counts the variants tried per input kind (printed with ``-s``).
"""

from __future__ import annotations

import copy
import json
import shutil
import tomllib
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from causalnet.acr import acr_table, domain_acr, policy_acr, value_acr
from causalnet.acr_file import read_acr
from causalnet.errors import CausalnetError
from causalnet.graph import FactoredGraph
from causalnet.progress_log import ProgressLog, read_progress
from causalnet_cli.pipeline.config import config_to_toml, load_config, quick_config, config_from_dict
from rl.envs import WirelessAccessEnv

#: Variants per input kind and damage (6 input kinds x 5 damages x EXAMPLES cases in all).
EXAMPLES = 6
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
DAMAGE = ("truncated", "bit-flipped", "wrong type", "missing key", "extra key")
CASES: dict[str, dict[str, int]] = {}


# ------------------------------------------------------------------ damage
def _paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside nested dicts and lists."""
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.append(prefix + (k,))
            out += _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:6]):                      # a few items of long lists suffice
            out.append(prefix + (i,))
            out += _paths(v, prefix + (i,))
    return out


def _get(obj: Any, path: tuple) -> Any:
    for key in path:
        obj = obj[key]
    return obj


def _wrong(value: Any) -> Any:
    """A value of another JSON type."""
    if isinstance(value, bool):
        return [value]
    if isinstance(value, (int, float)):
        return f"{value}"
    if isinstance(value, str):
        return {"text": value}
    if isinstance(value, list):
        return {"items": value}
    if isinstance(value, dict):
        return [value]
    return 3.5


def damage_json(obj: Any, kind: str, data: st.DataObject) -> tuple[Any, bool]:
    """``(damaged object, surely_invalid)`` for the JSON-level damages."""
    obj = copy.deepcopy(obj)
    if kind == "extra key":
        dicts = [()] + [p for p in _paths(obj) if isinstance(_get(obj, p), dict)]
        path = data.draw(st.sampled_from(dicts), label="dict")
        _get(obj, path)["unexpected_key"] = 1
        return obj, path == ()
    if kind == "missing key":
        keys = [p for p in _paths(obj) if isinstance(_get(obj, p[:-1]), dict)]
        path = data.draw(st.sampled_from(keys), label="key")
        del _get(obj, path[:-1])[path[-1]]
        return obj, False
    paths = _paths(obj)
    path = data.draw(st.sampled_from(paths), label="value")
    _get(obj, path[:-1])[path[-1]] = _wrong(_get(obj, path))
    return obj, False


def damage_bytes(raw: bytes, kind: str, data: st.DataObject) -> tuple[bytes, bool]:
    if kind == "truncated":
        cut = data.draw(st.integers(0, len(raw) - 1), label="cut")
        return raw[:cut], bool(raw[cut:].strip())
    position = data.draw(st.integers(0, len(raw) - 1), label="byte")
    bit = data.draw(st.integers(0, 7), label="bit")
    out = bytearray(raw)
    out[position] ^= 1 << bit
    return bytes(out), False


def _required_removed(original: dict, damaged: dict, required: tuple[str, ...]) -> bool:
    """A required top-level key, or a required field of the network spec, was deleted."""
    if any(key in original and key not in damaged for key in required):
        return True
    spec, spec_damaged = original.get("spec"), damaged.get("spec")
    return isinstance(spec_damaged, dict) and any(k not in spec_damaged for k in spec if k != "domain_name")


def _count(input_kind: str, damage: str) -> None:
    CASES.setdefault(input_kind, {}).setdefault(damage, 0)
    CASES[input_kind][damage] += 1


def check(load: Callable[[], Any], names: list[str], surely_invalid: bool, where: str) -> None:
    """``load()`` either returns or raises a CausalnetError naming one of ``names``."""
    try:
        load()
    except CausalnetError as exc:
        message = str(exc)
        assert any(name in message for name in names), f"{where}: the message names no file: {message!r}"
        assert "\n" not in message.strip() or len(message) < 2000
        return
    except Exception as exc:                                   # noqa: BLE001 - the point of the test
        pytest.fail(f"{where}: {type(exc).__name__} instead of the project's error: {exc}")
    assert not surely_invalid, f"{where}: the damaged file was accepted"


# ------------------------------------------------------------------ originals
@pytest.fixture(scope="module")
def originals(tmp_path_factory) -> dict[str, Path]:
    from rl.algorithms import make_trainer
    from rl.persistence import PolicyBundle, save_policy
    from rl.rollout import collect_transitions

    root = tmp_path_factory.mktemp("originals")
    env = WirelessAccessEnv(2, 3, users_per_vertex=1)
    graph = env.true_graph()
    data = collect_transitions(env, None, episodes=20, horizon=3, domain_factors=[0.3, 0.7], rng=0)
    data.save(root / "data")
    graph.save(root / "graph.json")
    agents = [{"agent": i, "value_acr": value_acr(graph, i, kappa=1), "policy_acr": policy_acr(graph, i, kappa=1),
               "domain_acr": domain_acr(graph, i, kappa=1)} for i in range(env.n_agents)]
    (root / "acr.json").write_text(json.dumps({"kappa": 1, "agents": agents, "table": acr_table(graph, kappa=1)}))
    trainer = make_trainer("gsac", env, graph, source_factors=np.array([[0.3] * 6, [0.7] * 6]), rng=0)
    trainer.iterate(2)
    save_policy(PolicyBundle.from_trainer(trainer, algorithm="gsac"), root / "policy")
    config = config_from_dict(quick_config())
    (root / "config.toml").write_text(config_to_toml(config))
    log = ProgressLog(root / "log")
    for step in (0, 10, 20):
        log.add("train:gsac", "gsac", 0, "iteration", step, 0.1 * step, 0.01)
    return root


def _fresh(originals: Path, tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    if target.exists():
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    src = originals / name
    shutil.copytree(src, target) if src.is_dir() else shutil.copy(src, target)
    return target


def test_the_undamaged_originals_load(originals):
    from causalnet.data import Transitions
    from rl.persistence import load_policy

    assert len(Transitions.load(originals / "data")) == 120
    assert FactoredGraph.load(originals / "graph.json").spec.n_agents == 6
    assert len(read_acr(originals / "acr.json")["agents"]) == 6
    assert load_policy(originals / "policy").n_runs == 1
    assert load_config(originals / "config.toml").train.iterations == 3000
    assert [p["step"] for p in read_progress(originals / "log")] == [0, 10, 20]


# ------------------------------------------------------------------ one test per input kind
@pytest.mark.parametrize("kind", DAMAGE)
@FUZZ
@given(data=st.data(), which=st.sampled_from(["npz", "json"]))
def test_transitions_dataset(originals, tmp_path_factory, kind, data, which):
    from causalnet.data import Transitions

    work = tmp_path_factory.mktemp("tr")
    for suffix in (".npz", ".json"):
        shutil.copy(originals / f"data{suffix}", work / f"data{suffix}")
    target = work / f"data.{which}"
    invalid = False
    if which == "json" and kind in ("wrong type", "missing key", "extra key"):
        original = json.loads(target.read_text())
        obj, invalid = damage_json(original, kind, data)
        invalid = invalid or kind == "wrong type" or _required_removed(original, obj, ("spec",))
        target.write_text(json.dumps(obj))
    elif which == "npz" and kind in ("wrong type", "missing key", "extra key"):
        with np.load(target) as npz:
            arrays = {k: npz[k] for k in npz.files}
        name = data.draw(st.sampled_from(sorted(arrays)), label="array")
        if kind == "missing key":
            del arrays[name]
            invalid = name != "domain_factors"
        elif kind == "extra key":
            arrays["unexpected"] = np.zeros(3)
            invalid = True
        else:
            arrays[name] = arrays[name].astype(str)
            invalid = True
        np.savez(target, **arrays)
    else:
        raw, invalid = damage_bytes(target.read_bytes(), kind if kind == "truncated" else "bit-flipped", data)
        target.write_bytes(raw)
        invalid = invalid and which == "npz"          # a cut JSON may end on a closing brace
    _count("transitions (npz + json)", kind)
    check(lambda: Transitions.load(work / "data"), [f"data.{which}", "data.npz", "data.json"], invalid,
          f"data.{which} {kind}")


@pytest.mark.parametrize("kind", DAMAGE)
@FUZZ
@given(data=st.data())
def test_graph_json(originals, tmp_path_factory, kind, data):
    path = _fresh(originals, tmp_path_factory.mktemp("g"), "graph.json")
    if kind in ("truncated", "bit-flipped"):
        raw, invalid = damage_bytes(path.read_bytes(), kind, data)
        path.write_bytes(raw)
    else:
        original = json.loads(path.read_text())
        obj, invalid = damage_json(original, kind, data)
        invalid = invalid or kind == "wrong type" or _required_removed(original, obj, ("spec", "parents"))
        path.write_text(json.dumps(obj))
    _count("graph.json", kind)
    check(lambda: FactoredGraph.load(path), ["graph.json"], invalid, f"graph.json {kind}")


@pytest.mark.parametrize("kind", DAMAGE)
@FUZZ
@given(data=st.data())
def test_acr_json(originals, tmp_path_factory, kind, data):
    path = _fresh(originals, tmp_path_factory.mktemp("a"), "acr.json")
    if kind in ("truncated", "bit-flipped"):
        raw, invalid = damage_bytes(path.read_bytes(), kind, data)
        path.write_bytes(raw)
    else:
        obj, invalid = damage_json(json.loads(path.read_text()), kind, data)
        invalid = invalid or kind == "missing key"        # every key of acr.json is required
        path.write_text(json.dumps(obj))
    _count("acr.json", kind)
    check(lambda: read_acr(path), ["acr.json"], invalid, f"acr.json {kind}")


@pytest.mark.parametrize("kind", DAMAGE)
@FUZZ
@given(data=st.data(), which=st.sampled_from(["policy.json", "policy.npz", "graph.json"]))
def test_policy_bundle(originals, tmp_path_factory, kind, data, which):
    from rl.persistence import load_policy

    folder = _fresh(originals, tmp_path_factory.mktemp("p"), "policy")
    path = folder / which
    if which == "policy.json" and kind not in ("truncated", "bit-flipped"):
        obj, invalid = damage_json(json.loads(path.read_text()), kind, data)
        path.write_text(json.dumps(obj))
    elif which != "policy.json" and kind not in ("truncated", "bit-flipped"):
        if which == "graph.json":
            obj, _ = damage_json(json.loads(path.read_text()), kind, data)
            path.write_text(json.dumps(obj))
        else:
            with np.load(path) as npz:
                arrays = {k: npz[k] for k in npz.files}
            name = data.draw(st.sampled_from(sorted(arrays)), label="array")
            if kind == "missing key":
                del arrays[name]
            elif kind == "extra key":
                arrays["unexpected"] = np.zeros(2)
            else:
                arrays[name] = arrays[name].astype(str)
            np.savez(path, **arrays)
        invalid = True                                        # the checksum in policy.json guards both files
    else:
        raw, invalid = damage_bytes(path.read_bytes(), kind, data)
        path.write_bytes(raw)
        invalid = which != "policy.json" or invalid
    _count("policy bundle", kind)
    check(lambda: load_policy(folder), [which, "policy.json", str(folder)], invalid, f"{which} {kind}")


def _toml_damage(text: str, kind: str, data: st.DataObject) -> tuple[str, bool]:
    obj = tomllib.loads(text)
    if kind == "wrong type":
        paths = [p for p in _paths(obj) if len(p) == 2 and not isinstance(p[-1], int)]
        path = data.draw(st.sampled_from(paths), label="key")
        value = _get(obj, path)
        bad = {"x": 1} if not isinstance(value, dict) else 1
        obj[path[0]][path[1]] = bad
        return _to_toml(obj), True
    if kind == "missing key":                                  # every key has a default: still valid
        paths = [p for p in _paths(obj) if not isinstance(p[-1], int)]
        path = data.draw(st.sampled_from(paths), label="key")
        del _get(obj, path[:-1])[path[-1]]
        return _to_toml(obj), False
    sections = [k for k, v in obj.items() if isinstance(v, dict)]
    where = data.draw(st.sampled_from([None, *sections]), label="section")
    (obj if where is None else obj[where])["unexpected_key"] = 1
    return _to_toml(obj), True


def _to_toml(obj: dict[str, Any]) -> str:
    import tomli_w

    return tomli_w.dumps(obj)


@pytest.mark.parametrize("kind", DAMAGE)
@FUZZ
@given(data=st.data())
def test_toml_config(originals, tmp_path_factory, kind, data):
    path = _fresh(originals, tmp_path_factory.mktemp("c"), "config.toml")
    if kind in ("truncated", "bit-flipped"):
        raw, _ = damage_bytes(path.read_bytes(), kind, data)
        path.write_bytes(raw)
        invalid = False                   # every key is optional: a cut file may still be a valid config
    else:
        text, invalid = _toml_damage(path.read_text(), kind, data)
        path.write_text(text)
    _count("TOML config", kind)
    check(lambda: load_config(path), ["config.toml"], invalid, f"config.toml {kind}")


@pytest.mark.parametrize("kind", DAMAGE)
@FUZZ
@given(data=st.data())
def test_progress_log(originals, tmp_path_factory, kind, data):
    folder = _fresh(originals, tmp_path_factory.mktemp("l"), "log")
    path = folder / "progress.jsonl"
    lines = path.read_text().splitlines()
    if kind in ("truncated", "bit-flipped"):
        raw, _ = damage_bytes(path.read_bytes(), kind, data)
        path.write_bytes(raw)
        invalid = False                   # a cut last line is what a kill leaves: ignored by design
    else:
        row = data.draw(st.integers(0, len(lines) - 1), label="line")
        obj, _ = damage_json(json.loads(lines[row]), kind, data)
        required = ("stage", "method", "run", "step_kind", "step", "value")
        invalid = kind == "wrong type" or (kind == "missing key" and any(k not in obj for k in required))
        if kind == "wrong type":
            original = json.loads(lines[row])
            invalid = any(obj.get(k) != original.get(k) and k in (*required, "std_err") for k in original)
        lines[row] = json.dumps(obj)
        path.write_text("\n".join(lines) + "\n")
    _count("progress.jsonl", kind)
    check(lambda: read_progress(folder), ["progress.jsonl"], invalid, f"progress.jsonl {kind}")


def test_every_input_kind_and_damage_was_tried():
    # runs after the fuzz tests in file order; with -p no:randomly the counts are complete
    if not CASES:
        pytest.skip("run with the fuzz tests above")
    print("\nfuzz cases per input kind:", json.dumps(CASES, indent=1))
    assert len(CASES) == 6
    for kind, counts in CASES.items():     # hypothesis stops early when a small space is exhausted
        assert set(counts) == set(DAMAGE) and min(counts.values()) >= 3, (kind, counts)
