"""The stage-status directory of a save: what each pipeline stage recorded, and who to blame.

Each stage of the stage-status form (docs/design.md) ends by creating
``NAME.ok`` or ``NAME.failed`` in a private status directory, with its stderr
in ``NAME.err``.  :class:`Stages` reads those markers; :func:`stage_error`
turns a failed stage into a :class:`~qmonexec.save.SaveError` naming it;
:func:`dd_bytes` reads dd's own byte count from the ``write`` stage's stderr.
"""

from __future__ import annotations

__all__ = ["STAGES", "StageState", "Stages", "blame", "dd_bytes", "stage_error"]

import contextlib
import os
import re
from dataclasses import dataclass
from typing import Literal

from ..vocabulary import STAGES, WRITE, Outcome, marker
from .errors import SaveError
from .procfs import pipeline_pids
from .target import parent_dir, show


@dataclass(frozen=True)
class StageState:
    """What one stage recorded: ``ok``, ``failed``, or nothing yet (``running``); its stderr."""

    name: str
    state: Literal["ok", "failed", "running"]
    err: str


class Stages:
    """The status directory and what each stage recorded in it."""

    def __init__(self, directory: str | bytes, names: tuple[str, ...]) -> None:
        # Kept as bytes, so a marker's path needs no str/bytes branch.
        self.directory = os.fsencode(directory)
        self.names = names

    def _path(self, name: str, outcome: Outcome) -> bytes:
        return os.path.join(self.directory, marker(name, outcome).encode())

    def read(self) -> list[StageState]:
        states = []
        for name in self.names:
            if os.path.exists(self._path(name, "failed")):
                state: Literal["ok", "failed", "running"] = "failed"
            elif os.path.exists(self._path(name, "ok")):
                state = "ok"
            else:
                state = "running"
            states.append(StageState(name, state, self.err(name)))
        return states

    def err(self, name: str) -> str:
        try:
            with open(self._path(name, "err"), "rb") as handle:
                return handle.read(64 << 10).decode("utf-8", "replace").strip()
        except OSError:
            return ""

    def culprit(self) -> StageState | None:
        """The failed stage to blame: the most downstream one.

        When a downstream stage dies, the stages feeding it fail too (broken
        pipe); when an upstream one dies, downstream stages just see the end of
        their input and succeed.  So the last failed stage is the cause.
        """
        return blame(self.read())

    def final_culprit(self) -> StageState | None:
        """:meth:`culprit`, but only once no stage still runs (the failure is final)."""
        states = self.read()
        return None if any(s.state == "running" for s in states) else blame(states)

    def alive(self) -> bool | None:
        """Whether any process of the pipeline still runs (``None``: cannot tell)."""
        pids = pipeline_pids(self.directory)
        return None if pids is None else bool(pids)


def blame(states: list[StageState]) -> StageState | None:
    """The most downstream failed stage in ``states`` (see :meth:`Stages.culprit`), or ``None``."""
    failed = [s for s in states if s.state == "failed"]
    return failed[-1] if failed else None


def dd_bytes(err: str) -> int | None:
    """The byte count of dd's last transfer statistics in ``err``, or ``None``."""
    counts = re.findall(r"^(\d+) bytes", err, flags=re.MULTILINE)
    return int(counts[-1]) if counts else None


_DD_STATISTICS = re.compile(r"^(\d+\+\d+ records (in|out)|\d+ bytes .*copied.*)$")


def _error_lines(err: str) -> str:
    """A stage's stderr without dd's transfer statistics, joined on one line."""
    lines = [line.strip() for line in err.splitlines()]
    kept = [line for line in lines if line and not _DD_STATISTICS.match(line)]
    return "; ".join(kept)


def stage_error(stage: StageState, argv: dict[str, tuple[str, ...]],
                target: str | bytes) -> SaveError:
    """The :class:`~qmonexec.save.SaveError` for the failed ``stage``, its stderr as detail."""
    return SaveError(stage.name, _describe_failure(stage, argv, target), detail=stage.err,
                     target=target)


def _describe_failure(stage: StageState, argv: dict[str, tuple[str, ...]],
                      target: str | bytes) -> str:
    """Why ``stage`` failed, in words.

    ``argv`` maps a stage name to its program's words; for ``write`` a full
    file system is named as the likely cause.
    """
    program = " ".join(argv.get(stage.name, ()))
    what = f"{stage.name} ({program})" if program else stage.name
    text = f"the {what} stage exited with a non-zero status"
    message = _error_lines(stage.err)
    if message:
        text += f": {message}"
    else:
        text += " and left no error text"
    if stage.name == WRITE:
        with contextlib.suppress(OSError):
            fs = os.statvfs(parent_dir(target))
            if fs.f_bavail == 0:
                text += f" (the file system holding {show(target)} is full)"
    return text
