"""Helpers shared by the tests: system requirements that skip on a laptop and fail in CI."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: When set (``.ci/run`` sets it), a missing system package fails the test instead of skipping it.
REQUIRE_SYSTEM = os.environ.get("QMONEXEC_REQUIRE_SYSTEM") == "1"


def missing(reason: str) -> None:
    """Skip the current test for ``reason``, or fail it when system packages are required."""
    if REQUIRE_SYSTEM:
        pytest.fail(f"{reason} (QMONEXEC_REQUIRE_SYSTEM=1: .ci/run must install it)")
    pytest.skip(reason)


def require_program(name: str, package: str | None = None) -> str:
    """Return the absolute path of program ``name``, or skip/fail naming its Debian package."""
    path = shutil.which(name)
    if path is None:
        missing(f"{name} is not installed (Debian package {package or name})")
        raise AssertionError("unreachable")
    return path


#: Shells used for real round trips: (label, argv prefix before the -c string, program, package).
SHELLS: list[tuple[str, list[str], str, str]] = [
    ("sh", ["/bin/sh"], "sh", "dash"),
    ("dash", ["dash"], "dash", "dash"),
    ("bash", ["bash"], "bash", "bash"),
    ("bash-posix", ["bash", "--posix"], "bash", "bash"),
    ("busybox", ["busybox", "sh"], "busybox", "busybox"),
    ("mksh", ["mksh"], "mksh", "mksh"),
    ("ksh93", ["ksh93"], "ksh93", "ksh93u+m"),
    ("zsh", ["zsh"], "zsh", "zsh"),
    ("zsh-sh", ["zsh", "--emulate", "sh"], "zsh", "zsh"),
    ("yash", ["yash"], "yash", "yash"),
    ("posh", ["posh"], "posh", "posh"),
]


def shell_argv(label: str) -> list[str]:
    """Return the argv prefix for shell ``label`` (see :data:`SHELLS`), or skip/fail if missing."""
    for name, prefix, program, package in SHELLS:
        if name == label:
            path = require_program(program, package)
            return [path, *prefix[1:]]
    raise KeyError(label)
