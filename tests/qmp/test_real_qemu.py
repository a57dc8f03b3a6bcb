"""QMPClient against a real QEMU 7.2+ (Debian package qemu-system-x86).

The VM is started paused (-S) with 64 MiB of RAM by the ``qemu`` fixture of
``tests.helpers.qemu`` and killed by pid at teardown.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from qmonexec.qmp import CommandError, MigrationStatus, QMPClient
from tests.helpers.qemu import QemuVM, start_qemu

pytestmark = pytest.mark.system

HEADER = b"QMXTEST!" * 512  # 4096 bytes standing in for a save header
QEVM_MAGIC = b"QEVM"


def save_uri(target: Path, offset: int) -> str:
    """The core's save string for ``target`` behind an ``offset``-byte header."""
    try:
        from qmonexec.render import render_save
        from qmonexec.spec import SaveSpec
    except ImportError:  # the core is not there yet: its documented default shape
        return (
            f"exec:{{ dd bs=4096 seek={offset // 4096} if=/dev/null && "
            f"dd ibs=65536 obs=1048576; }} 1<>{target}"
        )
    return render_save(SaveSpec(str(target), offset=offset))


def live_group_members(pgid: int) -> list[int]:
    """Pids of processes in process group ``pgid`` that are not zombies (Linux /proc)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def test_greeting_version_and_negotiation(qemu: QemuVM) -> None:
    with qemu.client(negotiate=False) as qmp:
        assert qmp.version >= (7, 2, 0)
        assert "oob" in qmp.capabilities
        assert qmp.greeting.package  # Debian fills it in
        with pytest.raises(CommandError) as info:
            qmp.execute("query-status")  # only qmp_capabilities works before negotiation
        assert info.value.error_class == "CommandNotFound"
        assert qmp.execute("qmp_capabilities") == {}
        assert qmp.execute("query-status")["status"] == "prelaunch"


def test_query_status_and_error_reply(qemu: QemuVM) -> None:
    with qemu.client() as qmp:
        status = qmp.execute("query-status")
        assert status["running"] is False and status["status"] == "prelaunch"
        with pytest.raises(CommandError) as info:
            qmp.execute("no-such-command")
        assert info.value.error_class == "CommandNotFound"
        assert "no-such-command" in info.value.desc
        with pytest.raises(CommandError) as info:
            qmp.execute("migrate", {"uri": "bogus:whatever"})
        assert info.value.error_class == "GenericError"
        assert qmp.query_migrate().status in {"none", "failed"}
        assert qmp.execute("query-name") == {}  # still usable


def test_events_with_migration_events_capability(qemu: QemuVM, tmp_path: Path) -> None:
    with qemu.client() as qmp:
        assert qmp.query_migrate() == MigrationStatus("none")
        qmp.set_capabilities({"events": True})
        assert qmp.get_capabilities()["events"] is True
        qmp.execute("cont")
        qmp.execute("stop")
        assert qmp.wait_event("RESUME", timeout=5).name == "RESUME"
        assert qmp.wait_event("STOP", timeout=5).timestamp is not None
        qmp.set_parameters({"max-bandwidth": 10 * 1024**3})
        target = tmp_path / "events.img"
        qmp.migrate(save_uri(target, 0))
        completed = qmp.wait_event(
            "MIGRATION", timeout=30, predicate=lambda e: e.data.get("status") == "completed"
        )
        assert completed.data == {"status": "completed"}
        assert qmp.query_migrate().succeeded


def test_exec_migration_of_paused_vm_into_file(qemu: QemuVM, tmp_path: Path) -> None:
    target = tmp_path / "vm.img"
    target.write_bytes(HEADER)
    progress: list[MigrationStatus] = []
    with qemu.client() as qmp:
        qmp.set_parameters({"max-bandwidth": 10 * 1024**3})
        assert qmp.get_parameters()["max-bandwidth"] == 10 * 1024**3
        qmp.migrate(save_uri(target, len(HEADER)))
        final = qmp.wait_migration(60, on_progress=progress.append, poll_interval=0.05)
        assert final.succeeded and progress[-1] is final
        assert final.total is not None and final.total >= 64 * 1024 * 1024
        assert qmp.execute("query-status")["status"] == "postmigrate"
    # "completed" can come before dd has flushed its last block (docs/reference.md, section 1):
    # wait until the stream's magic is on disk behind the untouched header.
    deadline = time.monotonic() + 10
    while True:
        data = target.read_bytes()
        if data[len(HEADER) : len(HEADER) + 4] == QEVM_MAGIC or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert data[: len(HEADER)] == HEADER
    assert data[len(HEADER) : len(HEADER) + 4] == QEVM_MAGIC
    assert "error" not in qemu.stderr_text().lower()


def test_tcp_and_existing_socket_reach_the_same_qemu(
    qemu_factory: Callable[..., QemuVM],
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    vm = qemu_factory("-qmp", f"tcp:127.0.0.1:{port},server=on,wait=off")
    with QMPClient(f"127.0.0.1:{port}", timeout=10) as qmp:
        assert qmp.execute("query-status")["status"] == "prelaunch"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(str(vm.qmp_path))
    with QMPClient(sock, timeout=10) as qmp:
        assert qmp.execute("query-status")["status"] == "prelaunch"


def test_stop_kills_the_vm_and_its_exec_children(tmp_path: Path) -> None:
    vm = start_qemu()
    try:
        with vm.client() as qmp:
            # a migration whose command never reads: sh stays alive inside QEMU's group
            qmp.migrate("exec:sleep 60", allow_unvalidated_exec=True)
    finally:
        vm.stop()
    assert vm.process.returncode is not None
    with pytest.raises(ProcessLookupError):
        os.kill(vm.pid, 0)
    # Killed children stay zombies until init reaps them: look for live members only.
    deadline = time.monotonic() + 5
    while live_group_members(vm.pid):
        assert time.monotonic() < deadline, (
            f"QEMU's children survived: {live_group_members(vm.pid)}"
        )
        time.sleep(0.02)


def test_idless_parse_errors_from_real_qemu_are_drained(
    qemu: QemuVM, caplog: pytest.LogCaptureFixture
) -> None:
    """Garbage on the wire makes QEMU send several id-less errors (docs/reference.md, section 2)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(str(qemu.qmp_path))
    with QMPClient(sock, timeout=10) as qmp:
        sock.sendall(b"}}]] garbage\xff\n")  # bypasses the client, as a broken peer would
        # The errors come before our reply; the reply follows within the drain window.
        with caplog.at_level("WARNING", logger="qmonexec.qmp.client"):
            assert qmp.execute("query-status")["status"] == "prelaunch"
        assert "id-less error" in caplog.text
        sock.sendall(b"}}]] garbage\xff\n")
        time.sleep(0.3)
        qmp.events(timeout=0.2)  # unsolicited id-less errors outside a command are dropped
        assert qmp.execute("query-name") == {}
