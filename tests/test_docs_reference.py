"""The reference pages stay in step with the code: every flag, every configuration key, every link."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from causalnet_cli.main import build_parser
from causalnet_cli.pipeline.config import config_from_dict, describe_config

DOCS = Path(__file__).resolve().parents[1] / "docs"
README = DOCS.parent / "README.md"


def _subcommands():
    parser = build_parser()
    action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return action.choices


def test_cli_reference_lists_every_command_and_flag():
    text = (DOCS / "cli.md").read_text()
    missing = []
    for name, sub in _subcommands().items():
        if f"## `causalnet {name}`" not in text:
            missing.append(f"section for {name}")
        for action in sub._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag != "--help" and f"`{flag}" not in text and f", {flag}" not in text:
                    missing.append(f"{name} {flag}")
    assert missing == []


def test_pipeline_page_documents_every_configuration_key():
    text = (DOCS / "pipeline.md").read_text()
    missing = [key for key, _, _ in describe_config() if f"| `{key}` |" not in text]
    assert missing == []


@pytest.mark.parametrize("page", ["quickstart.md", "pipeline.md"])
def test_toml_examples_are_valid_configurations(page):
    blocks = re.findall(r"```toml\n(.*?)```", (DOCS / page).read_text(), flags=re.S)
    for block in blocks:
        config_from_dict(tomllib.loads(block))   # raises ConfigError on a bad key or value
    if page == "quickstart.md":
        assert blocks, "the quickstart shows a configuration file"


def test_every_page_is_indexed_and_every_relative_link_resolves():
    index = (DOCS / "index.md").read_text()
    pages = sorted(p.name for p in DOCS.glob("*.md") if p.name != "index.md")
    assert [p for p in pages if f"]({p})" not in index] == []
    broken = []
    for page in [*DOCS.glob("*.md"), README]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.name} -> {target}")
    assert broken == []


def test_readme_starts_with_the_two_commands():
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S)
    assert "pip install . && causalnet run --out" in blocks[0]
    assert blocks[1].strip().endswith("pip install '.[test,ray]' && python -m pytest -q")


def test_api_page_names_every_public_symbol():
    import importlib
    import pkgutil

    text = (DOCS / "api.md").read_text()
    missing = []
    for package in ("causalnet", "rl", "analysis", "causalnet_cli.pipeline"):
        pkg = importlib.import_module(package)
        modules = [pkg] + [importlib.import_module(f"{package}.{m.name}")
                           for m in pkgutil.walk_packages(pkg.__path__) if "." not in m.name]
        for module in modules:
            for name in getattr(module, "__all__", []):
                if f"`{name}" not in text and f"{name}(" not in text:
                    missing.append(f"{module.__name__}.{name}")
    assert missing == []
