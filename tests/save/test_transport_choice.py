"""Choosing the transport from what a QEMU offers (no QEMU needed: the offers are built here,
or read from a scripted schema)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from qmonexec.errors import InputError
from qmonexec.qmp import QMPClient
from qmonexec.save.transport import Offer, check_request, choose, probe
from tests.helpers.fake_qmp import FakeQMPServer, Peer

OLD = Offer((7, 2, 22), passes_fds=True, file_transport=False, mapped_ram=False,
            direct_io=False)
NEW = Offer((10, 0, 2), passes_fds=True, file_transport=True, mapped_ram=True, direct_io=True)
EARLY_FILE = Offer((9, 0, 0), passes_fds=True, file_transport=True, mapped_ram=True,
                   direct_io=False)
TCP = Offer((10, 0, 2), passes_fds=False, file_transport=True, mapped_ram=True, direct_io=True)


@pytest.mark.parametrize(("offer", "compressed", "expected"), [
    (OLD, False, "fd"), (OLD, True, "fd"), (NEW, False, "file"), (NEW, True, "fd"),
    (EARLY_FILE, False, "fd"), (TCP, False, "exec"), (TCP, True, "exec"),
], ids=["7.2-raw", "7.2-zstd", "10.0-raw", "10.0-zstd", "9.0-raw", "tcp-raw", "tcp-zstd"])
def test_auto_picks_what_the_qemu_offers(offer: Offer, compressed: bool, expected: str) -> None:
    assert choose("auto", offer, compressed=compressed, profile_name="default").transport \
        == expected


def test_auto_over_tcp_says_why_it_uses_exec() -> None:
    choice = choose("auto", TCP, compressed=False, profile_name="default")
    assert choice.note is not None and "Unix socket" in choice.note


def test_fdset_file_needs_9_1_even_when_the_schema_lists_file() -> None:
    with pytest.raises(InputError, match=r"--transport file needs QEMU 9\.1"):
        choose("file", EARLY_FILE, compressed=False, profile_name="default")


@pytest.mark.parametrize("transport", ["fd", "file"])
def test_explicit_fd_transports_over_tcp_are_refused(transport: str) -> None:
    with pytest.raises(InputError, match="only a Unix QMP socket"):
        choose(transport, TCP, compressed=False, profile_name="default")


def test_libvirt_profile_means_exec_whatever_qemu_offers() -> None:
    assert choose("auto", NEW, compressed=False, profile_name="libvirt@1").transport == "exec"


def test_parallel_needs_mapped_ram_with_fdsets() -> None:
    assert choose("auto", NEW, compressed=False, profile_name="default",
                  parallel=2).parallel == 2
    with pytest.raises(InputError, match="mapped-ram"):
        choose("auto", OLD, compressed=False, profile_name="default", parallel=2)


def test_direct_io_needs_the_parameter() -> None:
    without = Offer((9, 1, 0), passes_fds=True, file_transport=True, mapped_ram=True,
                    direct_io=False)
    with pytest.raises(InputError, match=r"--direct-io needs QEMU 9\.1"):
        choose("auto", without, compressed=False, profile_name="default", parallel=2,
               direct_io=True)


@pytest.mark.parametrize(("kwargs", "hint"), [
    ({"transport": "tcp"}, "transport must be one of"),
    ({"transport": "file", "compressed": True}, "raw streams only"),
    ({"parallel": 2, "compressed": True}, "cannot be compressed"),
    ({"parallel": 2, "transport": "exec"}, "--parallel needs --transport file"),
    ({"profile_name": "libvirt", "transport": "fd"}, "--profile libvirt"),
    ({"direct_io": True}, "--direct-io applies"),
    ({"transport": "exec", "plain_name": False}, "--transport fd or auto"),
    ({"parallel": True}, "--parallel must be a number"),
])
def test_impossible_requests_are_refused_before_qemu_is_asked(kwargs: dict[str, object],
                                                              hint: str) -> None:
    arguments: dict[str, object] = {"transport": "auto", "compressed": False,
                                    "profile_name": "default", "parallel": None,
                                    "direct_io": False, "plain_name": True, **kwargs}
    transport = arguments.pop("transport")
    with pytest.raises(InputError, match=hint.replace(".", r"\.")):
        check_request(transport, **arguments)  # type: ignore[arg-type]


def _schema_server(fake: Callable[..., FakeQMPServer], schema: list[dict[str, Any]] | None,
                   major: int = 10, minor: int = 0) -> FakeQMPServer:
    def handler(peer: Peer, command: dict[str, Any]) -> bool:
        if command["execute"] != "query-qmp-schema":
            return False
        if schema is None:
            peer.error(command, "CommandNotFound", "The command query-qmp-schema has not "
                       "been found")
        else:
            peer.reply(command, schema)
        return True

    def script(peer: Peer) -> None:
        peer.greet({"QMP": {"version": {"qemu": {"major": major, "minor": minor, "micro": 2},
                                        "package": "fake"}, "capabilities": []}})
        peer.reply(peer.recv())  # qmp_capabilities
        peer.serve(handler)

    return fake(script)


def _incoming(members: list[str]) -> list[dict[str, Any]]:
    # As QEMU 10.0 answers: the argument type's name is masked, the command's is not.
    return [{"name": "migrate-incoming", "meta-type": "command", "arg-type": "156",
             "ret-type": "0"},
            {"name": "156", "meta-type": "object",
             "members": [{"name": m, "type": "bool"} for m in members]},
            {"name": "157", "meta-type": "object",
             "members": [{"name": "exit-on-error", "type": "bool"}]}]


@pytest.mark.parametrize(("schema", "expected"), [
    (_incoming(["uri", "channels", "exit-on-error"]), True),
    (_incoming(["uri", "channels"]), False),
    (None, False),
], ids=["argument", "elsewhere-only", "no-schema"])
def test_exit_on_error_is_read_from_migrate_incomings_own_arguments(
        schema: list[dict[str, Any]] | None, expected: bool,
        fake: Callable[..., FakeQMPServer]) -> None:
    server = _schema_server(fake, schema)
    with QMPClient(server.address, timeout=2) as qmp:
        assert probe(qmp).exit_on_error is expected
    asked = [m["execute"] for m in server.received_messages()]
    assert asked.count("query-qmp-schema") == 1


def test_below_9_1_the_schema_is_not_asked_for(fake: Callable[..., FakeQMPServer]) -> None:
    # Nothing it could list is usable there: file: with fdsets came in 9.1.
    server = _schema_server(fake, _incoming(["uri", "exit-on-error"]), major=9, minor=0)
    with QMPClient(server.address, timeout=2) as qmp:
        offer = probe(qmp)
    assert offer.version == (9, 0, 2) and not offer.fdset_file and not offer.exit_on_error
    assert "query-qmp-schema" not in [m["execute"] for m in server.received_messages()]
