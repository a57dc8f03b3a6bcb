"""How a save or restore fails: :class:`SaveError`, :class:`RestoreError`, :class:`VMStateError`.

Stage names used in :class:`SaveError`: ``target`` and ``header`` (our checks
and the header write), ``qemu`` (QEMU's side of the migration), ``compress``
and ``write`` (the pipeline), ``fsync`` and ``finalize`` (our last steps).
All three are re-exported by :mod:`qmonexec.save`.
"""

from __future__ import annotations

__all__ = ["RestoreError", "SaveError", "VMStateError"]

from ..errors import InputError, QmonexecError
from .image import ImageHeader


class SaveError(QmonexecError):
    """A save failed; ``stage`` names the step or pipeline stage that failed.

    ``header`` is the (partial) header left at byte 0 of the target, or
    ``None`` when nothing was written.  ``detail`` is the stage's own error
    text (its stderr) when there is one.
    """

    exit_code = 1

    def __init__(self, stage: str, message: str, *, detail: str = "",
                 header: ImageHeader | None = None, target: str | bytes | None = None) -> None:
        super().__init__(f"save failed in stage {stage!r}: {message}")
        self.stage = stage
        self.detail = detail
        self.header = header
        self.target = target


class RestoreError(QmonexecError):
    """A restore failed after QEMU was asked to read the image; ``stage`` names the step."""

    exit_code = 1

    def __init__(self, stage: str, message: str) -> None:
        super().__init__(f"restore failed in stage {stage!r}: {message}")
        self.stage = stage


class VMStateError(InputError):
    """QEMU is in a state that does not allow the requested operation (``status`` holds it)."""

    def __init__(self, message: str, *, status: str) -> None:
        super().__init__(message, value=status)
        self.status = status
