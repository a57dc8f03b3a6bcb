"""Pytest fixtures for real QEMU VMs (:mod:`tests.helpers.qemu`), registered by tests/conftest.py.

``qemu``: one paused VM; ``qemu_factory``: as many as a test starts, with
extra arguments; ``loaded_vm``: VMs whose RAM holds known bytes (for saves
and restores that compare guest memory).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .qemu import QemuVM, start_qemu

__all__ = ["KNOWN_ADDR", "KNOWN_SIZE", "known_data", "loaded_vm", "qemu", "qemu_factory"]

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
def qemu_factory() -> Iterator[Callable[..., QemuVM]]:
    """Fixture: ``start(*extra_args, **start_qemu_kwargs) -> QemuVM``; every VM dies at teardown."""
    started: list[QemuVM] = []

    def factory(*extra_args: str, **kwargs: Any) -> QemuVM:
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
