"""Save a VM into a file behind a header, and restore it: the workflow behind ``qmonexec save``.

The public names, most used first::

    from qmonexec.save import save, restore, SaveError, RestoreError, VMStateError

One module per job: :mod:`.save` and :mod:`.restore` (the two workflows),
:mod:`.plan` (every input checked once, into a frozen plan), :mod:`.image`
(the header format), :mod:`.target` (the file and its private directory),
:mod:`.programs` (dd and the compressor on ``PATH``), :mod:`.stages` (the
stage-status markers), :mod:`.waits` (waiting on QEMU and the pipeline),
:mod:`.qemu` (QEMU commands around a save: connect, cancel, the VM
afterwards), :mod:`.progress`, :mod:`.procfs` and :mod:`.errors`.
See docs/save-restore.md.
"""

from __future__ import annotations

from ..vocabulary import STAGES
from .errors import RestoreError, SaveError, VMStateError
from .image import ImageError, ImageHeader, IncompleteImageError, read_header
from .plan import DEFAULT_BANDWIDTH
from .programs import find_program
from .progress import Progress
from .restore import RestoreResult, restore
from .save import SaveResult, save

__all__ = [
    "DEFAULT_BANDWIDTH",
    "STAGES",
    "ImageError",
    "ImageHeader",
    "IncompleteImageError",
    "Progress",
    "RestoreError",
    "RestoreResult",
    "SaveError",
    "SaveResult",
    "VMStateError",
    "find_program",
    "read_header",
    "restore",
    "save",
]
