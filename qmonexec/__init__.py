"""qmonexec: build QEMU ``exec:`` migration commands, prove them safe, and run them.

The public names below are imported lazily, so ``import qmonexec`` (and the
command line) stays cheap until a feature is used.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it, most used first: build a validated URI, check a
# string, talk to QEMU, then the errors and the lower-level pieces.  The save workflow is
# ``qmonexec.save`` (``from qmonexec.save import save, restore``): a package, so its functions
# are not re-exported here under the same name.
_LAZY: dict[str, str] = {
    "save_uri": "qmonexec.build",
    "restore_uri": "qmonexec.build",
    "command_uri": "qmonexec.build",
    "SaveSpec": "qmonexec.spec",
    "RestoreSpec": "qmonexec.spec",
    "CommandSpec": "qmonexec.spec",
    "compression": "qmonexec.spec",
    "check": "qmonexec.shell",
    "Policy": "qmonexec.shell",
    "Verdict": "qmonexec.shell",
    "QMPClient": "qmonexec.qmp",
    "QmonexecError": "qmonexec.errors",
    "InputError": "qmonexec.errors",
    "UnsafeCommandError": "qmonexec.errors",
    "quote_word": "qmonexec.quoting",
    "quote_words": "qmonexec.quoting",
    "quote_hmp": "qmonexec.quoting",
    "check_qmp_text": "qmonexec.quoting",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'qmonexec' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
