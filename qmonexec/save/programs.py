"""Finding the programs an exec: pipeline runs (dd, cat, the compressor) before QEMU is asked.

:func:`find_program` is re-exported by :mod:`qmonexec.save`.
"""

from __future__ import annotations

__all__ = ["find_program"]

import os
import shutil

from ..errors import InputError


def find_program(argv0: str, what: str) -> str:
    """Return the path of ``argv0`` as the shell would find it, or raise :class:`InputError`.

    We search our own ``PATH``; QEMU runs the pipeline with its environment,
    which is normally the same when both run as the same user.
    """
    if "/" in argv0:
        if os.path.isfile(argv0) and os.access(argv0, os.X_OK):
            return argv0
        raise InputError(f"the {what} {argv0!r} does not exist or is not executable", value=argv0)
    found = shutil.which(argv0)
    if found is None:
        package = {"xz": "xz-utils"}.get(argv0, argv0)
        raise InputError(
            f"the {what} {argv0!r} is not installed (not found on PATH): install it (Debian "
            f"package {package}) or choose another format", value=argv0)
    return found
