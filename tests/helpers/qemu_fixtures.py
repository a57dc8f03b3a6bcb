"""Pytest fixtures for real QEMU VMs (:mod:`tests.helpers.qemu`), registered by tests/conftest.py.

``qemu``: one paused VM; ``qemu_factory``: as many as a test starts, with
extra arguments; ``loaded_vm``: VMs whose RAM holds known bytes (for saves
and restores that compare guest memory).

Every test using them runs once per QEMU version (``qemu_program``): the
system's QEMU 7.2 (Debian's ``qemu-system-x86``) and QEMU 10.0.2 unpacked from
bookworm-backports by ``.ci/qemu-backports``, whose wrapper's path comes from
``QMONEXEC_QEMU_BACKPORTS`` (else ``.qemu-backports/`` at the top of the
repository).  A missing one skips, or fails under ``QMONEXEC_REQUIRE_SYSTEM=1``.
``QMONEXEC_QEMU_VERSIONS=7.2`` (a comma-separated list) runs a subset.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .qemu import QEMU_PACKAGE, QEMU_PROGRAM, QemuVM, start_qemu
from .support import ROOT, missing, require_program

__all__ = [
    "KNOWN_ADDR",
    "KNOWN_SIZE",
    "QEMU_VERSIONS",
    "known_data",
    "loaded_vm",
    "qemu",
    "qemu_factory",
    "qemu_program",
    "qemu_version",
]

#: The QEMU versions every QEMU test runs on (labels; see :func:`program_for`).
QEMU_VERSIONS: tuple[str, ...] = tuple(
    v.strip() for v in os.environ.get("QMONEXEC_QEMU_VERSIONS", "7.2,10.0").split(",")
    if v.strip())


def program_for(version: str) -> str:
    """The QEMU binary for the version label ``version``, or skip/fail when it is missing."""
    if version == "7.2":
        return require_program(QEMU_PROGRAM, QEMU_PACKAGE)
    path = os.environ.get("QMONEXEC_QEMU_BACKPORTS") or str(
        ROOT / ".qemu-backports" / QEMU_PROGRAM)
    if not os.access(path, os.X_OK):
        missing(f"QEMU {version} is not unpacked at {path}: run .ci/qemu-backports and set "
                "QMONEXEC_QEMU_BACKPORTS to the path it prints")
    return path


@pytest.fixture(scope="session", params=QEMU_VERSIONS, ids=lambda v: f"qemu{v}")
def qemu_version(request: pytest.FixtureRequest) -> str:
    """The label of the QEMU version this test runs on (``7.2`` or ``10.0``)."""
    return str(request.param)


@pytest.fixture(scope="session")
def qemu_program(qemu_version: str) -> str:
    """The QEMU binary of :func:`qemu_version`."""
    return program_for(qemu_version)

#: Where the known bytes are loaded in guest RAM (16 MiB, far from the BIOS's areas).
KNOWN_ADDR = 0x1000000
#: How many known bytes: random, so compressors cannot make them vanish.
KNOWN_SIZE = 2 << 20


@pytest.fixture(scope="session")
def known_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A file of 2 MiB of reproducible random bytes."""
    path = tmp_path_factory.mktemp("known") / "known.bin"
    path.write_bytes(random.Random(5).randbytes(KNOWN_SIZE))
    return path


@pytest.fixture
def loaded_vm(qemu_factory: Callable[..., QemuVM], known_data: Path) -> Callable[..., QemuVM]:
    """``loaded_vm(*extra)``: a VM (``-S``, 64 MiB) whose RAM holds ``known_data`` at 16 MiB.

    Source and destination get the same machine options; pass ``"-incoming",
    "defer"`` for a destination.
    """

    def start(*extra: str) -> QemuVM:
        return qemu_factory("-device", f"loader,file={known_data},addr={KNOWN_ADDR:#x},"
                            "force-raw=on", *extra)

    return start


@pytest.fixture
def qemu_factory(qemu_program: str) -> Iterator[Callable[..., QemuVM]]:
    """Fixture: ``start(*extra_args, **start_qemu_kwargs) -> QemuVM``; every VM dies at teardown.

    The VMs run :func:`qemu_program` unless ``program=`` says otherwise.
    """
    started: list[QemuVM] = []

    def factory(*extra_args: str, **kwargs: Any) -> QemuVM:
        kwargs.setdefault("program", qemu_program)
        vm = start_qemu(*extra_args, **kwargs)
        started.append(vm)
        return vm

    try:
        yield factory
    finally:
        for vm in reversed(started):
            vm.stop()


@pytest.fixture
def qemu(qemu_factory: Callable[..., QemuVM]) -> QemuVM:
    """Fixture: one paused VM (``-S``) with a QMP socket, killed at teardown."""
    return qemu_factory()
