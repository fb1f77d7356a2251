"""Run the pipeline's stages in order, skipping the ones a resumed run already finished."""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from causalnet_cli.pipeline.config import RunConfig
from causalnet_cli.pipeline.stages import PipelineContext, run_stage, stage_names
from causalnet_cli.pipeline.state import RunFolder

__all__ = ["RunSummary", "run_pipeline"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunSummary:
    """What :func:`run_pipeline` did.

    Attributes
    ----------
    folder : Path
        The run folder.
    config : RunConfig
        The configuration the run used (the saved one when resuming).
    ran, skipped : tuple of str
        Stages computed in this call, and stages reused from an earlier call.
    seconds : float
        Wall time of this call.
    """

    folder: Path
    config: RunConfig
    ran: tuple[str, ...]
    skipped: tuple[str, ...]
    seconds: float

    @property
    def report(self) -> Path:
        """Path of ``report.md``."""
        return self.folder / "report.md"


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run_pipeline(config: RunConfig | None, out: str | os.PathLike, *, resume: bool = False,
                 progress: bool = True, echo: Callable[[str], None] | None = None, force: bool = False,
                 bars: bool | None = None, executor: Any = None) -> RunSummary:
    """Run (or resume) the whole pipeline into the folder ``out``.

    Parameters
    ----------
    config : RunConfig or None
        The configuration; None only with ``resume=True`` (reuse the saved one).
    out : path
        Run folder. A new run needs a missing or empty folder.
    resume : bool
        Continue an interrupted run in ``out``: finished stages whose files are intact
        are skipped, the rest are run.
    progress : bool
        Stage messages (and, unless ``bars`` says otherwise, progress bars) on stderr.
    echo : callable, optional
        Where stage messages go (default stderr when ``progress``).
    force : bool
        A new run in a non-empty folder replaces its contents (default: refuse it).
    bars : bool, optional
        Progress bars; default: ``progress`` and stderr is a terminal (no bars in logs).
    executor : causalnet.backends.Backend, optional
        Backend that runs discovery's groups of agents (default: ``discovery.n_jobs``
        local processes). Results do not depend on it.

    Returns
    -------
    RunSummary
    """
    if config is None and not resume:
        raise ValueError("config is required for a new run (None is accepted only with resume=True)")
    folder = RunFolder(out)
    inputs = None
    if resume:
        config = folder.open_resume(config)
    else:
        folder.check_new(force=force)
        if config.env.kind in ("data", "pettingzoo"):   # read and check the user's inputs before writing
            from causalnet_cli.pipeline.own_system import prepare_inputs
            inputs = prepare_inputs(config)
        folder.open_new(config, force=force)
    say = echo if echo is not None else (_stderr if progress else (lambda text: None))
    if bars is None:
        bars = progress and sys.stderr.isatty()
    ctx = PipelineContext(config=config, folder=folder.path, progress=bool(bars), echo=lambda t: say(f"      {t}"),
                          inputs=inputs, executor=executor)
    names = stage_names(config)
    ran, skipped = [], []
    start = time.perf_counter()
    for k, name in enumerate(names, start=1):
        if not ran and folder.is_done(name):
            skipped.append(name)
            say(f"[{k}/{len(names)}] {name}: done in an earlier call, skipped")
            continue
        if not ran:
            folder.forget_from(names[k - 1:])  # later stages depend on this one: redo them all
        say(f"[{k}/{len(names)}] {name}")
        try:
            files, seconds = run_stage(name, ctx)
        except Exception as exc:   # Ctrl-C is reported by the command line (exit 130, resume hint)
            reason = f"failed ({type(exc).__name__})"
            _stderr(f"[{k}/{len(names)}] {name}: {reason}; the {len(skipped) + len(ran)} finished stage(s) are "
                    f"kept. Continue with: causalnet run --resume --out {folder.path}")
            raise
        folder.mark_done(name, files, seconds)
        ran.append(name)
        say(f"[{k}/{len(names)}] {name}: finished in {seconds:.1f} s")
    total = time.perf_counter() - start
    return RunSummary(folder.path, config, tuple(ran), tuple(skipped), total)
