"""The dependency direction of the user's layout: causalnet -> (nothing of ours), rl -> causalnet,
analysis -> both; the command line sits on top. Checked on the import statements of every module."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "causalnet": {"rl", "analysis", "causalnet_cli"},
    "rl": {"analysis", "causalnet_cli"},
    "analysis": {"causalnet_cli"},
}


def _imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_respect_layering(package):
    offenders = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = _imported_top_levels(path) & FORBIDDEN[package]
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}, f"{package} must not import {sorted(FORBIDDEN[package])}: {offenders}"


def test_no_module_imports_torch():
    offenders = [str(p.relative_to(ROOT)) for pkg in ("causalnet", "rl", "analysis", "causalnet_cli", "benchmarks")
                 for p in (ROOT / pkg).rglob("*.py") if "torch" in _imported_top_levels(p)]
    assert offenders == []


def test_atomic_write_gives_readable_permissions(tmp_path):
    import os
    from causalnet.io import atomic_write_text
    path = atomic_write_text(tmp_path / "x.txt", "hello")
    mask = os.umask(0)
    os.umask(mask)
    assert path.read_text() == "hello"
    assert (path.stat().st_mode & 0o777) == (0o666 & ~mask)
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]
