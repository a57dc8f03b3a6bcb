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

    ``header`` is the (partial) header written to the temporary file beside
    the target, or ``None`` when nothing was written; the target itself is
    never touched by a failed save.  ``detail`` is the stage's own error
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
        #: The temporary file kept on failure (``keep_partial``), else ``None``.
        self.partial: str | bytes | None = None


class RestoreError(QmonexecError):
    """A restore failed after QEMU was asked to read the image; ``stage`` names the step.

    ``error_desc`` is QEMU's own reason (``query-migrate``'s ``error-desc``) when QEMU
    reported the failed load and kept running, else ``None``.
    """

    exit_code = 1

    def __init__(self, stage: str, message: str, *, error_desc: str | None = None) -> None:
        super().__init__(f"restore failed in stage {stage!r}: {message}")
        self.stage = stage
        #: ``message`` alone, without the stage.
        self.reason = message
        self.error_desc = error_desc


class VMStateError(InputError):
    """QEMU is in a state that does not allow the requested operation (``status`` holds it)."""

    def __init__(self, message: str, *, status: str) -> None:
        super().__init__(message, value=status)
        self.status = status
