"""Real QEMU, both versions: save and restore on each transport, byte-identical guest RAM.

``exec`` is the shell pipeline; ``fd`` hands QEMU the target (or a compressor's
pipe) with ``getfd``; ``file`` puts the target in an fdset (QEMU 9.1+);
``--parallel`` writes the mapped-ram layout with multifd channels (QEMU 9.1+).
What a QEMU cannot do is refused before anything is written.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from qmonexec.errors import InputError
from qmonexec.save import restore, save
from qmonexec.save.image import read_header
from tests.helpers.qemu import QemuVM, running_qemu
from tests.helpers.qemu_fixtures import KNOWN_ADDR, program_for
from tests.helpers.support import ROOT, missing, require_program

pytestmark = pytest.mark.system

RAM = 64 << 20
NEWER = ("10.0",)


def dump(vm: QemuVM, path: Path) -> bytes:
    """All guest RAM, via QMP pmemsave."""
    with vm.client() as qmp:
        qmp.execute("pmemsave", {"val": 0, "size": RAM, "filename": str(path)})
    return path.read_bytes()


def round_trip(loaded_vm: Callable[..., QemuVM], tmp_path: Path, **options: object) -> str:
    """Save a paused loaded VM with ``options``, restore it the same way, compare RAM.

    Returns the transport the save used.
    """
    source = loaded_vm()
    target = tmp_path / "vm.img"
    result = save(str(source.qmp_path), str(target), **options)  # type: ignore[arg-type]
    header = read_header(target)
    assert header.complete and header.transport == result.transport
    assert target.stat().st_size == result.file_size
    before = dump(source, tmp_path / "source.ram")
    destination = loaded_vm("-incoming", "defer")
    restored = restore(str(destination.qmp_path), str(target), then="pause",
                       transport=str(options.get("transport", "auto")))
    assert restored.transport == result.transport
    assert dump(destination, tmp_path / "destination.ram") == before
    return result.transport


@pytest.mark.parametrize("compress", ["raw", "gzip", "zstd"])
@pytest.mark.parametrize("transport", ["auto", "fd", "exec"])
def test_round_trip_on_each_transport(transport: str, compress: str, qemu_version: str,
                                      loaded_vm: Callable[..., QemuVM], tmp_path: Path) -> None:
    if compress != "raw":
        require_program(compress)
    used = round_trip(loaded_vm, tmp_path, transport=transport, compress=compress)
    if transport != "auto":
        assert used == transport
    elif compress == "raw" and qemu_version in NEWER:
        assert used == "file"  # add-fd + file:/dev/fdset/ID on QEMU 9.1+
    else:
        assert used == "fd"


def test_file_transport(qemu_version: str, loaded_vm: Callable[..., QemuVM],
                        tmp_path: Path) -> None:
    if qemu_version in NEWER:
        assert round_trip(loaded_vm, tmp_path, transport="file") == "file"
        return
    source = loaded_vm()
    with pytest.raises(InputError, match=r"--transport file needs QEMU 9\.1"):
        save(str(source.qmp_path), str(tmp_path / "vm.img"), transport="file")
    assert not (tmp_path / "vm.img").exists()


def test_parallel_mapped_ram(qemu_version: str, loaded_vm: Callable[..., QemuVM],
                             tmp_path: Path) -> None:
    if qemu_version not in NEWER:
        source = loaded_vm()
        with pytest.raises(InputError, match=r"--parallel needs QEMU 9\.1"):
            save(str(source.qmp_path), str(tmp_path / "vm.img"), parallel=2)
        assert not (tmp_path / "vm.img").exists()
        return
    assert round_trip(loaded_vm, tmp_path, parallel=2) == "file"
    header = read_header(tmp_path / "vm.img")
    assert header.layout == {"mapped_ram": True, "channels": 2}


def test_mapped_ram_image_is_refused_by_a_qemu_that_cannot_load_it(
        known_data: Path, tmp_path: Path) -> None:
    loader = ("-device", f"loader,file={known_data},addr={KNOWN_ADDR:#x},force-raw=on")
    target = tmp_path / "vm.img"
    with running_qemu(*loader, program=program_for("10.0")) as source:
        save(str(source.qmp_path), str(target), parallel=2)
    with running_qemu(*loader, "-incoming", "defer", program=program_for("7.2")) as old:
        with pytest.raises(InputError, match=r"mapped-ram layout.*QEMU 7\.2"):
            restore(str(old.qmp_path), str(target))
        with old.client() as qmp:
            assert qmp.query_migrate().status == "none"
    with (running_qemu(*loader, "-incoming", "defer", program=program_for("10.0")) as new,
          pytest.raises(InputError, match="only --transport file")):
        restore(str(new.qmp_path), str(target), transport="fd")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_tcp_qmp_falls_back_to_exec_and_says_so(loaded_vm: Callable[..., QemuVM],
                                                tmp_path: Path) -> None:
    port = _free_port()
    loaded_vm("-qmp", f"tcp:127.0.0.1:{port},server=on,wait=off")
    result = save(f"127.0.0.1:{port}", str(tmp_path / "vm.img"))
    assert result.transport == "exec" and result.verified
    assert result.note is not None and "Unix socket" in result.note
    assert read_header(tmp_path / "vm.img").transport == "exec"


def test_tcp_qmp_refuses_an_fd_transport(loaded_vm: Callable[..., QemuVM],
                                         tmp_path: Path) -> None:
    port = _free_port()
    source = loaded_vm("-qmp", f"tcp:127.0.0.1:{port},server=on,wait=off")
    with pytest.raises(InputError, match="only a Unix QMP socket"):
        save(f"127.0.0.1:{port}", str(tmp_path / "vm.img"), transport="fd")
    assert not (tmp_path / "vm.img").exists()
    with source.client() as qmp:
        assert qmp.query_migrate().status == "none"


def test_ctrl_c_during_a_restore_stops_the_destination(loaded_vm: Callable[..., QemuVM],
                                                       tmp_path: Path) -> None:
    # A decompressor that stalls keeps the load running until the interrupt.
    slow = tmp_path / "slow-gunzip"
    slow.write_text("#!/bin/sh\nsleep 60\nexec gzip -dc\n")
    slow.chmod(0o755)
    source = loaded_vm()
    target = tmp_path / "vm.img"
    save(str(source.qmp_path), str(target), compress="gzip")
    destination = loaded_vm("-incoming", "defer")
    code = ("import sys; from qmonexec.save import restore; from qmonexec.spec import "
            "Compression; from qmonexec.build import policy_for; c = Compression.custom("
            f"[{str(slow)!r}], decompress=[{str(slow)!r}]); restore(sys.argv[1], "
            "sys.argv[2], offset=65536, decompress=c, policy=policy_for(c))")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    process = subprocess.Popen([sys.executable, "-c", code, str(destination.qmp_path),
                                str(target)], stderr=subprocess.PIPE, env=env, text=True)
    try:
        deadline = time.monotonic() + 20
        while not [p for p in os.listdir("/proc") if p.isdigit() and _runs(p, str(slow))]:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.05)
        time.sleep(1.0)  # the decompressor starts just before migrate-incoming is sent
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "destination QEMU was stopped" in err
    assert destination.wait_exit(timeout=10) == 0


def _runs(pid: str, program: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return program.encode() in handle.read().split(b"\0")
    except OSError:
        return False


def test_rendered_exec_channels_save_and_restore(qemu_version: str,
                                                 loaded_vm: Callable[..., QemuVM],
                                                 tmp_path: Path) -> None:
    # What `qmonexec uri save|restore --format channels` prints, sent as it is (QEMU 8.2+).
    from qmonexec import monitor
    from qmonexec.build import restore_channel, save_channel
    from qmonexec.qmp import CommandError
    from qmonexec.spec import RestoreSpec, SaveSpec

    require_program("dd", "coreutils")
    target = tmp_path / "vm.img"
    target.write_bytes(b"H" * 65536)  # the caller's header, which the channel must keep
    save_command = monitor.migrate_exec_channel(save_channel(SaveSpec(str(target), 65536)))
    source = loaded_vm()
    with source.client() as qmp:
        qmp.set_parameters({"max-bandwidth": 1 << 40})
        if qemu_version not in NEWER:
            with pytest.raises(CommandError):  # QEMU 7.2 has no channels
                qmp.execute(save_command["execute"], save_command["arguments"])
            return
        qmp.execute(save_command["execute"], save_command["arguments"])
        assert qmp.wait_migration(timeout=60).status == "completed"
    time.sleep(0.5)  # dd's last block: a channel records no exit status
    assert target.read_bytes()[:65540] == b"H" * 65536 + b"QEVM"
    before = dump(source, tmp_path / "source.ram")
    destination = loaded_vm("-incoming", "defer")
    load = monitor.migrate_exec_channel(
        restore_channel(RestoreSpec(str(target), 65536)), incoming=True)
    with destination.client() as qmp:
        qmp.execute(load["execute"], load["arguments"])
        assert qmp.wait_migration(timeout=60).status == "completed"
    assert dump(destination, tmp_path / "destination.ram") == before


@pytest.fixture
def disk() -> Iterator[Path]:
    """A directory on the disk, not tmpfs (O_DIRECT is about the disk)."""
    import shutil
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="qmonexec-dio-", dir="/var/tmp"))
    try:
        kind = subprocess.run(["stat", "-f", "-c", "%T", str(path)], capture_output=True,
                              text=True, check=True).stdout.strip()
        if kind == "tmpfs":
            missing(f"/var/tmp is on tmpfs here ({path}), not on a disk")
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_parallel_with_direct_io_on_disk(qemu_version: str, loaded_vm: Callable[..., QemuVM],
                                         disk: Path) -> None:
    if qemu_version not in NEWER:
        source = loaded_vm()
        with pytest.raises(InputError, match="--parallel needs"):
            save(str(source.qmp_path), str(disk / "vm.img"), parallel=2, direct_io=True)
        return
    source = loaded_vm()
    target = disk / "vm.img"
    result = save(str(source.qmp_path), str(target), parallel=2, direct_io=True)
    assert result.transport == "file"
    assert read_header(target).layout == {"mapped_ram": True, "channels": 2}
    before = dump(source, disk / "source.ram")
    destination = loaded_vm("-incoming", "defer")
    restored = restore(str(destination.qmp_path), str(target), then="pause", direct_io=True)
    assert restored.transport == "file"
    assert dump(destination, disk / "destination.ram") == before


def test_mapped_ram_image_with_a_header_of_its_own_restores_with_offset_and_parallel(
        qemu_version: str, loaded_vm: Callable[..., QemuVM], tmp_path: Path) -> None:
    # No qmonexec header records the layout: --parallel says it.
    if qemu_version not in NEWER:
        pytest.skip("--parallel needs QEMU 9.1+")
    source = loaded_vm()
    target = tmp_path / "vm.img"
    result = save(str(source.qmp_path), str(target), header_bytes=b"mine", block_size=4096,
                  parallel=2)
    assert result.offset == 4096 and target.read_bytes()[:4] == b"mine"
    before = dump(source, tmp_path / "source.ram")
    destination = loaded_vm("-incoming", "defer")
    restore(str(destination.qmp_path), str(target), offset=4096, parallel=2, then="pause")
    assert dump(destination, tmp_path / "destination.ram") == before


def test_restore_direct_io_is_refused_for_an_image_without_the_mapped_ram_layout(
        loaded_vm: Callable[..., QemuVM], tmp_path: Path) -> None:
    source = loaded_vm()
    target = tmp_path / "vm.img"
    save(str(source.qmp_path), str(target))
    destination = loaded_vm("-incoming", "defer")
    with pytest.raises(InputError, match="--direct-io applies to images saved with --parallel"):
        restore(str(destination.qmp_path), str(target), direct_io=True)
    with destination.client() as qmp:
        assert qmp.query_migrate().status == "none"


def _open_flags(pid: int, fd: int) -> int:
    with open(f"/proc/{pid}/fdinfo/{fd}") as handle:
        fields = dict(line.split(":", 1) for line in handle if ":" in line)
    return int(fields["flags"].strip(), 8)


@pytest.mark.parametrize("direction", ["save", "restore"])
def test_direct_io_fdset_holds_an_o_direct_and_a_plain_descriptor(
        direction: str, qemu_version: str, qemu_factory: Callable[..., QemuVM],
        disk: Path) -> None:
    # QEMU opens /dev/fdset/ID once per channel with the flags it needs: the main channel
    # without O_DIRECT, the multifd channels with it; each takes the descriptor that matches.
    from qmonexec.save.fdstream import open_incoming, open_outgoing
    from qmonexec.save.transport import Choice

    if qemu_version not in NEWER:
        pytest.skip("--direct-io needs QEMU 9.1+")
    image = disk / "vm.img"
    image.write_bytes(bytes(1 << 20))
    vm = qemu_factory(*(("-incoming", "defer") if direction == "restore" else ()))
    choice = Choice("file", parallel=2, direct_io=True)
    with vm.client() as qmp:
        if direction == "save":
            fd = os.open(image, os.O_RDWR)
            try:
                stream = open_outgoing(qmp, choice, fd, 65536, None)
            finally:
                os.close(fd)
            mode = os.O_WRONLY
        else:
            stream = open_incoming(qmp, choice, str(image), 65536, None, mapped_ram=True)
            mode = os.O_RDONLY
        try:
            assert stream.uri == f"file:/dev/fdset/{stream.fdset},offset=65536"
            (fdset,) = [s for s in qmp.execute("query-fdsets")
                        if s["fdset-id"] == stream.fdset]
            fds = [entry["fd"] for entry in fdset["fds"]]
            flags = [_open_flags(vm.pid, fd) for fd in fds]
            assert sorted(bool(f & os.O_DIRECT) for f in flags) == [False, True]
            assert all(f & os.O_ACCMODE == mode for f in flags)
            assert {os.stat(f"/proc/{vm.pid}/fd/{fd}").st_ino for fd in fds} == \
                {image.stat().st_ino}
        finally:
            stream.close(qmp)
