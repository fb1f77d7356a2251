"""CLI harness: every registered sub-command, driven from the parser itself, with missing, malformed and
out-of-range arguments and unusable ``--out`` paths. Each bad invocation must exit 2 with exactly one
message line on stderr, no traceback, and leave no file behind.

The cases are generated from ``build_parser()``: a sub-command or flag added later is covered without
editing this file. Commands known here get a cheap valid baseline (so the tested flag is the only bad
input); unknown commands get placeholder values for their required arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
from pathlib import Path
from typing import Callable

import pytest

from causalnet_cli.main import build_parser, main

SMALL_ENV = ["--env", "synthetic", "--agents", "2"]
#: Flags whose values are paths the command writes: covered by the --out cases, not fed garbage.
WRITE_FLAGS = {"--out"}
#: Value that is no number and no valid name or path for any flag.
GARBAGE = "%%bad%%"


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _invoke(argv: list[str], cwd: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    old = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = main(argv)
            except SystemExit as exc:
                status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    finally:
        os.chdir(old)
    return status, out.getvalue(), err.getvalue()


def _tree(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): (p.stat().st_size if p.is_file() else -1)
            for p in sorted(folder.rglob("*"))}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """A tiny policy bundle and a tiny source dataset, for the commands that read them."""
    root = tmp_path_factory.mktemp("inputs")
    status, _, err = _invoke(["train", *SMALL_ENV, "--iterations", "2", "--eval-every", "0", "--eval-episodes", "2",
                              "--checkpoint-every", "0", "--no-progress", "--out", str(root / "train")], root)
    assert status == 0, err
    status, _, err = _invoke(["discover", *SMALL_ENV, "--trajectories", "30", "--no-progress", "--out",
                              str(root / "disc")], root)
    assert status == 0, err
    return {"policy": root / "train" / "policy", "data": root / "disc" / "data.npz", "root": root}


def _baselines(inputs: dict[str, Path]) -> dict[str, Callable[[Path], list[str]]]:
    """Valid, cheap invocations of the known commands (``out`` is a fresh path)."""
    return {
        "simulate": lambda out: ["--height", "2", "--width", "2", "--episodes", "4", "--avg-episodes", "4",
                                 "--avg-steps", "2", "--burn-in", "0"],
        "discover": lambda out: [*SMALL_ENV, "--trajectories", "20", "--no-progress", "--out", str(out)],
        "train": lambda out: [*SMALL_ENV, "--iterations", "2", "--eval-every", "0", "--eval-episodes", "2",
                              "--checkpoint-every", "0", "--no-progress", "--out", str(out)],
        "evaluate": lambda out: ["--policy", str(inputs["policy"]), "--episodes", "2"],
        "adapt": lambda out: ["--policy", str(inputs["policy"]), "--target", "0.5", "--source-data",
                              str(inputs["data"]), "--trajectories", "2", "--episodes", "2", "--out", str(out)],
        "run": lambda out: ["--quick", "--no-progress", "--out", str(out), "--set", "data.episodes=60",
                            "--set", "train.eval_points=2", "--set", "train.iterations=2", "--set", "train.runs=2",
                            "--set", "adapt.episodes=2"],
        "report": lambda out: [str(out)],
    }


def _generic_baseline(parser: argparse.ArgumentParser) -> Callable[[Path], list[str]]:
    """Placeholders for the required arguments of a command this file does not know."""
    def build(out: Path) -> list[str]:
        argv: list[str] = []
        for action in parser._actions:
            if not action.option_strings and action.dest != "help":
                argv.append(str(out.parent / "no-such-input"))
            elif action.required:
                value = str(out) if action.dest == "out" else str(out.parent / "no-such-input")
                argv += [action.option_strings[0], value]
        return argv
    return build


def _option(action: argparse.Action) -> str | None:
    longs = [s for s in action.option_strings if s.startswith("--")]
    return longs[0] if longs else None


def _takes_value(action: argparse.Action) -> bool:
    return action.nargs != 0 and not isinstance(action, (argparse._HelpAction, argparse._VersionAction))


def _is_int(action: argparse.Action) -> bool:
    return action.type is int or getattr(action.type, "__name__", "") in ("_optional_int",)


def _cases(parser: argparse.ArgumentParser) -> list[tuple[str, list[str]]]:
    """(kind, extra argv) of every bad value of every flag of ``parser``."""
    cases: list[tuple[str, list[str]]] = []
    for action in parser._actions:
        flag = _option(action)
        if flag is None or not _takes_value(action) or flag in WRITE_FLAGS:
            continue
        if action.choices is not None:
            cases.append(("malformed", [flag, "no-such-choice"]))
        elif action.type in (int, float) or _is_int(action):
            cases.append(("malformed", [flag, "not-a-number"]))
            cases.append(("out-of-range", [flag, "-7"]))
            if action.type is float:
                cases += [("out-of-range", [flag, "nan"]), ("out-of-range", [flag, "-1e300"])]
        else:
            cases.append(("malformed", [flag, GARBAGE]))
            cases.append(("malformed", [flag, ""]))
    return cases


def _check_failure(status: int, out: str, err: str, where: str) -> None:
    assert status == 2, f"{where}: exit {status}, stderr {err!r}"
    assert "Traceback" not in err and "Traceback" not in out, f"{where}: {err}"
    lines = err.splitlines()
    assert len(lines) == 1, f"{where}: {len(lines)} stderr lines: {err!r}"
    assert lines[0].startswith("causalnet") and ": error: " in lines[0], f"{where}: {lines[0]!r}"


COUNTS: dict[str, int] = {}


def test_help_of_the_command_and_of_every_subcommand(tmp_path):
    status, out, err = _invoke(["--help"], tmp_path)
    assert status == 0 and out.startswith("usage: causalnet") and err == ""
    subs = _subcommands()
    assert {"simulate", "discover", "train", "evaluate", "adapt", "run", "report"} <= set(subs)
    for name, parser in subs.items():
        assert name in out, f"{name} missing from causalnet --help"
        status, text, err = _invoke([name, "--help"], tmp_path)
        assert status == 0 and err == "", (name, err)
        assert text.startswith(f"usage: causalnet {name}")
        for action in parser._actions:                        # every flag is described
            for flag in action.option_strings:
                assert flag in text, (name, flag)
    assert _tree(tmp_path) == {}


def test_missing_arguments(tmp_path):
    for name, parser in _subcommands().items():
        required = [a for a in parser._actions if a.required or (not a.option_strings and a.dest != "help")]
        if not required:
            continue
        status, out, err = _invoke([name], tmp_path)
        _check_failure(status, out, err, f"{name} (no arguments)")
        assert "required" in err, err
        COUNTS["missing"] = COUNTS.get("missing", 0) + 1
    status, out, err = _invoke([], tmp_path)
    _check_failure(status, out, err, "causalnet (no command)")
    status, out, err = _invoke(["no-such-command"], tmp_path)
    _check_failure(status, out, err, "causalnet no-such-command")
    assert _tree(tmp_path) == {}


def test_malformed_and_out_of_range_values(tmp_path, inputs):
    work = tmp_path / "work"
    work.mkdir()
    known = _baselines(inputs)
    failures = []
    for name, parser in _subcommands().items():
        baseline = known.get(name) or _generic_baseline(parser)
        for kind, extra in _cases(parser):
            out = work / "new-out"
            argv = [name, *baseline(out), *extra]
            status, stdout, err = _invoke(argv, work)
            try:
                _check_failure(status, stdout, err, " ".join(argv[:1] + extra))
                assert extra[0] in err, f"{name} {extra}: the message does not name {extra[0]}: {err!r}"
                assert _tree(work) == {}, f"{name} {extra} left files: {_tree(work)}"
            except AssertionError as exc:
                failures.append(str(exc))
                for p in sorted(work.rglob("*"), reverse=True):
                    p.rmdir() if p.is_dir() else p.unlink()
            COUNTS[kind] = COUNTS.get(kind, 0) + 1
    assert failures == [], "\n".join(failures)
    assert COUNTS["malformed"] > 50 and COUNTS["out-of-range"] > 30


def test_unusable_out_paths(tmp_path, inputs):
    known = _baselines(inputs)
    work = tmp_path / "work"
    work.mkdir()
    (work / "afile.txt").write_text("keep")
    (work / "full").mkdir()
    (work / "full" / "mine.txt").write_text("keep")
    before = _tree(work)
    tried = 0
    for name, parser in _subcommands().items():
        action = next((a for a in parser._actions if "--out" in a.option_strings), None)
        if action is None:
            continue
        writes_folder = action.metavar == "DIR"
        bad = [work / "afile.txt" / "sub", work / "afile.txt" / "a" / "b"]
        bad += [work / "full"] if writes_folder else [work / "full", work]
        if writes_folder:
            bad.append(work / "afile.txt")
        for out in bad:
            base = (known.get(name) or _generic_baseline(parser))(out)
            argv = [name, *base]
            if "--out" not in argv:
                argv += ["--out", str(out)]
            status, stdout, err = _invoke(argv, work)
            _check_failure(status, stdout, err, f"{name} --out {out}")
            assert "--out" in err, err
            assert _tree(work) == before, f"{name} --out {out} changed files"
            tried += 1
    COUNTS["unusable --out"] = tried
    assert tried >= 15


def test_a_real_process_prints_no_traceback(tmp_path):
    """The in-process harness above, spot-checked through a real interpreter (stderr as the user sees it)."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(root))
    (tmp_path / "f").write_text("x")
    for argv in (["train", "--iterations", "x", "--out", "o"], ["run", "--out", "f/sub"],
                 ["simulate", "--out", "."], ["discover", "--data", "f", "--out", "o"]):
        proc = subprocess.run([sys.executable, "-m", "causalnet_cli.main", *argv], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)
        _check_failure(proc.returncode, proc.stdout, proc.stderr, " ".join(argv))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]
