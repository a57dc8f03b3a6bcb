"""Fixtures for the QMP tests: real QEMU (from tests.qemu_support) and fake servers."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from ..qemu_support import qemu, qemu_factory
from .fake_server import FakeQMPServer, Script

__all__ = ["fake", "qemu", "qemu_factory"]


@pytest.fixture
def fake() -> Iterator[Callable[..., FakeQMPServer]]:
    """Fixture: ``fake(script, tcp=False) -> FakeQMPServer``; every server is closed at teardown."""
    servers: list[FakeQMPServer] = []

    def start(script: Script, *, tcp: bool = False) -> FakeQMPServer:
        server = FakeQMPServer(script, tcp=tcp)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()
