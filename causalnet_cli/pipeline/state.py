"""Bookkeeping of a run folder: which stages finished, with which files, so ``--resume`` can skip them.

``DIR/run_state.json`` lists the finished stages in order, each with its wall time and
the SHA-256 of every file it wrote. A stage counts as finished on resume only when all
its files are still there, unchanged; the first stage that is not finished is run
again, and every later stage with it (their inputs may have changed). The state file
is rewritten atomically after each stage, so a crash or a kill at any moment leaves
either the old or the new state, never a torn one.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Iterable

from causalnet.errors import CausalnetError
from causalnet.io import atomic_write_json, atomic_write_text, file_sha256, read_json_object
from causalnet_cli.outputs import OutputPathError, check_out_dir, clear_out_dir
from causalnet_cli.pipeline.config import ConfigError, RunConfig, config_from_dict, config_to_dict, config_to_toml

__all__ = ["RunFolder", "RunFolderError", "STATE_FILE"]

logger = logging.getLogger(__name__)

STATE_FILE = "run_state.json"
STATE_FORMAT = "causalnet-run-state"
STATE_VERSION = 1
CONFIG_FILE = "config.json"


class RunFolderError(CausalnetError, ValueError):
    """The run folder cannot be used as asked (not empty without ``--resume``, no state to resume, ...)."""


class RunFolder:
    """The results folder of one run and its stage record.

    Parameters
    ----------
    path : folder of the run (created when needed)
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path).absolute()  # stage files are recorded relative to it
        self._stages: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------------ opening
    def check_new(self, *, force: bool = False) -> None:
        """Refuse a path that cannot hold a new run (a file in the way; a non-empty folder unless ``force``)."""
        if self.path.exists() and not self.path.is_dir():
            raise RunFolderError(f"--out: {self.path} exists and is a file, not a folder")
        if self.path.is_dir() and any(self.path.iterdir()) and not force:
            hint = (" (it holds a run: --resume continues it if it was interrupted, and skips it if finished)"
                    if (self.path / STATE_FILE).exists() else "")
            raise RunFolderError(f"--out: {self.path} is not empty{hint}; choose a new folder, add --force to "
                                 "replace its contents or --resume to continue it")
        try:
            check_out_dir(self.path, force=True)
        except OutputPathError as exc:
            raise RunFolderError(str(exc)) from None

    def open_new(self, config: RunConfig, *, force: bool = False) -> None:
        """Start a fresh run; refuse a folder that already holds files unless ``force`` (then empty it)."""
        self.check_new(force=force)
        if force and self.path.is_dir():
            clear_out_dir(self.path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._stages = {}
        atomic_write_json(self.path / CONFIG_FILE, config_to_dict(config))
        atomic_write_text(self.path / "config.toml", config_to_toml(config))
        self._write_state()

    def open_resume(self, config: RunConfig | None) -> RunConfig:
        """Reopen an interrupted run; return its configuration.

        ``config`` (from ``--config``/``--set``/``--quick``) may be None to reuse the saved
        one; if given it must equal the saved configuration, else the differing keys are
        named (resuming with other settings would mix results of two configurations).
        """
        state_path = self.path / STATE_FILE
        if not state_path.exists():
            raise RunFolderError(f"--resume: {self.path} holds no run to resume (no {STATE_FILE}); "
                                 "start a new run without --resume")
        state = read_json_object(state_path, error=RunFolderError, what="run state")
        if state.get("format") != STATE_FORMAT or state.get("version") != STATE_VERSION:
            raise RunFolderError(f"--resume: {state_path} is not a run state of this causalnet version")
        saved_data = read_json_object(self.path / CONFIG_FILE, error=RunFolderError, what="run configuration")
        try:
            saved = config_from_dict(saved_data)
        except ConfigError as exc:
            raise RunFolderError(f"--resume: the saved configuration is invalid: {exc}") from exc
        if config is not None and config != saved:
            diff = _differing_keys(config_to_dict(saved), config_to_dict(config))
            raise RunFolderError(f"--resume: the configuration differs from the interrupted run's in "
                                 f"{', '.join(diff)}; resume without --config/--set/--quick, or start a new run")
        self._stages = {name: dict(entry) for name, entry in state.get("stages", {}).items()}
        for stale in self.path.rglob(".*.tmp"):  # left by a kill in the middle of an atomic write
            stale.unlink()
        return saved

    # ------------------------------------------------------------------ stages
    def is_done(self, stage: str) -> bool:
        """True when ``stage`` finished and all its files are present and unchanged."""
        entry = self._stages.get(stage)
        if entry is None:
            return False
        for rel, sha in entry["files"].items():
            p = self.path / rel
            if not p.is_file() or file_sha256(p) != sha:
                logger.warning("stage %s: %s is missing or changed; running the stage again", stage, rel)
                return False
        return True

    def forget_from(self, stages: Iterable[str]) -> None:
        """Drop the record of ``stages`` (they will be run again)."""
        for name in stages:
            self._stages.pop(name, None)
        self._write_state()

    def mark_done(self, stage: str, files: Iterable[Path], seconds: float) -> None:
        """Record ``stage`` as finished with the files it wrote."""
        record = {}
        for f in files:
            p = Path(f)
            rel = p.relative_to(self.path) if p.is_absolute() else p
            record[rel.as_posix()] = file_sha256(self.path / rel)
        self._stages[stage] = {"seconds": round(float(seconds), 3), "files": record}
        self._write_state()

    def stage_seconds(self) -> dict[str, float]:
        """Wall time of every finished stage."""
        return {name: entry["seconds"] for name, entry in self._stages.items()}

    def _write_state(self) -> None:
        atomic_write_json(self.path / STATE_FILE, {"format": STATE_FORMAT, "version": STATE_VERSION,
                                                   "stages": self._stages})


def _differing_keys(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += _differing_keys(va, vb, f"{prefix}{key}.")
        elif va != vb:
            out.append(f"{prefix}{key} ({va!r} -> {vb!r})")
    return out
