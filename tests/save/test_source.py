"""Real QEMU: the header records the source VM, and a restore uses what it records.

The run state comes back as saved (paused in, paused out; running in,
running out) without ``then``; a destination with another machine type or
RAM size is refused before anything is loaded; a load QEMU rejects is
reported with QEMU's own words from its stderr.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from qmonexec.qmp import QMPClient, Timeout
from qmonexec.save import RestoreError, VMStateError, restore, save
from qmonexec.save.cmdline import REDACTED
from qmonexec.save.destination import MismatchError
from qmonexec.save.image import read_header
from tests.helpers.cli import cli
from tests.helpers.qemu import QEMU_PROGRAM, QemuVM, start_qemu
from tests.helpers.unquote import split_words
from tests.save.test_roundtrip import dump

pytestmark = pytest.mark.system


def versioned_pc(vm: QemuVM) -> str:
    """The machine type QEMU's ``pc`` alias names (``pc-i440fx-7.2`` on 7.2)."""
    with vm.client() as qmp:
        return next(str(m["name"]) for m in qmp.execute("query-machines")
                    if m.get("alias") == "pc")


def status_of(vm: QemuVM) -> str:
    with vm.client() as qmp:
        status: str = qmp.execute("query-status")["status"]
        return status


def test_a_paused_guest_comes_back_paused(loaded_vm: Callable[..., QemuVM],
                                          tmp_path: Path) -> None:
    source = loaded_vm()  # -S: paused before it ever ran ("prelaunch")
    saved_as = status_of(source)
    target = tmp_path / "vm.img"
    save(str(source.qmp_path), str(target))
    before = dump(source, tmp_path / "source.ram")
    destination = loaded_vm("-incoming", "defer")
    result = restore(str(destination.qmp_path), str(target))
    assert result.vm_status == saved_as == status_of(destination) == "prelaunch"
    assert dump(destination, tmp_path / "destination.ram") == before


def test_a_running_guest_comes_back_running(loaded_vm: Callable[..., QemuVM],
                                            tmp_path: Path) -> None:
    source = loaded_vm()
    with source.client() as qmp:
        qmp.execute("cont")
    target = tmp_path / "vm.img"
    save(str(source.qmp_path), str(target))
    destination = loaded_vm("-incoming", "defer")
    result = restore(str(destination.qmp_path), str(target))
    assert result.vm_status == "running" and status_of(destination) == "running"


def test_then_overrides_the_saved_state(loaded_vm: Callable[..., QemuVM],
                                        tmp_path: Path) -> None:
    source = loaded_vm()
    target = tmp_path / "vm.img"
    save(str(source.qmp_path), str(target))
    destination = loaded_vm("-incoming", "defer")
    assert restore(str(destination.qmp_path), str(target), then="resume").vm_status == "running"


def test_the_header_records_the_source(loaded_vm: Callable[..., QemuVM],
                                       tmp_path: Path) -> None:
    source = loaded_vm("-object", "secret,id=sec0,data=hunter2,format=raw")
    target = tmp_path / "vm.img"
    save(str(source.qmp_path), str(target))
    recorded = read_header(target).source
    assert recorded is not None
    assert recorded["status"] == "prelaunch" and recorded["running"] is False
    assert recorded["machine"] == versioned_pc(source)  # "pc" resolved to its versioned name
    assert recorded["machine"].startswith("pc-i440fx-")
    assert recorded["ram_size"] == 64 << 20
    with source.client() as qmp:
        assert recorded["qemu_version"] == ".".join(map(str, qmp.version))
    argv = recorded["argv"]
    assert argv is not None and Path(argv[0]).name == QEMU_PROGRAM
    assert f"secret,id=sec0,data={REDACTED},format=raw" in argv
    assert "hunter2" not in target.read_bytes()[:65536].decode("ascii", "replace")
    expected = [a if "hunter2" not in a else f"secret,id=sec0,data={REDACTED},format=raw"
                for a in source.argv[1:]]
    # A wrapper script (QEMU 10.0 here) may put options of its own first.
    assert argv[len(argv) - len(expected):] == expected


def test_no_cmdline_records_no_argv(loaded_vm: Callable[..., QemuVM], tmp_path: Path) -> None:
    source = loaded_vm()
    target = tmp_path / "vm.img"
    save(str(source.qmp_path), str(target), record_cmdline=False)
    recorded = read_header(target).source
    assert recorded is not None and recorded["argv"] is None and recorded["ram_size"] == 64 << 20


@pytest.mark.parametrize(("extra", "what", "saved", "found"), [
    (("-m", "128"), "RAM size", 64 << 20, 128 << 20),
    (("-machine", "pc-i440fx-7.1"), "machine type", None, "pc-i440fx-7.1"),
], ids=["ram", "machine"])
def test_a_mismatched_destination_is_refused_before_loading(
        extra: tuple[str, ...], what: str, saved: object, found: object,
        loaded_vm: Callable[..., QemuVM], tmp_path: Path) -> None:
    source = loaded_vm()
    saved = versioned_pc(source) if saved is None else saved  # the source's own machine
    target = tmp_path / "vm.img"
    save(str(source.qmp_path), str(target))
    destination = loaded_vm(*extra, "-incoming", "defer")
    with pytest.raises(MismatchError) as caught:
        restore(str(destination.qmp_path), str(target))
    assert caught.value.differences == [(what, saved, found)]
    assert repr(saved) in str(caught.value) and repr(found) in str(caught.value)
    assert "force=True" in str(caught.value)
    with destination.client() as qmp:
        assert qmp.query_migrate().status == "none"  # nothing was sent to QEMU
    assert status_of(destination) == "inmigrate"


def _rejected_load(loaded_vm: Callable[..., QemuVM], tmp_path: Path
                   ) -> tuple[QemuVM, RestoreError]:
    """Save a 64 MiB guest, force its load into a 128 MiB destination (QEMU refuses it)."""
    source = loaded_vm()
    target = tmp_path / "vm.img"
    save(str(source.qmp_path), str(target))
    destination = loaded_vm("-m", "128", "-incoming", "defer")
    with pytest.raises(RestoreError) as caught:
        restore(str(destination.qmp_path), str(target), force=True)
    return destination, caught.value


def _stderr_lines(vm: QemuVM) -> list[str]:
    return [line.strip() for line in vm.stderr_text().splitlines() if line.strip()]


def test_a_rejected_load_on_qemu_7_2_quotes_its_stderr_after_it_exits(
        qemu_version: str, loaded_vm: Callable[..., QemuVM], tmp_path: Path) -> None:
    if qemu_version != "7.2":
        pytest.skip("QEMU 9.1+ is asked to keep running (exit-on-error off)")
    destination, error = _rejected_load(loaded_vm, tmp_path)
    message = str(error)
    assert "exited while loading" in message and "stderr" in message
    assert _stderr_lines(destination)[-1] in message
    assert error.error_desc is None
    assert destination.wait_exit(timeout=10) != 0


def test_a_rejected_load_on_qemu_9_1_keeps_qemu_running_and_names_its_reason(
        qemu_version: str, loaded_vm: Callable[..., QemuVM], tmp_path: Path) -> None:
    if qemu_version == "7.2":
        pytest.skip("QEMU 7.2 has no exit-on-error: it exits on a failed load")
    destination, error = _rejected_load(loaded_vm, tmp_path)
    message = str(error)
    with destination.client() as qmp:  # QEMU still answers
        migration = qmp.query_migrate()
        status = qmp.execute("query-status")["status"]
    assert migration.status == "failed" and migration.error_desc
    assert error.error_desc == migration.error_desc and migration.error_desc in message
    # QEMU's detailed reason (the RAM block size it found) is only on its stderr.
    assert all(line in message for line in _stderr_lines(destination))
    assert any("Size mismatch" in line for line in _stderr_lines(destination))
    assert status == "inmigrate" and f"still running (status {status})" in message
    assert "-incoming defer" in message and destination.process.poll() is None


def test_after_a_rejected_load_qemu_9_1_refuses_another_stream(
        qemu_version: str, loaded_vm: Callable[..., QemuVM], tmp_path: Path) -> None:
    # What the error tells the user to do (start a new QEMU) is what QEMU leaves possible.
    from qmonexec.qmp import CommandError

    if qemu_version == "7.2":
        pytest.skip("QEMU 7.2 has no exit-on-error: it exits on a failed load")
    destination, _ = _rejected_load(loaded_vm, tmp_path)
    with destination.client() as qmp, pytest.raises(CommandError, match="already"):
        qmp.migrate_incoming(f"exec:dd if={tmp_path / 'vm.img'} bs=65536 skip=1")
    with pytest.raises(VMStateError, match="start a new one with -incoming defer"):
        restore(str(destination.qmp_path), str(tmp_path / "vm.img"), force=True)


def test_a_greeting_timeout_names_the_one_client_rule(qemu: QemuVM) -> None:
    holder = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    holder.connect(str(qemu.qmp_path))
    try:
        assert holder.recv(4096).startswith(b'{"QMP"')
        with pytest.raises(Timeout, match="one client at a time"):
            QMPClient(str(qemu.qmp_path), connect_timeout=0.5).connect()
    finally:
        holder.close()


def test_inspect_cmdline_starts_a_destination_that_restore_loads(
        loaded_vm: Callable[..., QemuVM], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    source = loaded_vm()
    target = tmp_path / "vm.img"
    save(str(source.qmp_path), str(target))
    before = dump(source, tmp_path / "source.ram")
    status, out, err = cli(capsys, "inspect", "--cmdline", str(target))
    assert status == 0, err
    argv = [os.fsdecode(word) for word in split_words(out.strip())]
    assert argv[-3:] == ["-S", "-incoming", "defer"] and "-qmp" not in argv
    destination = start_qemu(*argv[1:], program=argv[0], base_args=())
    try:
        restore(str(destination.qmp_path), str(target))
        assert dump(destination, tmp_path / "destination.ram") == before
    finally:
        destination.stop()


def test_inspect_shows_the_source(loaded_vm: Callable[..., QemuVM], tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    source = loaded_vm()
    target = tmp_path / "vm.img"
    save(str(source.qmp_path), str(target), record_cmdline=False)
    status, out, _ = cli(capsys, "inspect", str(target))
    assert status == 0
    assert "source_state   paused (prelaunch)" in out
    assert f"source_machine {versioned_pc(source)}" in out
    assert "source_ram     67108864" in out
    assert "source_argv    not recorded" in out
    status, _, err = cli(capsys, "inspect", "--cmdline", str(target))
    assert status == 2 and "records no command line" in err
