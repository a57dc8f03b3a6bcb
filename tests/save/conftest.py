"""Fixtures for the save/restore tests: real QEMU VMs whose RAM holds known bytes."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from ..qemu_support import QemuVM, qemu, qemu_factory

__all__ = ["KNOWN_ADDR", "known_data", "loaded_vm", "qemu", "qemu_factory"]

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
